"""ActivationUnit: ReLU, leaky ReLU, clip and absolute value, element-wise, then the output
casts."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Value

from rtlflow.rtl.arith import Cast, Operator, Term, constant_multiply, fit, resolve_sign
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages, cross_terms, start_terms

KINDS = ("relu", "leaky_relu", "clip", "abs")


class ActivationUnit(Unit):
    """``y_i = cast(f(x_i))`` with f one of:

    - ``relu``: ``max(x, 0)``;
    - ``leaky_relu``: ``x << alpha_shift`` when ``x >= 0``, else ``x * alpha`` (alpha has
      ``alpha_shift`` fractional bits, so both branches share one LSB);
    - ``clip``: ``min(max(x, low), high)`` (raw bounds in the input's LSB);
    - ``abs``: ``|x|``, the negation chosen by the sign.

    Latency: the registers chosen; throughput 1 per cycle.
    """

    def __init__(
        self,
        *,
        kind: str,
        input_shape,
        count: int,
        casts: tuple[Cast, ...],
        alpha: int = 0,
        alpha_shift: int = 0,
        low: int = 0,
        high: int = 0,
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind == "clip" and low > high:
            raise ValueError("clip needs low <= high")
        self.kind, self.casts = kind, tuple(casts)
        self.alpha, self.alpha_shift, self.low, self.high = alpha, alpha_shift, low, high
        super().__init__(
            input_shape=input_shape,
            input_count=count,
            output_shape=casts[-1].shape,
            output_count=count,
            registers=registers,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        xs = start_terms(pipeline, inputs)
        if self.kind == "leaky_relu":
            # step 1: the negative branch's product; step 2: choose by the sign
            products, operators = [], []
            for x in xs:
                product, used = constant_multiply(x, self.alpha)
                product, negation = resolve_sign(product or Term.constant(0))
                products.append(product)
                operators += used + negation
            carried = cross_terms(pipeline, "multiply", operators, xs + products)
            xs, products = carried[: len(xs)], carried[len(xs) :]
            results, operators = [], []
            for x, product in zip(xs, products, strict=True):
                positive = x.value << self.alpha_shift
                low = min(product.low, max(x.low, 0) << self.alpha_shift, 0)
                high = max(product.high, max(x.high, 0) << self.alpha_shift, 0)
                value = Mux(x.value < 0, product.value, positive)
                results.append(Term(fit(value, low, high), low, high))
                operators.append(("select", results[-1].width, 2))
            terms = cross_terms(pipeline, "select", operators, results)
        elif self.kind == "abs":
            terms, operators = [], []
            for x in xs:
                low = 0 if x.low <= 0 <= x.high else min(abs(x.low), abs(x.high))
                high = max(abs(x.low), abs(x.high))
                value = Mux(x.value < 0, -x.value, x.value) if x.low < 0 else x.value
                terms.append(Term(fit(value, low, high), low, high))
                if x.low < 0:  # a negation (carry chain) and a select on the sign
                    operators += [("add", x.width + 1, 0), ("select", x.width + 1, 2)]
            terms = cross_terms(pipeline, "abs", operators, terms)
        else:
            terms, operators = [], []
            for x in xs:
                term, used = self._clamp(x)
                terms.append(term)
                operators += used
            terms = cross_terms(pipeline, self.kind, operators, terms)
        return [term.value for term in cast_stages(pipeline, terms, self.casts)]

    def _clamp(self, x: Term) -> tuple[Term, list[Operator]]:
        low, high = (0, None) if self.kind == "relu" else (self.low, self.high)
        value, new_low, new_high = x.value, x.low, x.high
        operators: list[Operator] = []
        if low is not None and x.low < low:
            value, new_low = Mux(value < low, low, value), low
            # clamping at zero is an AND of every bit with the inverted sign
            operators.append(("relu" if low == 0 else "saturate", x.width, 0))
        if high is not None and x.high > high:
            value, new_high = Mux(value > high, high, value), high
            operators.append(("saturate", x.width, 0))
        new_high = max(new_high, new_low)
        return Term(fit(value, new_low, new_high), new_low, new_high), operators

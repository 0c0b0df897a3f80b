"""LayerNormUnit: layer normalisation over rows of n elements, one table, no division.

Per row (see ``fxp.layer_norm``): ``S = sum x`` (adder tree), ``d_j = n x_j - S`` (a constant
multiply and a subtraction: the centred values, exact), ``s = sum d_j^2`` (multipliers and an
adder tree), ``r`` = 1/sqrt of s in block floating point (``rtlflow.numerics.normalization``:
comparators for the shift, a multiplexer for the mantissa, a ROM read port with its register, a
multiplexer for the shifted entry), ``y_j = cast(d_j * r * scale_j + bias_j)`` (a multiplier, a constant multiply, the
bias with the rounding constant). Every step is a pipeline boundary the delay model may register.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Value

from rtlflow.rtl.arith import (
    Cast,
    Operator,
    Term,
    add,
    add_level,
    choose,
    constant_multiply,
    extend,
    fit,
)
from rtlflow.rtl.dense import reduce_trees_carrying
from rtlflow.rtl.matmul import product
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages, cross_terms, start_terms
from rtlflow.rtl.table import check_table, read_ports


class LayerNormUnit(Unit):
    """``y = cast(d * table(sum d^2) * scale + bias)`` with ``d = n x - sum x`` per row.

    Parameters
    ----------
    rows, n : ``rows`` independent rows of ``n`` elements.
    input_shape : shape of an input element.
    entries, entry_shape : the 1/sqrt table (unsigned entries, ``RsqrtTable.entries``).
    offset, thresholds : E and the thresholds of s' that double the shift (``RsqrtTable``).
    scale, bias : per element of a row, integers aligned to the final sum's LSB.
    casts : from that sum to the output.
    """

    def __init__(
        self,
        *,
        rows: int,
        n: int,
        input_shape,
        entries: tuple[int, ...],
        entry_shape,
        offset: int,
        thresholds: tuple[int, ...],
        scale: tuple[int, ...],
        bias: tuple[int, ...],
        casts: tuple[Cast, ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        check_table(entries, entry_shape)
        if len(scale) != n or len(bias) != n:
            raise ValueError("one scale and one bias per element of a row")
        self.rows, self.n = rows, n
        self.entries, self.entry_shape = tuple(entries), entry_shape
        self.offset, self.thresholds = offset, tuple(thresholds)
        self.scale, self.bias, self.casts = tuple(scale), tuple(bias), tuple(casts)
        super().__init__(
            input_shape=input_shape,
            input_count=rows * n,
            output_shape=casts[-1].shape,
            output_count=rows * n,
            registers=registers,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        n = self.n
        xs = start_terms(pipeline, inputs)
        rows = [xs[r * n : (r + 1) * n] for r in range(self.rows)]
        sums, xs = reduce_trees_carrying(pipeline, rows, add_level, "sum level", xs)
        rows = [xs[r * n : (r + 1) * n] for r in range(self.rows)]

        # the centred values, n times too large: n x_j - S
        centred, operators = [], []
        for row, total in zip(rows, sums, strict=True):
            for x in row:
                scaled, used = constant_multiply(x, n)
                operators += used
                difference, operator = add(scaled, Term(total.value, total.low, total.high,
                                                        not total.negated))
                centred.append(difference)
                operators.append(operator)
        centred = cross_terms(pipeline, "centre", operators, centred)

        # squares, summed per row
        squares, operators = [], []
        for d in centred:
            squares.append(_square(d, operators))
        carried = cross_terms(pipeline, "square", operators, centred + squares)
        centred = carried[: len(centred)]
        squares = carried[len(centred) :]
        grouped = [squares[r * n : (r + 1) * n] for r in range(self.rows)]
        totals, centred = reduce_trees_carrying(
            pipeline, grouped, add_level, "square sum level", centred
        )

        # 1/sqrt in block floating point: s' = s + E; t = thresholds passed (the shift is 2t);
        # m = s' >> 2t indexes the table; r = T[m] << (K/2 - t)
        half = len(self.thresholds)
        exponents, operators = [], []
        for total in totals:
            shifted, operator = add(total, Term.constant(self.offset))
            operators.append(operator)
            passed = [shifted.value >= threshold for threshold in self.thresholds]
            t = sum((Cat(bit, Const(0, max(1, half.bit_length()))) for bit in passed),
                    Const(0, max(1, half.bit_length()))) if passed else Const(0, 1)
            operators.append(("equal", len(shifted.value), len(passed)))
            exponents += [Term(fit(t, 0, half), 0, half), shifted]
        carried = cross_terms(pipeline, "exponent", operators, exponents + centred)
        exponents, centred = carried[: 2 * self.rows], carried[2 * self.rows :]
        halvings, shifted = exponents[0::2], exponents[1::2]
        index_bits = len(self.entries).bit_length() - 1
        mantissas, operators = [], []
        for t, value in zip(halvings, shifted, strict=True):
            wide = extend(value.value, index_bits + 2 * half)
            slices = [wide[2 * i : 2 * i + index_bits] for i in range(half + 1)]
            mantissas.append(Term(choose(m, slices, t.value), 0, (1 << index_bits) - 1))
            operators.append(("mux", index_bits, half + 1))
        data, used = read_ports(m, pipeline, "rsqrt_table", self.entries, self.entry_shape,
                                mantissas)
        values = pipeline.stage(
            "rsqrt table", operators + used,
            data + [t.value for t in halvings] + [d.value for d in centred],
            memory_reads=len(data),
        )
        halvings = values[self.rows : 2 * self.rows]
        centred = [Term(v, d.low, d.high, d.negated)
                   for v, d in zip(values[2 * self.rows :], centred, strict=True)]
        reciprocals, operators = [], []
        largest = max(self.entries) << half
        for entry, t in zip(values[: self.rows], halvings, strict=True):
            choice = choose(m, [entry << (half - i) for i in range(half + 1)], t)
            reciprocals.append(Term(fit(choice, 0, largest), 0, largest))
            operators.append(("mux", len(entry) + half, half + 1))
        reciprocals = cross_terms(pipeline, "denormalise", operators, reciprocals + centred)
        reciprocals, centred = reciprocals[: self.rows], reciprocals[self.rows :]

        # normalised values, then scale and bias (with the first cast's rounding constant)
        normalised, operators = [], []
        for index, d in enumerate(centred):
            normalised.append(product(d, reciprocals[index // n], operators))
        normalised = cross_terms(pipeline, "normalise", operators, normalised)
        results, operators = [], []
        rounding = self.casts[0].rounding_constant
        for index, t in enumerate(normalised):
            scaled, used = constant_multiply(t, self.scale[index % n])
            operators += used
            constant = self.bias[index % n] + rounding
            if scaled is None:
                results.append(Term.constant(constant))
                continue
            if constant:
                scaled, operator = add(scaled, Term.constant(constant))
                operators.append(operator)
            results.append(scaled)
        results = cross_terms(pipeline, "scale", operators, results)
        return [t.value for t in cast_stages(pipeline, results, self.casts, rounded=True)]


def _square(d: Term, operators: list[Operator]) -> Term:
    """``d * d``, never negative."""
    magnitude = max(abs(d.low), abs(d.high))
    low = 0 if d.low <= 0 <= d.high else min(d.low * d.low, d.high * d.high)
    operators.append(("multiply", d.width, d.width))
    return Term(fit(d.value * d.value, low, magnitude * magnitude), low, magnitude * magnitude)

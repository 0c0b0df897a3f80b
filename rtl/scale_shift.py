"""ScaleShiftUnit: element-wise ``x * scale + offset`` with constants, then the output casts."""

from __future__ import annotations

from amaranth.hdl import Module, Value

from rtlflow.rtl.arith import Cast, Term, add, constant_multiply
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages, cross_terms, start_terms


class ScaleShiftUnit(Unit):
    """``y_i = cast(x_i * scale[i] + offset[i])`` (constants aligned to one LSB).

    Parameters
    ----------
    scale, offset : one integer per element; products and offsets share one LSB.
    input_shape : shape of an input element; casts : to the output (last gives its shape).

    Latency: the registers chosen; throughput 1 per cycle.
    """

    def __init__(
        self,
        *,
        scale: tuple[int, ...],
        offset: tuple[int, ...],
        input_shape,
        casts: tuple[Cast, ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if len(scale) != len(offset):
            raise ValueError("one scale and one offset per element")
        self.scale = tuple(int(s) for s in scale)
        self.offset = tuple(int(o) for o in offset)
        self.casts = tuple(casts)
        super().__init__(
            input_shape=input_shape,
            input_count=len(scale),
            output_shape=casts[-1].shape,
            output_count=len(scale),
            registers=registers,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        xs = start_terms(pipeline, inputs)
        products, operators = [], []
        for x, scale in zip(xs, self.scale, strict=True):
            product, used = constant_multiply(x, scale)
            products.append(product if product is not None else Term.constant(0))
            operators += used
        products = cross_terms(pipeline, "multiply", operators, products)
        sums, operators = [], []
        rounding = self.casts[0].rounding_constant
        for product, offset in zip(products, self.offset, strict=True):
            constant = offset + rounding
            if constant:
                product, operator = add(product, Term.constant(constant))
                operators.append(operator)
            sums.append(product)
        sums = cross_terms(pipeline, "add", operators, sums)
        return [term.value for term in cast_stages(pipeline, sums, self.casts, rounded=True)]

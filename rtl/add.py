"""AddUnit: the element-wise sum of two tensors (residual connections), II = 1.

Both operands are aligned to the finer LSB (a shift, no logic), added exactly, then cast.
"""

from __future__ import annotations

from amaranth.hdl import Module, Shape, Value

from rtlflow.rtl.arith import Cast, Term, add
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages, cross_terms, start_terms


class AddUnit(Unit):
    """``y[i] = cast((a[i] << shift_a) + (b[i] << shift_b))`` for ``count`` elements.

    Parameters
    ----------
    shapes : element shapes of a and b.
    shifts : left shifts aligning a and b to the sum's LSB.
    count : elements per tensor.
    casts, registers : as for the other units.
    """

    def __init__(
        self,
        *,
        shapes: tuple[Shape, Shape],
        shifts: tuple[int, int],
        count: int,
        casts: tuple[Cast, ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        self.shifts, self.count, self.casts = tuple(shifts), count, tuple(casts)
        super().__init__(
            input_shape=shapes[0],
            input_count=2 * count,
            output_shape=casts[-1].shape,
            output_count=count,
            registers=registers,
            stall=stall,
            input_groups=((shapes[0], count), (shapes[1], count)),
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        inputs = start_terms(pipeline, inputs)
        sums, operators = [], []
        for i in range(self.count):
            a, b = inputs[i], inputs[self.count + i]
            a = Term(a.value << self.shifts[0], a.low << self.shifts[0], a.high << self.shifts[0])
            b = Term(b.value << self.shifts[1], b.low << self.shifts[1], b.high << self.shifts[1])
            total, operator = add(a, b)
            sums.append(total)
            operators.append(operator)
        sums = cross_terms(pipeline, "add", operators, sums)
        return [t.value for t in cast_stages(pipeline, sums, self.casts)]

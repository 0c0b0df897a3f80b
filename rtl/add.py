"""AddUnit: the element-wise sum of two tensors (residual connections), II = 1; StreamAddUnit:
the same of two pixel streams.

Both operands are aligned to the finer LSB (a shift, no logic), added exactly, then cast.
"""

from __future__ import annotations

from amaranth.hdl import Module, Shape, Signal, Value, unsigned

from rtlflow.rtl.arith import Cast, Term, add
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages, cross_terms, start_terms
from rtlflow.rtl.stream import MEMORY_DEPTH, beat_fifo


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
        a, b = inputs[: self.count], inputs[self.count :]
        return add_cast(pipeline, a, b, self.shifts, self.casts)


def add_cast(
    pipeline: Pipeline, a: list[Term], b: list[Term], shifts: tuple[int, int], casts
) -> list[Value]:
    """The steps ``add`` (a and b aligned by ``shifts``) and the casts."""
    sums, operators = [], []
    for x, y in zip(a, b, strict=True):
        x = Term(x.value << shifts[0], x.low << shifts[0], x.high << shifts[0])
        y = Term(y.value << shifts[1], y.low << shifts[1], y.high << shifts[1])
        total, operator = add(x, y)
        sums.append(total)
        operators.append(operator)
    sums = cross_terms(pipeline, "add", operators, sums)
    return [t.value for t in cast_stages(pipeline, sums, casts)]


class StreamAddUnit(Unit):
    """``AddUnit`` on two pixel streams (a residual connection around convolutions), a pixel of
    ``count`` channels per beat. The operands' beats arrive at different times (the convolution
    path later, by its line buffers and pipeline): each operand's beats wait in a first-in
    first-out buffer (``depths``, set from the beat times) until the other's have arrived; a pair
    leaves in the cycle after the later of the two arrived (forced boundary 0) through the
    buffers' output multiplexers (``select``, registered: forced boundary 1, as the depths are
    known only after the registers are placed), then the add and the casts. The input is both
    pixels and then both valids (the top level's join: each operand has its own). Latency 2 +
    the registers chosen after ``select``.
    """

    def __init__(
        self,
        *,
        shapes: tuple[Shape, Shape],
        shifts: tuple[int, int],
        count: int,
        casts: tuple[Cast, ...],
        depths: tuple[int, int],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        self.shifts, self.count, self.casts = tuple(shifts), count, tuple(casts)
        self.depths = tuple(depths)
        widths = [Shape.cast(shape).width for shape in shapes]
        self.held_bits = sum(  # the buffers held in registers (deeper ones are memories)
            d * w * count for d, w in zip(depths, widths, strict=True) if d <= MEMORY_DEPTH
        )
        super().__init__(
            input_shape=shapes[0],
            input_count=2 * count + 2,
            output_shape=casts[-1].shape,
            output_count=count,
            registers=registers,
            stall=stall,
            input_groups=((shapes[0], count), (shapes[1], count), (unsigned(1), 2)),
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        n = self.count
        pop = Signal(name="pop")
        heads, operators, waiting = [], [], []
        for k, (terms, valid) in enumerate(zip((inputs[:n], inputs[n : 2 * n]), inputs[2 * n :])):
            values, ready = beat_fifo(
                m, valid.value, [t.value for t in terms], pop, self.depths[k], f"fifo{k}"
            )
            heads += [Term(v, t.low, t.high) for v, t in zip(values, terms, strict=True)]
            if self.depths[k] > 1:
                operators += [("mux", len(v), self.depths[k]) for v in values]
            waiting.append(ready)
        m.d.comb += pop.eq(waiting[0] & waiting[1])
        pipeline.stage_forced("", [], 0)  # boundary 0: the buffers
        pipeline.valid = pop
        values = pipeline.stage("select", operators, [t.value for t in heads], force=True)
        heads = [Term(v, t.low, t.high) for v, t in zip(values, heads, strict=True)]
        return add_cast(pipeline, heads[:n], heads[n:], self.shifts, self.casts)

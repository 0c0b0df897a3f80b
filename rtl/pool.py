"""PoolUnit: max or average pooling, every output at once (II = 1).

Max: a pairwise tree of compare-and-select per window (padding taps never take part), then the
output cast. Average: a pairwise adder tree per window, the product with the position's constant
scale (1 / taps), then the output cast. Tensors are ``[C, *spatial]`` in C order.
"""

from __future__ import annotations

import math

from amaranth.hdl import Module, Value

from rtlflow.rtl.arith import Cast, Term, add_level, constant_multiply, max_level
from rtlflow.rtl.dense import reduce_trees
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages, cross_terms, start_terms
from rtlflow.numerics.windows import Window


class PoolUnit(Unit):
    """Pooling of ``channels`` planes over ``window``.

    Parameters
    ----------
    kind : "max" or "average".
    window : the geometry.
    channels : C.
    scales : one integer per output position (average only): the sum is multiplied by it.
    input_shape, casts, registers : as for the other units.
    """

    def __init__(
        self,
        *,
        kind: str,
        window: Window,
        channels: int,
        scales: tuple[int, ...],
        input_shape,
        casts: tuple[Cast, ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if kind not in ("max", "average"):
            raise ValueError("kind is max or average")
        if len(scales) != window.positions:
            raise ValueError("one scale per output position")
        self.kind, self.window, self.channels = kind, window, channels
        self.scales, self.casts = tuple(scales), tuple(casts)
        super().__init__(
            input_shape=input_shape,
            input_count=channels * math.prod(window.input_shape),
            output_shape=casts[-1].shape,
            output_count=channels * window.positions,
            registers=registers,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        inputs = start_terms(pipeline, inputs)
        index, _ = self.window.taps()
        pixels = math.prod(self.window.input_shape)
        groups = []
        for channel in range(self.channels):
            for position in range(self.window.positions):
                taps = [int(i) for i in index[position] if i >= 0]
                groups.append([inputs[channel * pixels + i] for i in taps] or [Term.constant(0)])
        scales = [self.scales[n % self.window.positions] for n in range(len(groups))]
        results = pool_groups(pipeline, groups, self.kind, scales)
        return [t.value for t in cast_stages(pipeline, results, self.casts)]


def pool_groups(pipeline: Pipeline, groups: list[list[Term]], kind: str, scales: list[int]):
    """Each group's maximum (a compare-and-select tree), or its sum (an adder tree) times its
    constant scale; one pipeline step per tree level and one for the scaling."""
    if kind == "max":
        return reduce_trees(pipeline, groups, max_level, "max level", wired=True)
    sums = reduce_trees(pipeline, groups, add_level, "add level")
    products, operators = [], []
    for total, scale in zip(sums, scales, strict=True):
        product, used = constant_multiply(total, scale)
        operators += used
        products.append(product if product is not None else Term.constant(0))
    return cross_terms(pipeline, "scale", operators, products)

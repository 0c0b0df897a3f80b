"""ConvUnit: a convolution with constant weights, every output pixel at once (II = 1).

The parallel architecture for trigger-sized inputs: each output (channel, pixel) is its own sum of
constant products over the taps its window reads, built as in the dense unit (zero weights and
padding taps cost nothing, ±2^k is a shift, two CSD digits one adder, else a multiplier), then
pairwise adder trees and the output casts. Tensors are ``[C, *spatial]`` in C order.
"""

from __future__ import annotations

import math

from amaranth.hdl import Module, Value

from rtlflow.rtl.arith import Cast, Term
from rtlflow.rtl.dense import linear_sums
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages
from rtlflow.numerics.windows import Window


def conv_rows(
    weights, window: Window, channels: int, group: int
) -> list[list[tuple[int, int]]]:
    """(input index, weight) pairs of every output, outputs in [C_out, positions] order.
    ``weights`` is nested [C_out][C_in / group][taps] (flattened kernel)."""
    index, _ = window.taps()
    pixels = math.prod(window.input_shape)
    c_out, per_in = len(weights), len(weights[0])
    per_out = c_out // group
    rows = []
    for co in range(c_out):
        first = (co // per_out) * per_in
        for position in range(window.positions):
            pairs = []
            for ci in range(per_in):
                for tap, weight in enumerate(weights[co][ci]):
                    at = int(index[position, tap])
                    if at >= 0 and weight:
                        pairs.append(((first + ci) * pixels + at, weight))
            rows.append(pairs)
    assert channels == group * per_in
    return rows


def conv_position_rows(weights, channels: int, group: int) -> list[list[tuple[int, int]]]:
    """(input index, weight) pairs of one output position's C_out outputs, its inputs the
    window's taps of every input channel, channel-major (input ``ci * taps + tap``). ``weights``
    as for ``conv_rows``."""
    c_out, per_in = len(weights), len(weights[0])
    per_out = c_out // group
    taps = len(weights[0][0])
    assert channels == group * per_in
    return [
        [
            (((co // per_out) * per_in + ci) * taps + tap, weight)
            for ci in range(per_in)
            for tap, weight in enumerate(weights[co][ci])
            if weight
        ]
        for co in range(c_out)
    ]


class ConvUnit(Unit):
    """``y[co, p] = cast(sum over the window of x * weights + bias[co])`` for every output.

    Parameters
    ----------
    weights : [C_out][C_in / group][taps] integers in the accumulator's LSB (kernel flattened).
    bias : C_out integers in the accumulator's LSB.
    window : the geometry (input and output spatial shapes, kernel, strides, pads, dilations).
    channels : C_in.
    group : convolution groups (C_in for depthwise).
    input_shape, casts, registers : as for :class:`~rtlflow.rtl.dense.DenseUnit`.

    Latency: the number of registered boundaries; one input per cycle.
    """

    def __init__(
        self,
        *,
        weights: tuple[tuple[tuple[int, ...], ...], ...],
        bias: tuple[int, ...],
        window: Window,
        channels: int,
        group: int,
        input_shape,
        casts: tuple[Cast, ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if len(bias) != len(weights) or not casts:
            raise ValueError("one bias per output channel and at least one cast")
        self.weights, self.bias, self.casts = weights, bias, casts
        self.window, self.channels, self.group = window, channels, group
        self.rows = conv_rows(weights, window, channels, group)
        super().__init__(
            input_shape=input_shape,
            input_count=channels * math.prod(window.input_shape),
            output_shape=casts[-1].shape,
            output_count=len(weights) * window.positions,
            registers=registers,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        rounding = self.casts[0].rounding_constant
        constants = [b + rounding for b in self.bias for _ in range(self.window.positions)]
        sums = linear_sums(pipeline, inputs, self.rows, constants)
        return [term.value for term in cast_stages(pipeline, sums, self.casts, rounded=True)]

"""Value ranges: the interval every element of every fixed-point tensor can take.

An abstract interpretation of the fxp level alongside the emulator: each element's raw integer
lies in [low, high], from the design inputs' formats forward. Linear layers (dense, conv, scale
and shift, average pooling, residual adds) give each output the exact range its weights allow;
ReLU, clip, max pooling and thresholds are monotone; wiring moves ranges with the elements; a
cast whose range fits keeps it, one that can wrap gives its format's range. Other ops give their
format's range. Adders sized from these ranges are exactly as wide as their values need: a
ReLU's output never needs a sign bit, a layer whose sums stay small gives narrow inputs to the
next.

Works on fxp functions and on circuit functions (a unit's range is its inner op's).
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects import func
from xdsl.ir import Operation, SSAValue

from rtlflow.dialects import circuit, fxp
from rtlflow.sim.semantics import FxpFunctions
from rtlflow.sim.semantics.windows import conv_exact
from rtlflow.numerics.fixed_point import FixedFormat, shift_right

#: (low, high): object arrays of the tensor's shape
Interval = tuple[np.ndarray, np.ndarray]


def full_range(value: SSAValue) -> Interval:
    fmt = fxp.tensor_format(value)
    shape = fxp.tensor_shape(value)
    return (np.full(shape, fmt.min_raw, dtype=object), np.full(shape, fmt.max_raw, dtype=object))


def cast_range(interval: Interval, frac_bits: int, fmt: FixedFormat) -> Interval:
    """The range after a cast (every rounding mode is monotone): clamped under SAT, the whole
    format wherever a value could wrap."""
    shift = frac_bits - fmt.frac_bits
    low, high = (np.asarray(shift_right(v, shift, fmt.rounding)).astype(object) for v in interval)
    outside = (low < fmt.saturation_low) | (high > fmt.max_raw)
    if fmt.overflow in ("SAT", "SAT_SYM"):
        low = np.clip(low, fmt.saturation_low, fmt.max_raw)
        high = np.clip(high, fmt.saturation_low, fmt.max_raw)
    else:
        low, high = np.where(outside, fmt.min_raw, low), np.where(outside, fmt.max_raw, high)
    return low.astype(object), high.astype(object)


def _linear(low, high, weights, apply) -> Interval:
    """``apply(x, w)`` is linear in x: the exact range over x in [low, high]."""
    positive, negative = np.maximum(weights, 0), np.minimum(weights, 0)
    return (apply(low, positive) + apply(high, negative), apply(high, positive) + apply(low, negative))


class _Ranges:
    """One rule per op; the default is the result's format range."""

    def __init__(self) -> None:
        self.moves = FxpFunctions()  # the emulator's wiring ops, on [low, high] as two samples

    def of(self, op: Operation, inputs: list[Interval]) -> Interval:
        rule = getattr(self, f"_{op.name.removeprefix('fxp.')}", None)
        if rule is None:
            return full_range(op.results[0])
        return tuple(np.asarray(v, dtype=object) for v in rule(op, inputs))

    def _move(self, op, inputs: list[Interval]) -> Interval:
        stacked = [np.stack([low, high]) for low, high in inputs]
        impl = getattr(self.moves, f"run_{op.name.removeprefix('fxp.')}")
        (moved,) = impl(None, op, stacked).values
        return moved[0], moved[1]

    _transpose = _reshape = _pad = _take = _move

    def _concat(self, op, inputs):
        fmt = op.output_format
        parts = [cast_range(i, f.frac_bits, fmt) for i, f in zip(inputs, op.input_formats, strict=True)]
        axis = op.axis.value.data % len(fxp.tensor_shape(op.output))
        return tuple(np.concatenate([p[k] for p in parts], axis=axis) for k in (0, 1))

    def _dense(self, op: fxp.DenseOp, inputs):
        (low, high), (frac, weights, biases) = inputs[0], op.aligned()
        total = _linear(low, high, weights, lambda x, w: x @ w.T)
        total = (total[0] + biases, total[1] + biases)
        return self._accumulate(op, total, frac)

    def _conv(self, op: fxp.ConvOp, inputs):
        (low, high), (frac, weights, biases) = inputs[0], op.aligned()
        group = op.group.value.data
        zero = np.zeros_like(biases)

        def apply(x, w):
            return conv_exact(x[np.newaxis], w, zero, op.window, group)[0]

        total = _linear(low, high, weights, apply)
        bias = biases.reshape(-1, *(1,) * len(op.window.output_shape))
        return self._accumulate(op, (total[0] + bias, total[1] + bias), frac)

    def _accumulate(self, op: fxp.WeightedOp, total: Interval, frac: int) -> Interval:
        accumulator = op.accumulator.format
        total = cast_range(total, frac, accumulator)
        return cast_range(total, accumulator.frac_bits, op.output_format)

    def _scale_shift(self, op: fxp.ScaleShiftOp, inputs):
        (low, high), (frac, scale, offset) = inputs[0], op.aligned()
        total = _linear(low, high, scale, lambda x, s: x * s)
        return cast_range((total[0] + offset, total[1] + offset), frac, op.output_format)

    def _relu(self, op, inputs):
        low, high = inputs[0]
        total = (np.maximum(low, 0), np.maximum(high, 0))
        return cast_range(total, op.input_format.frac_bits, op.output_format)

    def _clip(self, op: fxp.ClipOp, inputs):
        bounds = op.low.value.data, op.high.value.data
        total = tuple(np.clip(v, *bounds) for v in inputs[0])
        return cast_range(total, op.input_format.frac_bits, op.output_format)

    def _cast(self, op, inputs):
        return cast_range(inputs[0], op.input_format.frac_bits, op.output_format)

    def _add(self, op: fxp.AddOp, inputs):
        frac = max(f.frac_bits for f in op.input_formats)
        shape = fxp.tensor_shape(op.output)
        total = [np.zeros(shape, dtype=object), np.zeros(shape, dtype=object)]
        for (low, high), f in zip(inputs, op.input_formats, strict=True):
            total[0] = total[0] + (low << (frac - f.frac_bits))
            total[1] = total[1] + (high << (frac - f.frac_bits))
        return cast_range(tuple(total), frac, op.output_format)

    def _pool(self, op: fxp.PoolOp, inputs):
        window, shape = op.window, fxp.tensor_shape(op.output)
        if op.kind.data == "max":
            lowest = min(int(inputs[0][0].min()), 0) - 1
            low, high = (window.gather(v[np.newaxis], lowest).max(axis=-1) for v in inputs[0])
            total = (low.reshape(shape), high.reshape(shape))
            return cast_range(total, op.input_format.frac_bits, op.output_format)
        scales = op.scales.astype(object)  # positive: 1 / taps per output position
        low, high = (window.gather(v[np.newaxis], 0).sum(axis=-1) * scales for v in inputs[0])
        frac = op.input_format.frac_bits + op.scale_type.format.frac_bits
        return cast_range((low.reshape(shape), high.reshape(shape)), frac, op.output_format)

    def _threshold(self, op: fxp.ThresholdOp, inputs):
        stacked = np.stack([v.astype(np.int64) for v in inputs[0]])
        (counted,) = self.moves.run_threshold(None, op, [stacked]).values
        return counted[0], counted[1]


def value_ranges(function: func.FuncOp) -> dict[SSAValue, Interval]:
    """The range of every tensor value of an fxp- or circuit-level function."""
    ranges: dict[SSAValue, Interval] = {arg: full_range(arg) for arg in function.body.block.args}
    rules = _Ranges()
    for op in function.body.block.ops:
        if isinstance(op, circuit.UnitOp):
            inputs = [ranges[v] for v in op.inputs]
            ranges[op.outputs[0]] = rules.of(op.inner, inputs)
        elif isinstance(op, circuit.DelayOp | circuit.CollectOp):
            ranges[op.output] = ranges[op.input]
        elif isinstance(op, fxp.FxpOp | fxp.MultiInputOp):
            ranges[op.results[0]] = rules.of(op, [ranges[v] for v in op.operands])
    return ranges

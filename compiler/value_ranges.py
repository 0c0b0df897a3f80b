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

from collections.abc import Callable

import numpy as np
from xdsl.dialects import func
from xdsl.ir import Operation, SSAValue

from rtlflow.dialects import circuit, fxp
from rtlflow.sim.semantics import FxpFunctions
from rtlflow.sim.semantics.windows import conv_exact
from rtlflow.numerics.fixed_point import FixedFormat, range_format, shift_right

#: (low, high): object arrays of the tensor's shape
Interval = tuple[np.ndarray, np.ndarray]


def full_range(value: SSAValue) -> Interval:
    fmt = fxp.tensor_format(value)
    shape = fxp.tensor_shape(value)
    return (np.full(shape, fmt.min_raw, dtype=object), np.full(shape, fmt.max_raw, dtype=object))


#: called with the range a wrapping cast could not hold: (low, high) raw at the format's LSB
Wrapped = Callable[[int, int, FixedFormat], None]


def cast_range(
    interval: Interval, frac_bits: int, fmt: FixedFormat, wrapped: Wrapped | None = None
) -> Interval:
    """The range after a cast (every rounding mode is monotone): clamped under SAT, the whole
    format wherever a value could wrap (``wrapped`` is told the range it could not hold)."""
    shift = frac_bits - fmt.frac_bits
    low, high = (np.asarray(shift_right(v, shift, fmt.rounding)).astype(object) for v in interval)
    outside = (low < fmt.saturation_low) | (high > fmt.max_raw)
    if wrapped is not None and fmt.overflow == "WRAP" and outside.any():
        wrapped(int(low.min()), int(high.max()), fmt)
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

    def __init__(self, wraps: dict[Operation, tuple[int, int, FixedFormat]] | None) -> None:
        self.moves = FxpFunctions()  # the emulator's wiring ops, on [low, high] as two samples
        self.wraps = wraps
        self.op: Operation | None = None

    def wrapped(self, low: int, high: int, fmt: FixedFormat) -> None:
        if self.wraps is not None and self.op not in self.wraps:
            self.wraps[self.op] = (low, high, fmt)

    def fit(self, interval: Interval, frac_bits: int, fmt: FixedFormat) -> Interval:
        """``cast_range`` inside the op being ranged, which is recorded if it can wrap."""
        return cast_range(interval, frac_bits, fmt, self.wrapped)

    def of(self, op: Operation, inputs: list[Interval]) -> Interval:
        self.op = op
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
        parts = [self.fit(i, f.frac_bits, fmt) for i, f in zip(inputs, op.input_formats, strict=True)]
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
        total = self.fit(total, frac, accumulator)
        return self.fit(total, accumulator.frac_bits, op.output_format)

    def _scale_shift(self, op: fxp.ScaleShiftOp, inputs):
        (low, high), (frac, scale, offset) = inputs[0], op.aligned()
        total = _linear(low, high, scale, lambda x, s: x * s)
        return self.fit((total[0] + offset, total[1] + offset), frac, op.output_format)

    def _relu(self, op, inputs):
        low, high = inputs[0]
        total = (np.maximum(low, 0), np.maximum(high, 0))
        return self.fit(total, op.input_format.frac_bits, op.output_format)

    def _clip(self, op: fxp.ClipOp, inputs):
        bounds = op.low.value.data, op.high.value.data
        total = tuple(np.clip(v, *bounds) for v in inputs[0])
        return self.fit(total, op.input_format.frac_bits, op.output_format)

    def _cast(self, op, inputs):
        return self.fit(inputs[0], op.input_format.frac_bits, op.output_format)

    def _add(self, op: fxp.AddOp, inputs):
        frac = max(f.frac_bits for f in op.input_formats)
        shape = fxp.tensor_shape(op.output)
        total = [np.zeros(shape, dtype=object), np.zeros(shape, dtype=object)]
        for (low, high), f in zip(inputs, op.input_formats, strict=True):
            total[0] = total[0] + (low << (frac - f.frac_bits))
            total[1] = total[1] + (high << (frac - f.frac_bits))
        return self.fit(tuple(total), frac, op.output_format)

    def _matmul(self, op: fxp.MatMulOp, inputs):
        """Each sum of products of two ranges: the smallest and largest corner per term."""
        (a_low, a_high), (b_low, b_high) = inputs
        if a_low.ndim == 1:  # numpy's matmul: a vector is a row on the left, a column on the right
            a_low, a_high = a_low[np.newaxis], a_high[np.newaxis]
        if b_low.ndim == 1:
            b_low, b_high = b_low[:, np.newaxis], b_high[:, np.newaxis]
        a = [v[..., :, :, np.newaxis] for v in (a_low, a_high)]
        b = [v[..., np.newaxis, :, :] for v in (b_low, b_high)]
        corners = [x * y for x in a for y in b]
        low = np.minimum.reduce(corners).sum(axis=-2)
        high = np.maximum.reduce(corners).sum(axis=-2)
        shape = fxp.tensor_shape(op.output)
        frac = sum(f.frac_bits for f in op.input_formats)
        return self.fit((low.reshape(shape), high.reshape(shape)), frac, op.output_format)

    def _abs(self, op, inputs):
        low, high = inputs[0]
        magnitude = np.maximum(np.abs(low), np.abs(high))
        smallest = np.where((low <= 0) & (high >= 0), 0, np.minimum(np.abs(low), np.abs(high)))
        return self.fit((smallest, magnitude), op.input_format.frac_bits, op.output_format)

    def _pool(self, op: fxp.PoolOp, inputs):
        window, shape = op.window, fxp.tensor_shape(op.output)
        if op.kind.data == "max":
            lowest = min(int(inputs[0][0].min()), 0) - 1
            low, high = (window.gather(v[np.newaxis], lowest).max(axis=-1) for v in inputs[0])
            total = (low.reshape(shape), high.reshape(shape))
            return self.fit(total, op.input_format.frac_bits, op.output_format)
        scales = op.scales.astype(object)  # positive: 1 / taps per output position
        low, high = (window.gather(v[np.newaxis], 0).sum(axis=-1) * scales for v in inputs[0])
        frac = op.input_format.frac_bits + op.scale_type.format.frac_bits
        return self.fit((low.reshape(shape), high.reshape(shape)), frac, op.output_format)

    def _threshold(self, op: fxp.ThresholdOp, inputs):
        stacked = np.stack([v.astype(np.int64) for v in inputs[0]])
        (counted,) = self.moves.run_threshold(None, op, [stacked]).values
        return counted[0], counted[1]


def value_ranges(
    function: func.FuncOp, wraps: dict[Operation, tuple[int, int, FixedFormat]] | None = None
) -> dict[SSAValue, Interval]:
    """The range of every tensor value of an fxp- or circuit-level function; ``wraps`` gets,
    for every op with a cast that can wrap, the range that cast could not hold (the first)."""
    ranges: dict[SSAValue, Interval] = {arg: full_range(arg) for arg in function.body.block.args}
    rules = _Ranges(wraps)
    for op in function.body.block.ops:
        if isinstance(op, circuit.UnitOp):
            inputs = [ranges[v] for v in op.inputs]
            ranges[op.outputs[0]] = rules.of(op.inner, inputs)
        elif isinstance(op, circuit.DelayOp | circuit.CollectOp):
            ranges[op.output] = ranges[op.input]
        elif isinstance(op, fxp.FxpOp | fxp.MultiInputOp):
            ranges[op.results[0]] = rules.of(op, [ranges[v] for v in op.operands])
    return ranges


def overflow_warnings(function: func.FuncOp) -> list[tuple[str, str, str]]:
    """(node, op, message) for every result of an fxp-level function that can wrap for some
    inputs within the inputs' formats (interval arithmetic over the actual weights): the range
    it can take and a format that holds it."""
    wraps: dict[Operation, tuple[int, int, FixedFormat]] = {}
    value_ranges(function, wraps)
    found = []
    for op, (low, high, fmt) in wraps.items():
        needed = range_format(low, high, fmt.frac_bits).with_modes(fmt.rounding, fmt.overflow)
        found.append((
            op.node_name,  # type: ignore[attr-defined]
            op.name.removeprefix("fxp."),
            f"can wrap: over the inputs' formats its results reach [{low * fmt.lsb:g}, "
            f"{high * fmt.lsb:g}], {fmt} holds [{fmt.min_value:g}, {fmt.max_value:g}]; "
            f"{needed} would hold them",
        ))
    return found


#: said once after the layers that can wrap
WRAP_ADVICE = (
    "layers that can wrap: give them wider result formats (--config), use --precision auto, "
    "saturate (SAT), or check with --inputs that real data stays in range"
)

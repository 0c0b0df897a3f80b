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

import math
from collections.abc import Callable

import numpy as np
from xdsl.dialects import func
from xdsl.ir import Operation, SSAValue

from rtlflow.dialects import circuit, fxp
from rtlflow.dialects.arrays import numpy_from_dense
from rtlflow.sim.semantics import FxpFunctions
from rtlflow.sim.semantics.windows import conv_exact
from rtlflow.numerics.fixed_point import TABLE_FUNCTIONS, FixedFormat, range_format, shift_right

#: (low, high): object arrays of the tensor's shape
Interval = tuple[np.ndarray, np.ndarray]


def full_range(value: SSAValue) -> Interval:
    fmt = fxp.tensor_format(value)
    shape = fxp.tensor_shape(value)
    return (np.full(shape, fmt.min_raw, dtype=object), np.full(shape, fmt.max_raw, dtype=object))


#: called with the range a wrapping cast could not hold: (low, high) raw at the format's LSB
Wrapped = Callable[[int, int, FixedFormat], None]

#: what ``value_ranges`` records for an op whose result can lose data: (low, high) raw at the
#: format's LSB that the result would need, the format, and how it loses them ("wrap": a
#: wrapping cast; "saturate": table entries clamped into the format when it was built)
Loss = tuple[int, int, FixedFormat, str]


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

    def __init__(self, wraps: dict[Operation, Loss] | None) -> None:
        self.moves = FxpFunctions()  # the emulator's wiring ops, on [low, high] as two samples
        self.wraps = wraps
        self.op: Operation | None = None

    def wrapped(self, low: int, high: int, fmt: FixedFormat, how: str = "wrap") -> None:
        if self.wraps is not None and self.op not in self.wraps:
            self.wraps[self.op] = (low, high, fmt, how)

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

    def _leaky_relu(self, op: fxp.LeakyReluOp, inputs):
        """``x`` above 0 and ``alpha x`` below: linear on each side of 0, so the extremes are
        at the ends of each side's part of [low, high]."""
        low, high = inputs[0]
        alpha, shift = op.alpha.value.data, op.alpha_type.format.frac_bits
        ends = [(np.minimum(high, -1), low <= -1), (np.maximum(low, 0), high >= 0)]  # (x, where)

        def f(x):
            return np.where(x >= 0, x << shift, x * alpha)

        at_low, at_high = f(low), f(high)  # ends that always exist; the others where they do
        values = [at_low, at_high] + [np.where(there, f(x), at_low) for x, there in ends]
        lowest, highest = np.minimum.reduce(values), np.maximum.reduce(values)
        frac = op.input_format.frac_bits + shift
        return self.fit((lowest, highest), frac, op.output_format)

    def _gather(self, op: fxp.GatherOp, inputs):
        """Any element of the data (an index is known at run time only), or 0 for an index
        outside its axis; the data's format."""
        (low, high), shape = inputs[0], fxp.tensor_shape(op.output)
        return (np.full(shape, min(int(low.min()), 0), dtype=object),
                np.full(shape, max(int(high.max()), 0), dtype=object))  # fmt: skip

    def _scatter(self, op: fxp.ScatterOp, inputs):
        """Each position starts from the data and takes (none) or adds (add) any of the
        updates whose index can reach it (the index values within the indices' range)."""
        (index_low, index_high), (update_low, update_high) = inputs[0], inputs[1]
        formats, out, shape = op.input_formats, op.output_format, fxp.tensor_shape(op.output)
        if len(inputs) == 3:
            (data_low, data_high), fd = inputs[2], formats[2]
        else:
            initial = np.broadcast_to(op.initial_values, shape).astype(object)
            (data_low, data_high), fd = (initial, initial), out
        fu = formats[1]
        frac = max(fd.frac_bits, fu.frac_bits)
        low = np.asarray(data_low, dtype=object).reshape(-1) << (frac - fd.frac_bits)
        high = np.asarray(data_high, dtype=object).reshape(-1) << (frac - fd.frac_bits)
        low, high = low.copy(), high.copy()
        updates = (np.asarray(update_low, dtype=object).reshape(-1) << (frac - fu.frac_bits),
                   np.asarray(update_high, dtype=object).reshape(-1) << (frac - fu.frac_bits))
        reach = op.index_map.candidates(int(index_low.min()), int(index_high.max()))
        adds = op.reduction.data == "add"
        for u, targets in enumerate(reach):
            a, b = updates[0][u], updates[1][u]
            for position in {target for target, _ in targets}:
                if adds:
                    low[position] += min(a, 0)
                    high[position] += max(b, 0)
                else:
                    low[position] = min(low[position], a)
                    high[position] = max(high[position], b)
        return self.fit((low.reshape(shape), high.reshape(shape)), frac, out)

    def _table(self, op: fxp.TableOp, inputs):
        """The entries the inputs' range can read; a table whose function leaves its format
        over them (entries clamped when the table was built) is recorded as saturating."""
        spec, (low, high) = op.table, inputs[0]
        if max(abs(int(low.min())), abs(int(high.max()))).bit_length() > 62:
            return full_range(op.output)
        first = spec.index(np.asarray(low, dtype=np.int64))
        last = spec.index(np.asarray(high, dtype=np.int64))
        entries = spec.entries().astype(np.int64 if spec.output.width <= 62 else object)
        lowest = np.empty(first.shape, dtype=object)
        highest = np.empty(first.shape, dtype=object)
        spans = np.stack([first.reshape(-1), last.reshape(-1)], axis=-1)
        for a, b in np.unique(spans, axis=0).tolist():
            chosen = (first == a) & (last == b)
            lowest[chosen] = int(entries[a : b + 1].min())
            highest[chosen] = int(entries[a : b + 1].max())
        a, b = int(first.min()), int(last.max())
        step, lsb = spec.step, 2.0**-spec.input_frac
        centres = spec.start + np.arange(a, b + 1) * step + max(step - lsb, 0.0) / 2
        ideal = TABLE_FUNCTIONS[spec.function](centres) / spec.output.lsb
        fmt = spec.output
        if ideal.min() < fmt.min_raw - 0.5 or ideal.max() >= fmt.max_raw + 0.5:  # RND, SAT
            self.wrapped(math.floor(ideal.min()), math.ceil(ideal.max()), fmt, "saturate")
        return lowest, highest

    def _softmax(self, op: fxp.SoftmaxOp, inputs):
        """``e_i r``: from 0 to the largest exp entry times the largest reciprocal entry a sum
        can read: every sum holds the row's largest element's entry (a difference of 0), so
        the reciprocal is read at that sum or beyond (about 1; a result format that cannot
        hold 1 is named)."""
        shape = fxp.tensor_shape(op.output)
        exp_table, inv_table = op.exp_table, op.inv_table
        exponentials = exp_table.entries()
        smallest_sum = int(exponentials[exp_table.index(np.zeros(1, np.int64))[0]])
        first = int(inv_table.index(np.array([smallest_sum], np.int64))[0])
        high = int(exponentials.max()) * int(inv_table.entries()[first:].max())
        frac = exp_table.output.frac_bits + inv_table.output.frac_bits
        total = (np.zeros(shape, dtype=object), np.full(shape, high, dtype=object))
        return self.fit(total, frac, op.output_format)

    def _layer_norm(self, op: fxp.LayerNormOp, inputs):
        """The range is the format's (the 1/sqrt table's rounding has no tight bound here);
        a result format that cannot hold ``sqrt(n - 1) |scale| + |bias|``, where the normalised
        values reach for rows of n values, is recorded as able to wrap."""
        fmt = op.output_format
        if fmt.overflow == "WRAP":
            scale = numpy_from_dense(op.scale).astype(np.float64) * op.scale_type.format.lsb
            bias = numpy_from_dense(op.bias).astype(np.float64) * op.bias_type.format.lsb
            spread = math.sqrt(max(op.count - 1, 0)) * np.abs(scale)
            low, high = float((bias - spread).min()), float((bias + spread).max())
            if low < fmt.min_value or high > fmt.max_value:
                self.wrapped(math.floor(low / fmt.lsb), math.ceil(high / fmt.lsb), fmt)
        return full_range(op.output)

    def _threshold(self, op: fxp.ThresholdOp, inputs):
        stacked = np.stack([v.astype(np.int64) for v in inputs[0]])
        (counted,) = self.moves.run_threshold(None, op, [stacked]).values
        return counted[0], counted[1]


def value_ranges(
    function: func.FuncOp, wraps: dict[Operation, Loss] | None = None
) -> dict[SSAValue, Interval]:
    """The range of every tensor value of an fxp- or circuit-level function; ``wraps`` gets,
    for every op that can lose data (a cast that can wrap, table entries clamped into their
    format), the first range it could not hold (``Loss``)."""
    ranges: dict[SSAValue, Interval] = {arg: full_range(arg) for arg in function.body.block.args}
    rules = _Ranges(wraps)
    for op in function.body.block.ops:
        if isinstance(op, circuit.UnitOp):
            inner = dict(zip(op.body.block.args, (ranges[v] for v in op.inputs), strict=True))
            for chained in op.ops:  # one op, or a chain
                inner[chained.results[0]] = rules.of(chained, [inner[v] for v in chained.operands])
            ranges[op.outputs[0]] = inner[op.ops[-1].results[0]]
        elif isinstance(op, circuit.DelayOp | circuit.CollectOp):
            ranges[op.output] = ranges[op.input]
        elif isinstance(op, fxp.FxpOp | fxp.MultiInputOp):
            ranges[op.results[0]] = rules.of(op, [ranges[v] for v in op.operands])
    return ranges


def overflow_warnings(function: func.FuncOp) -> list[tuple[str, str, str]]:
    """(node, op, message) for every result of an fxp-level function that can wrap for some
    inputs within the inputs' formats (interval arithmetic over the actual weights): the range
    it can take and a format that holds it."""
    wraps: dict[Operation, Loss] = {}
    value_ranges(function, wraps)
    found = []
    for op, (low, high, fmt, how) in wraps.items():
        needed = range_format(low, high, fmt.frac_bits).with_modes(fmt.rounding, fmt.overflow)
        what = "can wrap" if how == "wrap" else "saturates its table"
        found.append((
            op.node_name,  # type: ignore[attr-defined]
            op.name.removeprefix("fxp."),
            f"{what}: over the inputs' formats its results reach [{low * fmt.lsb:g}, "
            f"{high * fmt.lsb:g}], {fmt} holds [{fmt.min_value:g}, {fmt.max_value:g}]; "
            f"{needed} would hold them",
        ))
    return found


#: said once after the layers that can wrap
WRAP_ADVICE = (
    "layers that can wrap: give them wider result formats (--config), use --precision auto, "
    "saturate (SAT), or check with --inputs that real data stays in range"
)

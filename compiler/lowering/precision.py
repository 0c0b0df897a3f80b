"""nn → fxp lowering: precision assignment (configured, exact, inferred), the quantized
constants of dense and conv layers, and the sticky bias of layers whose results only reach
quantizers."""

from __future__ import annotations

import math

import numpy as np

from rtlflow.config import LayerConfig
from rtlflow.dialects import fxp, nn
from rtlflow.dialects.arrays import dense_from_numpy, numpy_from_dense
from rtlflow.dialects.traits import KeepsGrid, holds
from rtlflow.lowering.common import quant_format, quantize_constant
from rtlflow.numerics.fixed_point import (
    FixedFormat,
    dot_product_format,
    dot_product_range,
    range_format,
)
from rtlflow.numerics.quantization import exact_format


class Precision:
    """The result format of each op: configured, exact (quantization-aware models) or inferred
    from exact ranges (``precision: auto``); constants' formats."""

    def exact_result(self, op: nn.NnOp) -> FixedFormat | None:
        """In a quantization-aware model, the format that loses nothing: a dense or conv layer's
        exact accumulator, the input's format for ReLU, max pooling and reshapes (the model's
        quantizers do all the rounding). None where there is no such rule."""
        match op:
            case nn.DenseOp() | nn.ConvOp():
                return self.weighted(op, self.layer(op))["accumulator"].format
            case _ if holds(op, KeepsGrid):  # passes values on or picks among them
                return fxp.tensor_format(self.input(op))
            case nn.AddOp() | nn.SubOp() | nn.ConcatOp() if self.all_converted(op):
                low, high, frac = self.sum_range(op)
                return range_format(low, high, frac)
            case nn.ScaleShiftOp():
                return range_format(*self.scale_shift_range(op))
            case nn.PoolOp() if op.kind.data == "average":
                return range_format(*self.average_range(op))
        return None

    def average_scales(self, op: nn.PoolOp, layer: LayerConfig) -> tuple[np.ndarray, FixedFormat]:
        """An average pool's reciprocals of the tap counts, per output position, quantized."""
        fmt = layer.weight or DEFAULT_AVERAGE_SCALE
        counts = op.window.counts(bool(op.count_include_pad.value.data))
        return quantize_constant(1.0 / counts, fmt, op, "scale"), fmt

    def average_range(self, op: nn.PoolOp) -> tuple[int, int, int]:
        """The exact range (low, high, fractional bits) of an average pool's sums times its
        reciprocals: with the fractional bits the reciprocals need (1 for two taps, 2 for four:
        exact; all of the scale format's for three)."""
        fx = fxp.tensor_format(self.input(op))
        scales, fmt = self.average_scales(op, self.layer(op))
        counts = op.window.counts(bool(op.count_include_pad.value.data))
        scales = scales.astype(object)
        trailing = min((int(s) & -int(s)).bit_length() - 1 for s in scales if s) if scales.any() else 0
        terms = [int(c) * (int(s) >> trailing) for c, s in zip(counts.reshape(-1), scales.reshape(-1))]
        return min(fx.min_raw * max(terms), 0), fx.max_raw * max(terms), fx.frac_bits + fmt.frac_bits - trailing

    def all_converted(self, op: nn.NnOp) -> bool:
        return all(self.converted(v) for v in op.operands)

    def sum_range(self, op: nn.AddOp | nn.SubOp | nn.ConcatOp) -> tuple[int, int, int]:
        """The exact range (low, high, fractional bits) of a sum or difference of two
        activations, or of a concatenation (the union of its inputs' ranges)."""
        formats = [fxp.tensor_format(self.value(v)) for v in op.operands]
        top = max(f.frac_bits for f in formats)
        ends = [(f.min_raw << (top - f.frac_bits), f.max_raw << (top - f.frac_bits))
                for f in formats]  # fmt: skip
        if isinstance(op, nn.SubOp):
            ends[1] = (-ends[1][1], -ends[1][0])
        if isinstance(op, nn.ConcatOp):
            return min(e[0] for e in ends), max(e[1] for e in ends), top
        return sum(e[0] for e in ends), sum(e[1] for e in ends), top

    def inferred_result(self, op: nn.NnOp) -> FixedFormat | None:
        """``precision: auto``: the default precision's fractional bits, and the integer bits
        of the exact range of the result (interval arithmetic over the actual weights and the
        input's range), so that the result can never overflow. None: the default precision."""
        frac = self.precision.frac_bits
        modes = (self.precision.rounding, self.precision.overflow)
        match op:
            case nn.DenseOp() | nn.ConvOp():
                props = self.weighted(op, self.layer(op))
                weights = numpy_from_dense(props["weight"])
                acc_frac, low, high = dot_product_range(
                    weights.reshape(weights.shape[0], -1),
                    props["weight_type"].format,
                    numpy_from_dense(props["bias"]),
                    props["bias_type"].format,
                    fxp.tensor_format(self.input(op)),
                )
                fmt = _drop_to(low, high, acc_frac, frac)
            case nn.ReluOp():
                fx = fxp.tensor_format(self.input(op))
                fmt = range_format(0, max(fx.max_raw, 0), fx.frac_bits)
                fmt = FixedFormat(fmt.width, fmt.int_bits, signed=False)
            case nn.ReshapeOp() | nn.TransposeOp() | nn.PadOp():
                return fxp.tensor_format(self.input(op))
            case nn.PoolOp() if op.kind.data == "max":
                return fxp.tensor_format(self.input(op))
            case nn.AddOp() | nn.SubOp() | nn.ConcatOp() if self.all_converted(op):
                fmt = _drop_to(*self.sum_range(op), frac)
            case nn.AbsOp():
                fx = fxp.tensor_format(self.input(op))
                high = max(abs(fx.min_raw), fx.max_raw)
                fmt = _drop_to(0, high, fx.frac_bits, frac)
                fmt = FixedFormat(fmt.width, fmt.int_bits, signed=False)
            case nn.ScaleShiftOp():
                fmt = _drop_to(*self.scale_shift_range(op), frac)
            case nn.PoolOp():  # an average lies within its input's range (plus the rounding
                # of 1 / taps upwards: one bit of headroom)
                fx = fxp.tensor_format(self.input(op))
                fmt = _drop_to(2 * fx.min_raw, 2 * fx.max_raw, fx.frac_bits, frac)
            case nn.ClipOp():  # within the input's range and the bounds
                fx = fxp.tensor_format(self.input(op))
                low = fx.min_raw if op.low is None else max(
                    fx.min_raw, math.floor(op.low.value.data * 2.0**fx.frac_bits))
                high = fx.max_raw if op.high is None else min(
                    fx.max_raw, math.ceil(op.high.value.data * 2.0**fx.frac_bits))
                fmt = _drop_to(min(low, high), high, fx.frac_bits, frac)  # fmt: skip
            case nn.LeakyReluOp():  # x above 0, alpha x below
                fx = fxp.tensor_format(self.input(op))
                alpha = abs(op.alpha.value.data)
                grown = math.ceil(max(alpha, 1.0) * max(-fx.min_raw, fx.max_raw))
                fmt = _drop_to(-grown, grown, fx.frac_bits, frac)
            case nn.ExpOp():  # positive, up to exp of the table's last input
                from rtlflow.lowering.tables import DEFAULT_TABLE_RANGES

                fx = fxp.tensor_format(self.input(op))
                _, stop = self.layer(op).table_range or DEFAULT_TABLE_RANGES["exp"]
                top = math.exp(min(fx.max_value, stop))
                fmt = _unsigned(_drop_to(0, math.ceil(top * 2.0**frac) + 1, frac, frac))
            case nn.SoftplusOp():  # relu(x) + log(1 + exp(-|x|)): positive, up to x + log 2
                fx = fxp.tensor_format(self.input(op))
                top = max(fx.max_raw, 0) + math.ceil(math.log(2.0) * 2.0**fx.frac_bits) + 1
                fmt = _unsigned(_drop_to(0, top, fx.frac_bits, frac))
            case nn.EluOp():  # gamma relu(x) + gamma alpha expm1(min(x, 0)), expm1 in [-1, 0]
                fx = fxp.tensor_format(self.input(op))
                gamma, alpha = op.gamma.value.data, op.alpha.value.data
                margin = 1.0 + 2.0**-6  # the constants and the table as the lowering rounds them
                rising = sorted((0.0, gamma * max(fx.max_raw, 0) * margin))
                curve = sorted((0.0, -gamma * alpha * margin * 2.0**fx.frac_bits))
                low = math.floor(rising[0] + curve[0]) - 1
                fmt = _drop_to(low, math.ceil(rising[1] + curve[1]) + 1, fx.frac_bits, frac)
            case nn.LayerNormOp():  # normalised values reach sqrt(n - 1) for rows of n
                spread = math.sqrt(max(op.count - 1, 0)) * 1.125  # and the 1/sqrt table's error
                scales, biases = np.abs(op.scales), np.abs(op.biases)
                top = math.ceil(float((spread * scales + biases).max()) * 2.0**frac) + 1
                fmt = _drop_to(-top, top, frac, frac)
            case _:
                return None
        return fmt.with_modes(*modes)  # type: ignore[arg-type]

    def scale_shift_range(self, op: nn.ScaleShiftOp) -> tuple[int, int, int]:
        """The exact range (low, high, fractional bits) of a constant scale and shift of the
        input, with its constants as the lowering quantizes them."""
        fx = fxp.tensor_format(self.input(op))
        scale_format, offset_format = self.scale_shift_formats(op, self.layer(op))
        scale = quantize_constant(op.scales, scale_format, op, "scale").astype(object)
        offset = quantize_constant(op.shifts, offset_format, op, "offset").astype(object)
        top = max(fx.frac_bits + scale_format.frac_bits, offset_format.frac_bits)
        scale = scale * (1 << (top - fx.frac_bits - scale_format.frac_bits))
        offset = offset * (1 << (top - offset_format.frac_bits))
        ends = [np.asarray(scale * level + offset) for level in (fx.min_raw, fx.max_raw)]
        return int(min(e.min() for e in ends)), int(max(e.max() for e in ends)), top

    def scale_shift_formats(
        self, op: nn.ScaleShiftOp, layer: LayerConfig
    ) -> tuple[FixedFormat, FixedFormat]:
        """The formats of a constant scale and shift: configured, exact in a quantization-aware
        model, else the default constant format."""
        return (
            self.constant_format(op.scales, layer.weight),
            self.constant_format(op.shifts, layer.bias),
        )

    def weighted(self, op: nn.DenseOp | nn.ConvOp, layer: LayerConfig) -> dict:
        """The quantized weights and biases of a dense or conv layer and its exact
        accumulator (or the configured one), as fxp properties."""
        if op not in self.constants:
            self.constants[op] = self._weighted(op, layer)
        return self.constants[op]

    def _weighted(self, op: nn.DenseOp | nn.ConvOp, layer: LayerConfig) -> dict:
        carried = self.carried.get(op.operands[0])
        if carried is not None:
            return self._weighted_carried(op, carried)
        weight_format = self.constant_format(op.weights, layer.weight)
        bias_values = op.biases
        sticky = None
        if self.exact and layer.bias is None:
            sticky = sticky_bias_bits(
                op, fxp.tensor_format(self.input(op)).frac_bits + weight_format.frac_bits
            )
        if sticky is not None:
            bias_values = sticky_values(bias_values, sticky)
        bias_format = self.constant_format(bias_values, layer.bias)
        weights = quantize_constant(op.weights, weight_format, op, "weight")
        biases = quantize_constant(bias_values, bias_format, op, "bias")
        accumulator = layer.accumulator or dot_product_format(
            weights.reshape(weights.shape[0], -1),
            weight_format,
            biases,
            bias_format,
            fxp.tensor_format(self.input(op)),
        )
        return {
            "weight": dense_from_numpy(weights),
            "weight_type": fxp.FixedType.from_format(weight_format),
            "bias": dense_from_numpy(biases),
            "bias_type": fxp.FixedType.from_format(bias_format),
            "accumulator": fxp.FixedType.from_format(accumulator),
        }

    def constant_format(self, values: np.ndarray, configured: FixedFormat | None) -> FixedFormat:
        """A constant's format: configured, exact in a quantization-aware model, else the
        default precision rounding to nearest (``default_constant_format``)."""
        if configured is not None:
            return configured
        if self.exact:
            exact = exact_format(values)
            if exact is not None:
                return exact
        return default_constant_format(self.precision)


#: 1 / (taps of a window) for average pooling, unless configured (``weight``): exact for
#: power-of-two windows, else rounded
DEFAULT_AVERAGE_SCALE = FixedFormat(18, 1, signed=False, rounding="RND")


def _drop_to(low: int, high: int, frac: int, target: int) -> FixedFormat:
    """The format of the range [low, high] (raw, ``frac`` fractional bits) with at most
    ``target`` fractional bits: truncation keeps the range within floor bounds."""
    drop = max(0, frac - target)
    return range_format(low >> drop, high >> drop, frac - drop)


def _unsigned(fmt: FixedFormat) -> FixedFormat:
    """An unsigned format as wide as ``fmt`` with its integer bits (for a range from 0)."""
    return FixedFormat(fmt.width, fmt.int_bits, signed=False)


def default_constant_format(precision: FixedFormat) -> FixedFormat:
    """Weights, biases and other constants without a format of their own: the default
    precision, rounded to nearest (rounding a constant costs no hardware and halves its worst
    error against truncation; configure a format with TRN for ap_fixed's truncation)."""
    return precision.with_modes("RND")


def sticky_bias_bits(op: nn.DenseOp | nn.ConvOp, product_frac: int) -> int | None:
    """Fractional bits enough for the bias of a layer whose every result reaches quantizers
    (through ReLU, max pooling and moves): with G the finer of the products' LSB and half the
    quantizers' LSB, a float bias may be replaced by its value on the grid G plus half a step
    when it lies between grid points ("sticky" bit). Every sum then stays strictly between the
    same two multiples of G, and every later decision (ReLU, maxima, rounding ties, saturation
    bounds) sits on a multiple of G: the model's outputs do not change. None when the results
    go anywhere else."""
    pending, seen, finest = [op.output], set(), product_frac
    while pending:
        value = pending.pop()
        for use in value.uses:
            user = use.operation
            if user in seen:
                continue
            seen.add(user)
            if isinstance(user, nn.QuantOp):
                fmt = quant_format(user)
                if fmt is None:  # thresholds: decisions off the grid
                    return None
                finest = max(finest, fmt.frac_bits + 1)
            elif holds(user, KeepsGrid):
                pending.append(user.output)
            else:
                return None
    return finest + 1


def sticky_values(values: np.ndarray, frac: int) -> np.ndarray:
    """Each value on the grid 2^-(frac - 1), plus half a step when it lay between grid points."""
    step = 2.0 ** -(frac - 1)
    floor = np.floor(np.asarray(values, dtype=np.float64) / step) * step
    return floor + np.where(floor != values, step / 2, 0.0)

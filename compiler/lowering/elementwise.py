"""nn → fxp lowering, element-wise ops: ReLU, leaky ReLU, clip, constant scale and shift, the
sum of activations."""

from __future__ import annotations

import math

import numpy as np

from xdsl.ir import SSAValue

from rtlflow.config import LayerConfig
from rtlflow.dialects import fxp, nn
from rtlflow.dialects.arrays import dense_from_numpy
from rtlflow.lowering.common import (
    FamilyPattern,
    lowers,
    quantize_constant,
)
from rtlflow.numerics.fixed_point import FixedFormat, range_format


class ElementWise(FamilyPattern):
    """Element-wise ops."""

    @lowers(nn.AbsOp)
    def abs(self, op: nn.AbsOp, layer: LayerConfig, result: FixedFormat):
        return fxp.AbsOp(self.input(op), self.result_type(op, result), op.node_name)

    @lowers(nn.HardSigmoidOp)
    def hard_sigmoid(self, op: nn.HardSigmoidOp, layer: LayerConfig, result: FixedFormat):
        """``alpha * x + beta`` exactly (alpha and beta in the layer's weight and bias formats,
        default the precision, rounded to nearest), then clipped to [0, 1] into the result."""
        x = self.input(op)
        fx, shape = fxp.tensor_format(x), nn.shape_of(op.output)
        scale_format = (layer.weight or self.precision).with_modes("RND")
        offset_format = (layer.bias or self.precision).with_modes("RND")
        alpha = quantize_constant(np.array(op.alpha.value.data), scale_format, op, "alpha")
        beta = quantize_constant(np.array(op.beta.value.data), offset_format, op, "beta")
        frac = max(fx.frac_bits + scale_format.frac_bits, offset_format.frac_bits)
        scale = int(alpha) << (frac - fx.frac_bits - scale_format.frac_bits)
        offset = int(beta) << (frac - offset_format.frac_bits)
        ends = [scale * v + offset for v in (fx.min_raw, fx.max_raw)]
        affine = fxp.ScaleShiftOp(
            x,
            fxp.fixed_tensor(shape, range_format(min(ends), max(ends), frac)),
            op.node_name,
            scale=dense_from_numpy(np.full(shape, int(alpha), dtype=np.int64)),
            scale_type=fxp.FixedType.from_format(scale_format),
            offset=dense_from_numpy(np.full(shape, int(beta), dtype=np.int64)),
            offset_type=fxp.FixedType.from_format(offset_format),
        )
        self.insert(affine)
        return fxp.ClipOp(
            affine.output,
            self.result_type(op, result),
            op.node_name,
            low=fxp.int_prop(0),
            high=fxp.int_prop(1 << frac),  # 1 in the LSB of the affine result
        )

    @lowers(nn.ReluOp)
    def relu(self, op: nn.ReluOp, layer: LayerConfig, result: FixedFormat):
        return fxp.ReluOp(self.input(op), self.result_type(op, result), op.node_name)

    @lowers(nn.AddOp)
    def add(self, op: nn.AddOp, layer: LayerConfig, result: FixedFormat):
        inputs = self.activations(op, "adding")
        return fxp.AddOp(list(inputs), self.result_type(op, result), op.node_name)

    @lowers(nn.SubOp)
    def sub(self, op: nn.SubOp, layer: LayerConfig, result: FixedFormat):
        """``a - b`` as ``a + (-1) b``: the negation is exact (one more integer bit)."""
        a, b = self.activations(op, "subtracting")
        negated = negation(b, op.node_name)
        self.insert(negated)
        return fxp.AddOp([a, negated.output], self.result_type(op, result), op.node_name)

    @lowers(nn.ScaleShiftOp)
    def scale_shift(
        self, op: nn.ScaleShiftOp, layer: LayerConfig, result: FixedFormat
    ) -> fxp.ScaleShiftOp:
        x = self.input(op)
        scale_format, offset_format = self.lowering.scale_shift_formats(op, layer)
        scale = quantize_constant(op.scales, scale_format, op, "scale")
        offset = quantize_constant(op.shifts, offset_format, op, "offset")
        return fxp.ScaleShiftOp(
            x,
            self.result_type(op, result),
            op.node_name,
            scale=dense_from_numpy(scale),
            scale_type=fxp.FixedType.from_format(scale_format),
            offset=dense_from_numpy(offset),
            offset_type=fxp.FixedType.from_format(offset_format),
        )

    @lowers(nn.LeakyReluOp)
    def leaky_relu(self, op: nn.LeakyReluOp, layer: LayerConfig, result: FixedFormat):
        alpha = op.alpha.value.data
        alpha_format = FixedFormat(18, max(1, int(abs(alpha)).bit_length() + 1), rounding="RND")
        raw = quantize_constant(np.array(alpha), alpha_format, op, "alpha")
        return fxp.LeakyReluOp(
            self.input(op),
            self.result_type(op, result),
            op.node_name,
            alpha=fxp.int_prop(int(raw)),
            alpha_type=fxp.FixedType.from_format(alpha_format),
        )

    @lowers(nn.ClipOp)
    def clip(self, op: nn.ClipOp, layer: LayerConfig, result: FixedFormat):
        x = self.input(op)
        fmt = fxp.tensor_format(x)
        scale = 2.0**fmt.frac_bits
        low = fmt.min_raw if op.low is None else math.ceil(op.low.value.data * scale)
        high = fmt.max_raw if op.high is None else math.floor(op.high.value.data * scale)
        low, high = max(low, fmt.min_raw), min(high, fmt.max_raw)
        low = min(low, high)  # bounds that cross (ONNX: min > max gives max everywhere)
        return fxp.ClipOp(
            x,
            self.result_type(op, result),
            op.node_name,
            low=fxp.int_prop(low),
            high=fxp.int_prop(high),
        )


def rectified(x: SSAValue, node: str) -> fxp.ReluOp:
    """``relu(x)``, exact."""
    fx = fxp.tensor_format(x)
    fmt = unsigned_range(max(fx.max_raw, 0), fx.frac_bits)
    return fxp.ReluOp(x, fxp.fixed_tensor(fxp.tensor_shape(x), fmt), node)


def unsigned_range(high: int, frac: int) -> FixedFormat:
    """The unsigned format of [0, high] (raw, ``frac`` fractional bits)."""
    fmt = range_format(0, high, frac)
    return FixedFormat(fmt.width, fmt.int_bits, signed=False)


def negation(x: SSAValue, node: str) -> fxp.ScaleShiftOp:
    """``-x``, exactly: a scale of -1 into the negated range."""
    fx, shape = fxp.tensor_format(x), fxp.tensor_shape(x)
    unit = FixedFormat(2, 2)  # -1 and 0, exact
    return fxp.ScaleShiftOp(
        x,
        fxp.fixed_tensor(shape, range_format(-fx.max_raw, -fx.min_raw, fx.frac_bits)),
        node,
        scale=dense_from_numpy(np.full(shape, -1, dtype=np.int64)),
        scale_type=fxp.FixedType.from_format(unit),
        offset=dense_from_numpy(np.zeros(shape, dtype=np.int64)),
        offset_type=fxp.FixedType.from_format(unit),
    )

"""ONNX import, quantization-aware exports: QONNX Quant / BipolarQuant / Trunc, and QuantizeLinear →
[Clip →] DequantizeLinear chains, each becoming one ``nn.quant``."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import onnx
from xdsl.dialects.builtin import IntegerAttr, StringAttr, i64
from xdsl.ir import SSAValue

from rtlflow.dialects import nn
from rtlflow.dialects.arrays import dense_from_numpy
from rtlflow.frontend.importer import QUANTIZERS, Importer, handles
from rtlflow.numerics import quantization


@dataclass(frozen=True)
class PendingQuantize:
    """``clamp(round(x / scale) + zero_point, low, high)`` of an activation (QuantizeLinear, maybe
    narrowed by a Clip), to become one ``nn.quant`` at its DequantizeLinear."""

    source: str
    scale: np.ndarray
    zero_point: np.ndarray
    low: int
    high: int
    axis: int


def _scalar(im: Importer, name: str, what: str) -> float:
    value = np.asarray(im.constant(name, what), dtype=np.float64)
    if value.size != 1:
        im.fail(f"{what} must be a scalar, got shape {list(value.shape)}")
    return float(value.reshape(-1)[0])


@handles(*QUANTIZERS, quantizer=True)
def _quantizer(im: Importer, node: onnx.NodeProto) -> None:
    """QONNX Quant / BipolarQuant / Trunc: folded on constants, ``nn.quant`` on activations."""
    inputs = [name for name in node.input if name]
    for name in inputs[1:]:
        im.constant(name, f"{node.op_type}'s quantization parameter '{name}'")
    if node.op_type == "BipolarQuant":
        scale = im.constants[inputs[1]]
        if np.any(np.asarray(scale) <= 0):
            im.fail("scales must be positive")
        if inputs[0] not in im.constants:
            _define_quant(
                im, node, im.activation(inputs[0]), scale, np.zeros(()), -1, 1, quantization.BIPOLAR
            )
            return
        im.constants[node.output[0]] = quantization.bipolar(im.constants[inputs[0]], scale).astype(
            np.float32
        )
        return
    rounding = im.text(node, "rounding_mode", "ROUND" if node.op_type != "Trunc" else "FLOOR")
    if rounding not in quantization.ROUNDING or rounding == quantization.BIPOLAR:
        im.fail(
            f"rounding_mode '{rounding}' is unknown (known: {', '.join(quantization.ROUNDING)})"
        )
    if node.op_type == "Trunc":
        if len(inputs) != 5:
            im.fail("only the five-input Trunc (input and output bit widths) is supported")
        bits_in, bits_out = (int(_scalar(im, n, "bit width")) for n in inputs[3:5])
        if bits_out > bits_in:
            im.fail(f"Trunc's output bit width {bits_out} exceeds its input bit width {bits_in}")
        if inputs[0] not in im.constants:  # unclamped: the input's range bounds the levels
            scale, zero_point = im.constants[inputs[1]], im.constants[inputs[2]]
            if np.any(np.asarray(scale) <= 0):
                im.fail("scales must be positive")
            x = im.activation(inputs[0])
            _define_quant(
                im, node, x, scale, zero_point, -(2**62), 2**62, rounding, bits_in - bits_out
            )
            return
        x, scale, zero_point = (im.constants[n] for n in inputs[:3])
        im.constants[node.output[0]] = quantization.trunc(
            x, scale, zero_point, bits_in, bits_out, rounding
        ).astype(np.float32)
        return
    bits = _scalar(im, inputs[3], "Quant's bit width")
    if bits != int(bits) or bits < 1:
        im.fail(f"bit width must be a positive integer, got {bits:g}")
    signed = bool(im.attribute(node, "signed", 1, kind=onnx.AttributeProto.INT))
    narrow = bool(im.attribute(node, "narrow", 0, kind=onnx.AttributeProto.INT))
    if signed and bits == 1:  # QONNX treats a signed 1-bit Quant as bipolar
        if np.any(np.asarray(im.constants[inputs[1]]) <= 0):
            im.fail("scales must be positive")
        if inputs[0] not in im.constants:
            scale, zero_point = im.constants[inputs[1]], im.constants[inputs[2]]
            x = im.activation(inputs[0])
            _define_quant(im, node, x, scale, zero_point, -1, 1, quantization.BIPOLAR)
            return
        value = im.constants[inputs[0]] / im.constants[inputs[1]] + im.constants[inputs[2]]
        bipolar = np.where(value >= 0, 1.0, -1.0)
        result = (bipolar - im.constants[inputs[2]]) * im.constants[inputs[1]]
        im.constants[node.output[0]] = np.asarray(result, dtype=np.float32)
        return
    low, high = quantization.integer_bounds(int(bits), signed, narrow)
    scale, zero_point = im.constants[inputs[1]], im.constants[inputs[2]]
    if np.any(np.asarray(scale) <= 0):
        im.fail("scales must be positive")
    if inputs[0] in im.constants:  # weights: quantized now
        value = quantization.quantize(
            im.constants[inputs[0]], scale, zero_point, low, high, rounding
        )
        im.constants[node.output[0]] = value.astype(np.float32)
        return
    _define_quant(im, node, im.activation(inputs[0]), scale, zero_point, low, high, rounding)


def _define_quant(
    im, node, x: SSAValue, scale, zero_point, low: int, high: int, rounding: str, shift: int = 0
) -> None:
    shape = nn.shape_of(x)
    try:
        np.broadcast_to(np.asarray(scale), shape)
        np.broadcast_to(np.asarray(zero_point), shape)
    except ValueError:
        im.fail(
            f"scale / zero point of shape {list(np.shape(scale))} do not broadcast to {list(shape)}"
        )
    op = nn.QuantOp(
        x,
        x.type,
        im.node_name,
        scale=dense_from_numpy(np.asarray(scale, dtype=np.float32)),
        zero_point=dense_from_numpy(np.asarray(zero_point, dtype=np.float32)),
        low=IntegerAttr(low, i64),
        high=IntegerAttr(high, i64),
        rounding=StringAttr(rounding),
    )
    if shift:
        op.properties["shift"] = IntegerAttr(shift, i64)
    im.define(node, op.output)


_INTEGER_RANGES = {
    onnx.TensorProto.INT8: (-128, 127),
    onnx.TensorProto.UINT8: (0, 255),
    onnx.TensorProto.INT16: (-(2**15), 2**15 - 1),
    onnx.TensorProto.UINT16: (0, 2**16 - 1),
    onnx.TensorProto.INT4: (-8, 7),
    onnx.TensorProto.UINT4: (0, 15),
}


def _per_axis(value: np.ndarray, axis: int, rank: int) -> np.ndarray:
    """A per-axis (1-D) QDQ parameter reshaped to broadcast along ``axis``."""
    value = np.asarray(value)
    if value.ndim == 0 or value.size == 1:
        return value.reshape(())
    shape = [1] * rank
    shape[axis] = value.size
    return value.reshape(shape)


@handles("QuantizeLinear")
def _quantize_linear(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    rank = len(nn.shape_of(x))
    if im.attribute(node, "block_size", 0):
        im.fail("blocked quantization (block_size) is not supported")
    axis = int(im.attribute(node, "axis", 1))
    scale = im.constant(node.input[1], "QuantizeLinear's scale")
    axis = im.axis(axis, rank) if np.size(scale) > 1 else axis % max(rank, 1)  # per axis
    if len(node.input) > 2 and node.input[2]:
        zero_point = im.constant(node.input[2], "QuantizeLinear's zero point")
        dtype = (
            onnx.helper.np_dtype_to_tensor_dtype(zero_point.dtype)
            if zero_point.dtype != object
            else 0
        )
    else:
        zero_point, dtype = (
            np.zeros(()),
            int(im.attribute(node, "output_dtype", onnx.TensorProto.UINT8)),
        )
    if dtype not in _INTEGER_RANGES:
        im.fail(f"QuantizeLinear to {onnx.TensorProto.DataType.Name(dtype)} is not supported")
    low, high = _INTEGER_RANGES[dtype]
    im.integers[node.output[0]] = PendingQuantize(
        node.input[0],
        _per_axis(scale, axis, rank).astype(np.float64),
        _per_axis(zero_point, axis, rank).astype(np.float64),
        low,
        high,
        axis,
    )


@handles("DequantizeLinear")
def _dequantize_linear(im: Importer, node: onnx.NodeProto) -> None:
    if node.input[0] not in im.integers:
        im.fail("DequantizeLinear of an activation must read a QuantizeLinear result")
    pending = im.integers[node.input[0]]
    x = im.activation(pending.source)
    rank = len(nn.shape_of(x))
    scale = _per_axis(im.constant(node.input[1], "DequantizeLinear's scale"), pending.axis, rank)
    zero_point = np.zeros(())
    if len(node.input) > 2 and node.input[2]:
        zero_point = _per_axis(im.constant(node.input[2], "zero point"), pending.axis, rank)
    if not (
        np.array_equal(scale, pending.scale) and np.array_equal(zero_point, pending.zero_point)
    ):
        im.fail("DequantizeLinear must use its QuantizeLinear's scale and zero point")
    # QuantizeLinear rounds before it adds the zero point: (clamp(round(x / s) + z, lo, hi) - z) * s
    # is the quantizer with zero point 0 and the bounds moved by -z
    if np.unique(zero_point).size > 1:
        im.fail("per-axis zero points on activations are not supported (per-axis scales are)")
    shift = int(np.asarray(zero_point).reshape(-1)[0])
    _define_quant(
        im, node, x, scale, np.zeros(()), pending.low - shift, pending.high - shift, "ROUND"
    )


def clip_integers(im: Importer, node: onnx.NodeProto, low: float | None, high: float | None):
    """A Clip between QuantizeLinear and DequantizeLinear: the integer bounds narrowed by the
    finite ``low`` and ``high`` (None: no bound)."""
    pending = im.integers[node.input[0]]
    low = pending.low if low is None else max(pending.low, math.ceil(low))
    high = pending.high if high is None else min(pending.high, math.floor(high))
    im.integers[node.output[0]] = replace(pending, low=low, high=high)

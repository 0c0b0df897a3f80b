"""ONNX import, convolutional networks: convolution, pooling (global too) and BatchNormalization."""

from __future__ import annotations

import math

import numpy as np
import onnx
from xdsl.ir import SSAValue

from rtlflow.dialects import nn
from rtlflow.frontend.importer import Importer, handles
from rtlflow.numerics.windows import Window, auto_pads


def _spatial(im: Importer, x: SSAValue) -> tuple[int, ...]:
    shape = nn.shape_of(x)
    if len(shape) < 3:
        im.fail(f"expects an [N, C, spatial...] input, got shape {list(shape)}")
    return shape[2:]


def _window(im: Importer, node: onnx.NodeProto, x: SSAValue, kernel, ceil_mode=False) -> Window:
    sizes = _spatial(im, x)
    rank = len(sizes)
    kernel = [int(k) for k in kernel]
    if len(kernel) != rank:
        im.fail(f"kernel {kernel} does not match the input's {rank} spatial axes")
    strides = [int(s) for s in im.attribute(node, "strides", [1] * rank)]
    dilations = [int(d) for d in im.attribute(node, "dilations", [1] * rank)]
    auto_pad = im.attribute(node, "auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = auto_pads(auto_pad, sizes, kernel, strides, dilations)
    elif auto_pad in ("NOTSET", "VALID"):
        pads = [int(p) for p in im.attribute(node, "pads", [0] * 2 * rank)]
        if auto_pad == "VALID":
            pads = [0] * 2 * rank
    else:
        im.fail(f"unknown auto_pad '{auto_pad}'")
    if (
        (len(strides), len(dilations), len(pads)) != (rank, rank, 2 * rank)
        or min(strides + dilations) < 1
        or min(pads) < 0
    ):
        im.fail(f"invalid strides {strides}, dilations {dilations} or pads {pads}")
    try:
        return Window.create(sizes, kernel, strides, pads, dilations, bool(ceil_mode))
    except ValueError as error:
        im.fail(str(error))


@handles("Conv")
def _conv(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    weight = im.constant(node.input[1], "Conv's weight").astype(np.float64)
    _spatial(im, x)
    c_in = nn.shape_of(x)[1]
    group = int(im.attribute(node, "group", 1))
    kernel = im.attribute(node, "kernel_shape", list(weight.shape[2:]))
    if weight.ndim != len(nn.shape_of(x)) or [int(k) for k in kernel] != list(weight.shape[2:]):
        im.fail(
            f"weight {list(weight.shape)} does not fit kernel_shape {list(kernel)} and an input of "
            f"shape {list(nn.shape_of(x))}"
        )
    if weight.size == 0:
        im.fail(f"the weight is empty (shape {list(weight.shape)})")
    if group < 1 or c_in % group or weight.shape[0] % group or weight.shape[1] * group != c_in:
        im.fail(f"weight {list(weight.shape)} and group {group} do not fit {c_in} input channels")
    window = _window(im, node, x, kernel)
    bias = np.zeros(weight.shape[0])
    if len(node.input) > 2 and node.input[2]:
        bias = im.constant(node.input[2], "Conv's bias").astype(np.float64).reshape(-1)
        if bias.shape != (weight.shape[0],):
            im.fail(f"bias of {bias.size} values for {weight.shape[0]} output channels")
    im.define(node, nn.ConvOp.from_arrays(x, weight, bias, window, group, im.node_name).output)


@handles("MaxPool", "AveragePool")
def _pool(im: Importer, node: onnx.NodeProto) -> None:
    if len([o for o in node.output if o]) > 1:
        im.fail("MaxPool's Indices output is not supported")
    x = im.activation(node.input[0])
    if int(im.attribute(node, "storage_order", 0)):
        im.fail("storage_order 1 is not supported")
    window = _window(
        im, node, x, im.attribute(node, "kernel_shape"), im.attribute(node, "ceil_mode", 0)
    )
    kind = "max" if node.op_type == "MaxPool" else "average"
    include = bool(im.attribute(node, "count_include_pad", 0))
    im.define(node, nn.PoolOp.from_window(x, kind, window, include, im.node_name).output)


def global_pool(im: Importer, x: SSAValue, kind: str) -> SSAValue:
    window = Window.create(_spatial(im, x), _spatial(im, x))
    return nn.PoolOp.from_window(x, kind, window, False, im.node_name).output


@handles("GlobalAveragePool", "GlobalMaxPool")
def _global(im: Importer, node: onnx.NodeProto) -> None:
    kind = "max" if node.op_type == "GlobalMaxPool" else "average"
    im.define(node, global_pool(im, im.activation(node.input[0]), kind))


@handles("BatchNormalization")
def _batch_norm(im: Importer, node: onnx.NodeProto) -> None:
    if int(im.attribute(node, "training_mode", 0)) or len([o for o in node.output if o]) > 1:
        im.fail("BatchNormalization in training mode cannot be built as hardware")
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    gamma, beta, mean, var = (
        im.constant(name, "BatchNormalization's parameters").astype(np.float64)
        for name in node.input[1:5]
    )
    per_channel = (1, shape[1]) + (1,) * (len(shape) - 2) if len(shape) > 1 else shape
    sizes = [p.size for p in (gamma, beta, mean, var)]
    if any(size != math.prod(per_channel) for size in sizes):
        im.fail(f"parameters of {sizes} values for {math.prod(per_channel)} channels")
    epsilon = float(im.attribute(node, "epsilon", 1e-5))
    scale = gamma.reshape(-1) / np.sqrt(var.reshape(-1) + epsilon)
    shift = beta.reshape(-1) - mean.reshape(-1) * scale
    op = nn.ScaleShiftOp.from_arrays(
        x, scale.reshape(per_channel), shift.reshape(per_channel), im.node_name
    )
    im.define(node, op.output)

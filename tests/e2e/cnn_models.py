"""Small convolutional ONNX models built in code for the end-to-end CNN tests.

Every model stays at a few hundred outputs or fewer so that its Verilator build is quick. They use
the ``Graph`` builder of :mod:`tests.e2e.models` (opset 17, IR version 8); the helpers here add
convolution weights and BatchNormalization parameters.
"""

from __future__ import annotations

import numpy as np
import onnx

from tests.e2e.models import Graph


def conv(g: Graph, x: str, c_in: int, c_out: int, kernel, group: int = 1, bias: bool = True,
         scale: float = 0.4, **attributes) -> str:
    """A Conv node with random weights [c_out, c_in / group, *kernel] (and bias)."""
    kernel = list(kernel)
    weight = g.constant(g.rng.normal(0, scale, (c_out, c_in // group, *kernel)))
    inputs = [x, weight]
    if bias:
        inputs.append(g.constant(g.rng.normal(0, 0.3, c_out)))
    return g.node("Conv", inputs, kernel_shape=kernel, group=group, **attributes)


def batch_norm(g: Graph, x: str, channels: int, epsilon: float = 1e-3) -> str:
    """Inference-mode BatchNormalization with random, clearly non-trivial statistics."""
    gamma = g.constant(g.rng.uniform(0.5, 1.5, channels))
    beta = g.constant(g.rng.normal(0, 0.5, channels))
    mean = g.constant(g.rng.normal(0, 0.5, channels))
    var = g.constant(g.rng.uniform(0.5, 2.0, channels))
    return g.node("BatchNormalization", [x, gamma, beta, mean, var], epsilon=epsilon)


# ---- 1. Conv1D: stride 2, explicit asymmetric pads, dilation 2 ---------------------------------


def conv1d_strided_dilated() -> onnx.ModelProto:
    """[1, 2, 12] → Conv1D (k 3, stride 2, pads [2, 1], dilation 2) → Relu → Conv1D (k 2)."""
    g = Graph("conv1d_strided_dilated", {"x": [1, 2, 12]}, seed=11)
    # span 5: floor((12 + 3 - 5) / 2) + 1 = 6 positions
    h = conv(g, "x", 2, 3, [3], strides=[2], pads=[2, 1], dilations=[2])
    h = g.node("Relu", [h])
    # second conv: plain k 2, 6 → 5 positions, 4 channels
    return g.model({"y": conv(g, h, 3, 4, [2])})


# ---- 2. depthwise and depth multiplier -------------------------------------------------------


def depthwise(auto_pad: str = "SAME_UPPER", stride: int = 2) -> onnx.ModelProto:
    """[1, 3, 6, 6] → depthwise 3x3 (group 3, auto_pad, bias) → Relu
    → depth multiplier 2x2 (group 3, 6 channels, no bias, explicit pads)."""
    g = Graph(f"depthwise_{auto_pad.lower()}", {"x": [1, 3, 6, 6]}, seed=12)
    h = conv(g, "x", 3, 3, [3, 3], group=3, auto_pad=auto_pad, strides=[stride, stride], scale=0.5)
    h = g.node("Relu", [h])
    side = -(-6 // stride)  # SAME: ceil(6 / stride)
    assert side >= 2
    # depth multiplier: 2 output channels per input channel; pads [1, 0, 0, 1] (asymmetric)
    y = conv(g, h, 3, 6, [2, 2], group=3, bias=False, pads=[1, 0, 0, 1], scale=0.6)
    return g.model({"y": y})


# ---- 3. average pooling --------------------------------------------------------------------


def average_pools() -> onnx.ModelProto:
    """Five AveragePools of one [1, 2, 5, 5] input: padding counted or not, ceil mode."""
    g = Graph("average_pools", {"x": [1, 2, 5, 5]}, seed=13)
    excluded = g.node("AveragePool", ["x"], kernel_shape=[3, 3], strides=[2, 2],
                      pads=[1, 1, 1, 1], count_include_pad=0)
    included = g.node("AveragePool", ["x"], kernel_shape=[3, 3], strides=[2, 2],
                      pads=[1, 1, 1, 1], count_include_pad=1)
    # ceil mode: ceil((5 - 2) / 2) + 1 = 3 windows per axis, the last one 1 pixel wide
    ceil = g.node("AveragePool", ["x"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    # ceil mode with begin padding 1: windows [-1, 1], [1, 3], [3, 5], the last one reaching
    # beyond the input (which never counts); padding counted or not
    ceil_padded = g.node("AveragePool", ["x"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 0, 0], ceil_mode=1, count_include_pad=0)
    ceil_included = g.node("AveragePool", ["x"], kernel_shape=[3, 3], strides=[2, 2],
                           pads=[1, 1, 0, 0], ceil_mode=1, count_include_pad=1)
    return g.model({"excluded": excluded, "included": included, "ceil": ceil,
                    "ceil_padded": ceil_padded, "ceil_included": ceil_included})


# ---- 4. residual block -----------------------------------------------------------------------


def residual_block() -> onnx.ModelProto:
    """x → Conv(pad 1) → Relu → Conv(pad 1) → Add(x) → Relu → GlobalAveragePool → Flatten
    → Gemm."""
    g = Graph("residual_block", {"x": [1, 2, 3, 4]}, seed=14)
    h = g.node("Relu", [conv(g, "x", 2, 2, [3, 3], pads=[1, 1, 1, 1], scale=0.4)])
    h = conv(g, h, 2, 2, [3, 3], pads=[1, 1, 1, 1], scale=0.4)
    h = g.node("Relu", [g.node("Add", [h, "x"])])
    h = g.node("Flatten", [g.node("GlobalAveragePool", [h])], axis=1)  # mean of 12 pixels
    return g.model({"y": g.dense(h, 2, 4)})


# ---- 5. BatchNormalization -------------------------------------------------------------------


def conv_bn_relu() -> onnx.ModelProto:
    """Conv → BatchNormalization → Relu (the BN folds into the conv's weights and bias)."""
    g = Graph("conv_bn_relu", {"x": [1, 2, 4, 4]}, seed=15)
    h = conv(g, "x", 2, 3, [3, 3], strides=[2, 2], pads=[1, 1, 1, 1])  # [1, 3, 2, 2]
    h = g.node("Relu", [batch_norm(g, h, 3)])
    return g.model({"y": h})


def bn_before_padded_conv() -> onnx.ModelProto:
    """BatchNormalization → Conv(pad 1) → Relu: padding zeros are not normalised, so the BN
    cannot fold into the conv and stays a scale-shift unit."""
    g = Graph("bn_before_padded_conv", {"x": [1, 2, 4, 4]}, seed=16)
    h = batch_norm(g, "x", 2)
    h = conv(g, h, 2, 2, [3, 3], strides=[2, 2], pads=[1, 1, 1, 1], scale=0.3)  # [1, 2, 2, 2]
    return g.model({"y": g.node("Relu", [h])})


# ---- 6. Keras-style NHWC wrappers ------------------------------------------------------------


def keras_nhwc() -> onnx.ModelProto:
    """NHWC input; every Conv wrapped in NHWC↔NCHW transposes, as Keras converters write them."""
    g = Graph("keras_nhwc", {"x": [1, 4, 3, 2]}, seed=17)  # H 4, W 3, C 2
    to_nchw, to_nhwc = [0, 3, 1, 2], [0, 2, 3, 1]
    h = g.node("Transpose", ["x"], perm=to_nchw)
    # [1, 2, 4, 3] → k 3, pads 1, strides (2, 1) → [1, 2, 2, 3]
    h = conv(g, h, 2, 2, [3, 3], strides=[2, 1], pads=[1, 1, 1, 1], scale=0.4)
    h = g.node("Relu", [g.node("Transpose", [h], perm=to_nhwc)])
    h = g.node("Transpose", [h], perm=to_nchw)
    h = g.node("Transpose", [conv(g, h, 2, 3, [1, 1], scale=0.6)], perm=to_nhwc)  # [1, 2, 3, 3]
    h = g.node("Flatten", [h], axis=1)  # [1, 18] in NHWC order
    return g.model({"y": g.dense(h, 18, 3, scale=0.3)})


# ---- 7. max pooling, global pools, reductions, concat, pad -----------------------------------


def branches_and_pools() -> onnx.ModelProto:
    """Two conv branches (one behind a zero Pad) concatenated along channels, then MaxPool with
    pads and stride != kernel, GlobalMaxPool, ReduceMean over [2, 3] and ReduceMax."""
    g = Graph("branches_and_pools", {"x": [1, 1, 4, 4]}, seed=18)
    # Pad rows by 1 at the begin and columns by 1 at the end; the conv pads rows by 1 at the end
    # and columns by 1 at the begin: 6 x 6 in all, so a 3 x 3 kernel gives 4 x 4
    padded = g.node("Pad", ["x", g.constant(np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64))],
                    mode="constant")
    left = conv(g, padded, 1, 2, [3, 3], pads=[0, 1, 1, 0], scale=0.5)  # [1, 2, 4, 4]
    # no Relu on the left branch: negative values reach the MaxPool
    right = g.node("Relu", [conv(g, "x", 1, 2, [1, 1], scale=0.8)])  # [1, 2, 4, 4]
    joined = g.node("Concat", [left, right], axis=1)  # [1, 4, 4, 4]
    # floor((4 + 2 - 3) / 2) + 1 = 2 positions per axis; the first windows include the padding
    pooled = g.node("MaxPool", [joined], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    global_max = g.node("Flatten", [g.node("GlobalMaxPool", [joined])], axis=1)
    mean = g.node("ReduceMean", [joined], axes=[2, 3], keepdims=0)
    peak = g.node("ReduceMax", [joined], axes=[2, 3], keepdims=1)
    return g.model({"pooled": pooled, "global_max": global_max, "mean": mean, "peak": peak})


def pad_then_conv() -> onnx.ModelProto:
    """A zero Pad of the spatial axes in front of a Conv that has padding of its own."""
    g = Graph("pad_then_conv", {"x": [1, 2, 4, 4]}, seed=19)
    padded = g.node("Pad", ["x", g.constant(np.array([0, 0, 2, 0, 0, 0, 1, 1], np.int64))],
                    mode="constant")
    h = conv(g, padded, 2, 3, [3, 3], pads=[0, 1, 0, 1], scale=0.3)
    return g.model({"y": g.node("Relu", [h])})


def ceil_window_in_end_padding() -> onnx.ModelProto:
    """Ceil-mode pools on 4 x 4 with k 2, s 2 and end pads 1: ceil((4 + 1 - 2) / 2) + 1 = 3, but
    the third window would start at 4, in the end padding only, and ONNX drops it: 2 x 2. (onnx's
    own shape inference declares 3 x 3 outputs; onnxruntime computes 2 x 2.)"""
    g = Graph("ceil_window_in_end_padding", {"x": [1, 1, 4, 4]}, seed=20)
    common = {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 1, 1], "ceil_mode": 1}
    return g.model({
        "max": g.node("MaxPool", ["x"], **common),
        "average": g.node("AveragePool", ["x"], count_include_pad=1, **common),
    })

"""ONNX import, normalisations: Softmax, LayerNormalization, and the reductions (ReduceMean,
ReduceMax, ReduceMin, ReduceSum), including the decomposed LayerNorm that older exporters write
with ReduceMean."""

from __future__ import annotations

import numpy as np
import onnx
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, f64, i64

from rtlflow.dialects import nn
from rtlflow.dialects.arrays import dense_from_numpy
from rtlflow.frontend.importer import Importer, handles, name_hint
from rtlflow.frontend.windows import global_pool


@handles("Softmax")
def _softmax(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    rank = len(shape)
    axis = int(im.attribute(node, "axis", 1 if im.opset < 13 else -1))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        im.fail(f"axis {axis} is outside a rank-{rank} tensor")
    if im.opset < 13 and axis != rank - 1:
        # Before opset 13, Softmax normalises over all axes from `axis` on, flattened.
        flat = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
        y = nn.SoftmaxOp(
            im.reshape(x, flat), im.float_tensor(flat), im.node_name, axis=IntegerAttr(1, i64)
        ).output
        im.define(node, im.reshape(y, shape))
        return
    if axis != rank - 1:  # the hardware normalises the last axis: move the axis there and back
        perm = [a for a in range(rank) if a != axis] + [axis]
        moved = im.transposed(x, perm)
        y = nn.SoftmaxOp(moved, moved.type, im.node_name, axis=IntegerAttr(rank - 1, i64)).output
        im.define(node, im.transposed(y, list(np.argsort(perm))))
        return
    im.define(node, nn.SoftmaxOp(x, x.type, im.node_name, axis=IntegerAttr(axis, i64)).output)


@handles("LayerNormalization")
def _layer_norm(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    axis = int(im.attribute(node, "axis", -1))
    if not -len(shape) <= axis < len(shape):
        im.fail(f"axis {axis} is outside a rank-{len(shape)} tensor")
    axis %= len(shape)
    normalised = shape[axis:]
    if len(node.output) > 1 and any(node.output[1:]):
        im.fail("the Mean and InvStdDev outputs (training) are not supported")
    scale = im.constant(node.input[1], "LayerNormalization's scale")
    bias = np.zeros(normalised)
    if len(node.input) > 2 and node.input[2]:
        bias = im.constant(node.input[2], "LayerNormalization's bias")
    try:
        scale, bias = np.broadcast_to(scale, normalised), np.broadcast_to(bias, normalised)
    except ValueError:
        im.fail(
            f"scale {list(np.shape(scale))} or bias {list(np.shape(bias))} does not broadcast to "
            f"the normalised axes {list(normalised)}"
        )
    op = nn.LayerNormOp(
        x,
        x.type,
        im.node_name,
        scale=dense_from_numpy(np.asarray(scale, np.float32).reshape(-1)),
        bias=dense_from_numpy(np.asarray(bias, np.float32).reshape(-1)),
        epsilon=FloatAttr(float(im.attribute(node, "epsilon", 1e-5)), f64),
        axis=IntegerAttr(axis, i64),
    )
    im.define(node, op.output)


def _reduce_axes(im: Importer, node: onnx.NodeProto, rank: int) -> list[int]:
    if im.opset >= 18 or (node.op_type == "ReduceSum" and im.opset >= 13):  # axes: an input
        axes = None
        if len(node.input) > 1 and node.input[1]:
            axes = [int(a) for a in im.constant(node.input[1], "axes").reshape(-1)]
    else:
        axes = im.attribute(node, "axes")
    return sorted(im.axis(int(a), rank) for a in (axes or []))


@handles("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum")
def _reduce(im: Importer, node: onnx.NodeProto) -> None:
    """Over all spatial axes of [N, C, spatial...]: global pooling. Over any other axes: the
    reduced axes moved last and flattened into one, the kept ones into channels, a 1-D global
    pooling (mean, max; min as the negated maximum of the negation) or a dense layer of ones
    (sum) over it, reshaped to the result."""
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    rank = len(shape)
    axes = _reduce_axes(im, node, rank)
    if not axes and int(im.attribute(node, "noop_with_empty_axes", 0)):
        im.alias(node, node.input[0])
        return
    axes = axes or list(range(rank))  # no axes: all of them
    if node.op_type == "ReduceMean" and _decomposed_layer_norm(im, node, axes, rank):
        return
    keepdims = int(im.attribute(node, "keepdims", 1))
    kept = [a for a in range(rank) if a not in axes]
    out_shape = tuple(1 if a in axes else shape[a] for a in range(rank)) if keepdims else tuple(
        shape[a] for a in kept
    )
    if axes == list(range(2, rank)) and rank >= 3 and node.op_type in ("ReduceMean", "ReduceMax"):
        y = global_pool(im, x, "max" if node.op_type == "ReduceMax" else "average")
        im.define(node, im.reshape(y, out_shape))
        return
    rows = int(np.prod([shape[a] for a in kept]))
    count = int(np.prod([shape[a] for a in axes]))
    flat = im.reshape(im.transposed(x, kept + axes), (rows, count))
    if node.op_type == "ReduceSum":
        y = nn.DenseOp.from_arrays(flat, np.ones((1, count)), np.zeros(1), im.node_name).output
    else:
        negate = node.op_type == "ReduceMin"
        lines = im.reshape(flat, (1, rows, count))
        if negate:
            lines = nn.ScaleShiftOp.from_arrays(lines, -1.0, 0.0, im.node_name).output
        y = global_pool(im, lines, "average" if node.op_type == "ReduceMean" else "max")
        if negate:
            y = nn.ScaleShiftOp.from_arrays(y, -1.0, 0.0, im.node_name).output
    im.define(node, im.reshape(y, out_shape))


def _decomposed_layer_norm(im: Importer, mean: onnx.NodeProto, axes: list[int], rank: int) -> bool:
    """LayerNorm as older exporters write it: ``d = x - ReduceMean(x)``,
    ``d / Sqrt(ReduceMean(Pow(d, 2)) + eps)`` over trailing axes. When ``mean`` starts that
    pattern, the pattern becomes one ``nn.layer_norm`` (scale 1, bias 0: a following Mul and
    Add by constants fold into it) and its nodes are marked imported."""
    if not axes or axes != list(range(axes[0], rank)) or not int(im.attribute(mean, "keepdims", 1)):
        return False
    outputs = {o.name for o in im.graph.output}

    def only_user(tensor: str, op_type: str) -> onnx.NodeProto | None:
        users = im.consumers.get(tensor, [])
        if len(users) == 1 and users[0].op_type == op_type and tensor not in outputs:
            return users[0]
        return None

    x = mean.input[0]
    sub = only_user(mean.output[0], "Sub")
    if sub is None or list(sub.input) != [x, mean.output[0]] or sub.output[0] in outputs:
        return False
    d = sub.output[0]
    users = im.consumers.get(d, [])
    square = next((u for u in users if u.op_type in ("Pow", "Mul")), None)
    divide = next((u for u in users if u.op_type == "Div"), None)
    if len(users) != 2 or square is None or divide is None or list(divide.input)[0] != d:
        return False
    if square.op_type == "Mul" and list(square.input) != [d, d]:
        return False
    if square.op_type == "Pow" and not (
        square.input[1] in im.constants and float(np.asarray(im.constants[square.input[1]])) == 2.0
    ):
        return False
    variance = only_user(square.output[0], "ReduceMean")
    if variance is None or (_reduce_axes(im, variance, rank) or list(range(rank))) != axes:
        return False
    if not int(im.attribute(variance, "keepdims", 1)):
        return False
    add = only_user(variance.output[0], "Add")
    if add is None:
        return False
    epsilon = [name for name in add.input if name in im.constants]
    if len(epsilon) != 1 or np.asarray(im.constants[epsilon[0]]).size != 1:
        return False
    root = only_user(add.output[0], "Sqrt")
    if root is None or only_user(root.output[0], "Div") is not divide:
        return False
    if list(divide.input) != [d, root.output[0]]:
        return False
    xv = im.activation(x)
    count = int(np.prod(nn.shape_of(xv)[axes[0] :]))
    op = nn.LayerNormOp(
        xv,
        xv.type,
        im.node_name,
        scale=dense_from_numpy(np.ones(count, np.float32)),
        bias=dense_from_numpy(np.zeros(count, np.float32)),
        epsilon=FloatAttr(float(np.asarray(im.constants[epsilon[0]]).reshape(-1)[0]), f64),
        axis=IntegerAttr(axes[0], i64),
    )
    op.output.name_hint = name_hint(divide.output[0])
    im.values[divide.output[0]] = op.output
    im.fused |= {id(n) for n in (sub, square, variance, add, root, divide)}
    return True

"""ONNX import, graph networks: Gather and Scatter with indices known at run time."""

from __future__ import annotations

import numpy as np
import onnx
from xdsl.dialects.builtin import IntegerType
from xdsl.ir import SSAValue

from rtlflow.dialects import nn
from rtlflow.frontend.importer import Importer, handles
from rtlflow.numerics.indexing import SCATTER_REDUCTIONS, scatter_map, scatter_updates_shape


def _index_tensor(im: Importer, name: str) -> SSAValue:
    value = im.activation(name)
    if not isinstance(value.type.element_type, IntegerType):  # type: ignore[attr-defined]
        im.fail(f"indices '{name}' must be an integer tensor")
    return value


@handles("Gather", "GatherElements")
def _gather(im: Importer, node: onnx.NodeProto) -> None:
    data, indices = im.activation(node.input[0]), _index_tensor(im, node.input[1])
    rank = len(nn.shape_of(data))
    axis = int(im.attribute(node, "axis", 0))
    if not -rank <= axis < rank:
        im.fail(f"axis {axis} is outside a rank-{rank} tensor")
    if im.is_constant(node.input[1]):  # known now: outside the axis is an error, as in ONNX
        size, constant = nn.shape_of(data)[axis], np.asarray(im.constants[node.input[1]])
        if constant.size and (constant.min() < -size or constant.max() >= size):
            im.fail(f"indices from {constant.min()} to {constant.max()} for an axis of {size}")
    kind = "gather" if node.op_type == "Gather" else "elements"
    if kind == "elements":
        shape, index_shape = nn.shape_of(data), nn.shape_of(indices)
        if len(index_shape) != rank or any(
            i > d for a, (i, d) in enumerate(zip(index_shape, shape)) if a != axis % rank
        ):
            im.fail(f"indices of shape {list(index_shape)} do not fit data of shape {list(shape)}")
    im.define(node, nn.GatherOp(data, indices, axis, kind, im.node_name).output)


@handles("ScatterND", "ScatterElements", "Scatter")
def _scatter(im: Importer, node: onnx.NodeProto) -> None:
    reduction = im.text(node, "reduction", "none").lower()
    if im.is_constant(node.input[1]):
        _scatter_at_constant_indices(im, node, reduction)
        return
    data, indices = im.activation(node.input[0]), _index_tensor(im, node.input[1])
    updates = im.activation(node.input[2])
    if reduction not in SCATTER_REDUCTIONS:
        im.fail(
            f"reduction '{reduction}' is not supported (supported: {', '.join(SCATTER_REDUCTIONS)})"
        )
    kind = "nd" if node.op_type == "ScatterND" else "elements"
    shape, index_shape = nn.shape_of(data), nn.shape_of(indices)
    if kind == "nd" and not (index_shape and 1 <= index_shape[-1] <= len(shape)):
        im.fail(f"indices of shape {list(index_shape)} do not index data of shape {list(shape)}")
    axis = int(im.attribute(node, "axis", 0))
    if not -len(shape) <= axis < len(shape):
        im.fail(f"axis {axis} is outside a rank-{len(shape)} tensor")
    if kind == "elements" and (
        len(index_shape) != len(shape)
        or any(i > d for a, (i, d) in enumerate(zip(index_shape, shape)) if a != axis % len(shape))
    ):
        im.fail(f"indices of shape {list(index_shape)} do not fit data of shape {list(shape)}")
    expected = scatter_updates_shape(shape, index_shape, kind)
    if nn.shape_of(updates) != expected:
        im.fail(f"updates have shape {list(nn.shape_of(updates))}, expected {list(expected)}")
    op = nn.ScatterOp(data, indices, updates, axis, kind, reduction, im.node_name)
    im.define(node, op.output)


def _scatter_at_constant_indices(im: Importer, node: onnx.NodeProto, reduction: str) -> None:
    """Indices known at compile time. Constant updates: a scale and shift of the data (which
    elements keep their value, which take or add or multiply by an update). Updates at run
    time (a static graph's aggregation): a linear map of data and updates with 0/1 weights, a
    dense layer over both flattened (the data a bias where it is constant)."""
    data_name, index_name, update_name = node.input[:3]
    indices = np.asarray(im.constants[index_name]).astype(np.int64)
    if im.is_constant(update_name):
        updates = np.asarray(im.constants[update_name], dtype=np.float64)
        data = im.activation(data_name)
        zeros, ones = np.zeros(nn.shape_of(data)), np.ones(nn.shape_of(data))
        feeds = {index_name: indices}
        if reduction == "mul":
            scale = im.evaluate(node, {**feeds, data_name: ones, update_name: updates})[0]
            shift = zeros
        elif reduction in ("none", "add"):  # "none": the written elements lose the data
            blank = {**feeds, data_name: ones, update_name: np.zeros_like(updates)}
            scale = ones if reduction == "add" else im.evaluate(node, blank)[0]
            shift = im.evaluate(node, {**feeds, data_name: zeros, update_name: updates})[0]
        else:  # max / min: x + m relu(c - x), x - m relu(x - c); m marks the written elements
            sign = 1.0 if reduction == "max" else -1.0
            ones_out = {**feeds, data_name: zeros, update_name: sign * np.ones_like(updates)}
            mark = im.evaluate(node, ones_out)[0]  # nonzero where written
            neutral = np.full(nn.shape_of(data), -sign * np.inf)  # max(-inf, u) = u
            bound = im.evaluate(node, {**feeds, data_name: neutral, update_name: updates})[0]
            written = mark != 0
            mark, bound = written.astype(np.float64), np.where(written, bound, 0.0)
            gap = nn.ScaleShiftOp.from_arrays(data, -sign, sign * bound, im.node_name)
            rectified = nn.ReluOp(gap.output, gap.output.type, im.node_name)
            masked = nn.ScaleShiftOp.from_arrays(rectified.output, sign * mark, 0.0, im.node_name)
            total = nn.AddOp(data, masked.output, data.type, im.node_name)
            im.define(node, total.output)
            return
        im.define(node, nn.ScaleShiftOp.from_arrays(data, scale, shift, im.node_name).output)
        return
    if reduction not in SCATTER_REDUCTIONS:
        im.fail(
            f"reduction '{reduction}' is not supported (supported: {', '.join(SCATTER_REDUCTIONS)})"
        )
    updates = im.activation(update_name)
    shape = (
        tuple(np.shape(im.constants[data_name])) if im.is_constant(data_name)
        else nn.shape_of(im.activation(data_name))
    )  # fmt: skip
    kind = "nd" if node.op_type == "ScatterND" else "elements"
    axis = im.axis(int(im.attribute(node, "axis", 0)), len(shape))
    targets = scatter_map(shape, indices.shape, axis, kind).targets(indices[np.newaxis])[0]
    if np.any(targets < 0):
        im.fail("an index lies outside the data")
    size, moving = int(np.prod(shape)), len(targets)
    to_updates = np.zeros((size, moving))
    if reduction == "add":
        np.add.at(to_updates, (targets, np.arange(moving)), 1.0)
    else:  # the last update to an element wins, as in ONNX's reference
        last = {int(t): j for j, t in enumerate(targets)}
        to_updates[list(last), list(last.values())] = 1.0
    written = to_updates.any(axis=1) if reduction == "none" else np.zeros(size, dtype=bool)
    flat_updates = im.reshape(updates, (1, moving))
    if im.is_constant(data_name):
        bias = np.where(written, 0.0, np.asarray(im.constants[data_name], np.float64).reshape(-1))
        y = nn.DenseOp.from_arrays(flat_updates, to_updates, bias, im.node_name).output
    else:
        flat_data = im.reshape(im.activation(data_name), (1, size))
        both = nn.ConcatOp(
            [flat_data, flat_updates], im.float_tensor((1, size + moving)), 1, im.node_name
        ).output
        weights = np.concatenate([np.diag((~written).astype(np.float64)), to_updates], axis=1)
        y = nn.DenseOp.from_arrays(both, weights, np.zeros(size), im.node_name).output
    im.define(node, im.reshape(y, shape))

"""ONNX import, graph networks: Gather and Scatter with indices known at run time."""

from __future__ import annotations

import onnx
from xdsl.dialects.builtin import IntegerType
from xdsl.ir import SSAValue

from rtlflow.dialects import nn
from rtlflow.frontend.importer import Importer, handles
from rtlflow.numerics.indexing import SCATTER_REDUCTIONS, scatter_updates_shape


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
    data, indices = im.activation(node.input[0]), _index_tensor(im, node.input[1])
    updates = im.activation(node.input[2])
    reduction = im.text(node, "reduction", "none").lower()
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

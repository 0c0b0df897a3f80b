"""ONNX import, operators that only move data: reshapes, transposes, concatenation, zero padding, slices,
splits and broadcasts."""

from __future__ import annotations

import numpy as np
import onnx
from xdsl.dialects.builtin import TensorType
from xdsl.ir import SSAValue

from rtlflow.dialects import nn
from rtlflow.dialects.arrays import int_array
from rtlflow.frontend.importer import Importer, handles


@handles("Flatten", "Reshape", "Squeeze", "Unsqueeze")
def _reshape(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    try:
        new_shape = _RESHAPES[node.op_type](im, node, shape)
    except (ValueError, IndexError) as error:
        im.fail(f"cannot reshape {list(shape)}: {error}")
    im.define(node, im.reshape(x, new_shape))


def _flatten_shape(im: Importer, node: onnx.NodeProto, shape: tuple[int, ...]):
    written = int(im.attribute(node, "axis", 1))
    axis = written + len(shape) if written < 0 else written
    if not 0 <= axis <= len(shape):
        raise ValueError(f"axis {written} is outside a rank-{len(shape)} tensor")
    return (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))


def _reshape_shape(im: Importer, node: onnx.NodeProto, shape: tuple[int, ...]):
    if len(node.input) > 1:
        target = [int(v) for v in im.constant(node.input[1], "Reshape's shape").reshape(-1)]
    else:
        target = list(im.attribute(node, "shape", []))
    if min(target, default=0) < -1:
        raise ValueError(f"shape {target} has a size below -1")
    if not int(im.attribute(node, "allowzero", 0)):
        target = [shape[i] if v == 0 else v for i, v in enumerate(target)]
    if target and isinstance(im.batch, int) and target[0] == im.batch and shape[0] == 1:
        target[0] = 1  # the batch written into the shape, now 1 (see Importer._find_batch)
    return np.empty(shape, dtype=np.int8).reshape(target).shape


def _axes(im: Importer, node: onnx.NodeProto) -> list[int] | None:
    if im.opset >= 13:
        if len(node.input) > 1 and node.input[1]:
            return [int(v) for v in im.constant(node.input[1], "axes").reshape(-1)]
        return None
    axes = im.attribute(node, "axes")
    return None if axes is None else [int(a) for a in axes]


def _squeeze_shape(im: Importer, node: onnx.NodeProto, shape: tuple[int, ...]):
    axes = _axes(im, node)
    if axes is None:
        return tuple(d for d in shape if d != 1)
    axes = [a + len(shape) if a < 0 else a for a in axes]
    if any(not 0 <= a < len(shape) or shape[a] != 1 for a in axes):
        raise ValueError(f"cannot squeeze axes {axes} of shape {list(shape)}")
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _unsqueeze_shape(im: Importer, node: onnx.NodeProto, shape: tuple[int, ...]):
    axes = _axes(im, node)
    if axes is None:
        raise ValueError("Unsqueeze needs axes")
    rank = len(shape) + len(axes)
    axes = sorted(a + rank if a < 0 else a for a in axes)
    if any(not 0 <= a < rank for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"Unsqueeze axes {axes} are invalid for a result of rank {rank}")
    result = list(shape)
    for axis in axes:
        result.insert(axis, 1)
    return tuple(result)


_RESHAPES = {
    "Flatten": _flatten_shape,
    "Reshape": _reshape_shape,
    "Squeeze": _squeeze_shape,
    "Unsqueeze": _unsqueeze_shape,
}


@handles("Pad")
def _pad(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    rank = len(nn.shape_of(x))
    mode = im.attribute(node, "mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode != "constant":
        im.fail(f"Pad mode '{mode}' is not supported (constant padding only)")
    if im.opset >= 11:
        pads = [int(p) for p in im.constant(node.input[1], "Pad's pads").reshape(-1)]
        value = 0.0
        if len(node.input) > 2 and node.input[2]:
            value = float(np.asarray(im.constant(node.input[2], "Pad's value")).reshape(-1)[0])
        if len(node.input) > 3 and node.input[3]:
            axes = im.constant(node.input[3], "Pad's axes").reshape(-1)
            axes = [im.axis(int(a), rank) for a in axes]
            if len(pads) != 2 * len(axes):
                im.fail(f"pads {pads} do not give two sizes per axis of {axes}")
            full = [0] * 2 * rank
            for i, axis in enumerate(axes):
                full[axis], full[rank + axis] = pads[i], pads[len(axes) + i]
            pads = full
    else:
        pads = [int(p) for p in im.attribute(node, "pads", [])]
        value = float(im.attribute(node, "value", 0.0))
    if len(pads) != 2 * rank:
        im.fail(f"pads {pads} do not give two sizes per axis of a rank-{rank} tensor")
    if min(pads, default=0) < 0:
        im.fail("negative pads (cropping) are not supported")
    shape = [d + pads[a] + pads[rank + a] for a, d in enumerate(nn.shape_of(x))]
    if not any(pads):
        im.alias(node, node.input[0])
        return
    op = nn.PadOp(x, im.float_tensor(shape), im.node_name, pads=int_array(pads))
    if value == 0.0:
        im.define(node, op.output)
        return
    # another value: zeros, then that value added where the padding is
    inside = np.zeros(nn.shape_of(x))
    border = np.pad(inside, list(zip(pads[:rank], pads[rank:], strict=True)), constant_values=1.0)
    shifted = nn.ScaleShiftOp.from_arrays(op.output, 1.0, border * value, im.node_name)
    im.define(node, shifted.output)


@handles("Transpose")
def _transpose(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    perm = [int(p) for p in im.attribute(node, "perm", list(range(len(shape)))[::-1])]
    if sorted(perm) != list(range(len(shape))):
        im.fail(f"perm {perm} is not a permutation of {len(shape)} axes")
    if perm == list(range(len(shape))):
        im.alias(node, node.input[0])
        return
    result = im.float_tensor([shape[p] for p in perm])
    im.define(node, nn.TransposeOp(x, result, im.node_name, perm=int_array(perm)).output)


@handles("Tile")
def _tile(im: Importer, node: onnx.NodeProto) -> None:
    """Copies along each axis: a concatenation of the tensor with itself (wiring)."""
    x = im.activation(node.input[0])
    repeats = [int(r) for r in im.constant(node.input[1], "Tile's repeats").reshape(-1)]
    if len(repeats) != len(nn.shape_of(x)) or min(repeats, default=1) < 1:
        im.fail(f"repeats {repeats} for a {list(nn.shape_of(x))} tensor (one count >= 1 per axis)")
    y = x
    for axis, count in enumerate(repeats):
        if count > 1:
            shape = list(nn.shape_of(y))
            shape[axis] *= count
            result = TensorType(y.type.element_type, shape)  # type: ignore[attr-defined]
            y = nn.ConcatOp([y] * count, result, axis, im.node_name).output
    if y is x:
        im.alias(node, node.input[0])
        return
    im.define(node, y)


@handles("Concat")
def _concat(im: Importer, node: onnx.NodeProto) -> None:
    values = [im.activation(name) for name in node.input if name]
    shapes = [nn.shape_of(v) for v in values]
    axis = im.axis(int(im.attribute(node, "axis", 0)), len(shapes[0]))
    try:
        shape = np.concatenate([np.zeros(s, np.int8) for s in shapes], axis=axis).shape
    except ValueError as error:
        im.fail(f"cannot concatenate {[list(s) for s in shapes]}: {error}")
    if len(values) == 1:
        im.alias(node, node.input[0])
        return
    im.define(node, nn.ConcatOp(values, im.float_tensor(shape), axis, im.node_name).output)


def _take(im: Importer, x: SSAValue, axis: int, positions) -> SSAValue:
    """Elements ``positions`` (compile-time) of ``x`` along ``axis``: a gather by constants."""
    indices = np.asarray(list(positions), dtype=np.int64)
    if indices.size == 0:
        im.fail("the result would be empty")
    constant = nn.ConstantOp(indices, im.node_name).output
    return nn.GatherOp(x, constant, axis, "gather", im.node_name).output


@handles("Slice")
def _slice(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    if im.opset < 10:
        starts, ends = im.attribute(node, "starts"), im.attribute(node, "ends")
        axes = im.attribute(node, "axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        values = [
            [int(v) for v in np.asarray(im.constant(name, f"Slice's {what}")).reshape(-1)]
            if name
            else None
            for name, what in zip(
                list(node.input[1:5]) + [""] * 4, ("starts", "ends", "axes", "steps")
            )
        ]
        starts, ends, axes, steps = values
        axes = axes if axes is not None else list(range(len(starts)))
        steps = steps if steps is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        if step == 0:
            im.fail("a step of 0 is not allowed")
        axis = im.axis(axis, len(shape))
        positions = range(*slice(start, end, step).indices(shape[axis]))
        if len(positions) != shape[axis] or step != 1:
            x = _take(im, x, axis, positions)
    im.define(node, x)


@handles("Split")
def _split(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    axis = im.axis(int(im.attribute(node, "axis", 0)), len(shape))
    if len(node.input) > 1 and node.input[1]:
        sizes = [
            int(v) for v in np.asarray(im.constant(node.input[1], "Split's sizes")).reshape(-1)
        ]
    elif im.attribute(node, "split") is not None:
        sizes = [int(v) for v in im.attribute(node, "split")]
    else:
        count = len(node.output)
        chunk = -(-shape[axis] // count)
        sizes = [min(chunk, shape[axis] - chunk * k) for k in range(count)]
    if sum(sizes) != shape[axis] or len(sizes) != len(node.output):
        im.fail(f"sizes {sizes} do not split an axis of {shape[axis]} into {len(node.output)}")
    start = 0
    for output, size in enumerate(sizes):
        im.define(node, _take(im, x, axis, range(start, start + size)), output)
        start += size


@handles("Expand")
def _expand(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    target = [int(v) for v in np.asarray(im.constant(node.input[1], "Expand's shape")).reshape(-1)]
    try:
        shape = np.broadcast_shapes(nn.shape_of(x), tuple(target))
    except ValueError as error:
        im.fail(f"cannot expand {list(nn.shape_of(x))} to {target}: {error}")
    if tuple(shape) == nn.shape_of(x):
        im.alias(node, node.input[0])
        return
    element = x.type.element_type  # type: ignore[attr-defined]
    im.define(node, nn.ExpandOp(x, TensorType(element, list(shape)), im.node_name).output)

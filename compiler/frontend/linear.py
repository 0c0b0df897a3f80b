"""ONNX import, products: Gemm, MatMul and two-operand Einsum contractions."""

from __future__ import annotations

import numpy as np
import onnx

from rtlflow.dialects import nn
from rtlflow.frontend.importer import Importer, handles


@handles("Gemm")
def _gemm(im: Importer, node: onnx.NodeProto) -> None:
    a, b = im.activation(node.input[0]), im.activation(node.input[1])
    c = im.activation(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    trans_a = int(im.attribute(node, "transA", 0))
    trans_b = int(im.attribute(node, "transB", 0))
    shape_a, shape_b = nn.shape_of(a), nn.shape_of(b)
    if len(shape_a) != 2 or len(shape_b) != 2:
        im.fail(f"Gemm needs 2-D operands, got {list(shape_a)} and {list(shape_b)}")
    rows = shape_a[1] if trans_a else shape_a[0]
    cols = shape_b[0] if trans_b else shape_b[1]
    inner_a, inner_b = shape_a[0 if trans_a else 1], shape_b[1 if trans_b else 0]
    if inner_a != inner_b:
        im.fail(
            f"operands {list(shape_a)} (transA {trans_a}) and {list(shape_b)} (transB {trans_b}) "
            f"do not match: {inner_a} against {inner_b}"
        )
    if c is not None:
        try:
            broadcast = np.broadcast_shapes(nn.shape_of(c), (rows, cols))
        except ValueError:
            broadcast = None
        if broadcast != (rows, cols):
            im.fail(f"C of shape {list(nn.shape_of(c))} does not broadcast to {[rows, cols]}")
    op = nn.GemmOp(
        a,
        b,
        c,
        im.float_tensor((rows, cols)),
        im.node_name,
        alpha=float(im.attribute(node, "alpha", 1.0)),
        beta=float(im.attribute(node, "beta", 1.0)),
        trans_a=trans_a,
        trans_b=trans_b,
    )
    im.define(node, op.output)


@handles("MatMul")
def _matmul(im: Importer, node: onnx.NodeProto) -> None:
    lhs, rhs = im.activation(node.input[0]), im.activation(node.input[1])
    try:
        shape = matmul_shape(nn.shape_of(lhs), nn.shape_of(rhs))
    except ValueError as error:
        shapes = f"{list(nn.shape_of(lhs))} and {list(nn.shape_of(rhs))}"
        im.fail(f"operand shapes {shapes} do not match: {error}")
    im.define(node, nn.MatMulOp(lhs, rhs, im.float_tensor(shape), im.node_name).output)


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of ``numpy.matmul`` of operands of shapes ``a`` and ``b``, worked out without
    computing it (the product of two large operands need not fit in memory)."""
    if not a or not b:
        raise ValueError("an operand is a scalar")
    left, right = (1, *a) if len(a) == 1 else a, (*b, 1) if len(b) == 1 else b
    if left[-1] != right[-2]:
        raise ValueError(f"inner sizes {left[-1]} and {right[-2]} differ")
    shape = (*np.broadcast_shapes(left[:-2], right[:-2]), left[-2], right[-1])
    if len(b) == 1:
        shape = shape[:-1]
    if len(a) == 1:
        shape = (*shape[:-2], shape[-1]) if len(b) > 1 else shape[:-1]
    return tuple(int(size) for size in shape)


@handles("Einsum")
def _einsum(im: Importer, node: onnx.NodeProto) -> None:
    """Two-operand contractions (``bqhc,bkhc->bhqk``; ``btd,de->bte`` with constant weights, a
    dense layer) as transposes, reshapes and a MatMul (of constants: constants)."""
    equation = im.attribute(node, "equation", b"")
    equation = (equation.decode() if isinstance(equation, bytes) else str(equation)).replace(
        " ", ""
    )
    if "->" not in equation or "." in equation or equation.count(",") != 1:
        im.fail(f"equation '{equation}': only two operands with an explicit output are supported")
    inputs, output = equation.split("->")
    left, right = inputs.split(",")
    a, b = im.activation(node.input[0]), im.activation(node.input[1])
    if isinstance(a.owner, nn.ConstantOp) and not isinstance(b.owner, nn.ConstantOp):
        left, right, a, b = right, left, b, a  # the weights on the right: a dense layer
    for letters in (left, right, output):
        if len(set(letters)) != len(letters):
            im.fail(f"equation '{equation}': repeated indices in one operand are not supported")
    if any(c not in left + right for c in output):
        im.fail(f"equation '{equation}': output index not in any operand")
    if len(left) != len(nn.shape_of(a)) or len(right) != len(nn.shape_of(b)):
        im.fail(
            f"equation '{equation}' does not match operand ranks "
            f"{len(nn.shape_of(a))} and {len(nn.shape_of(b))}"
        )
    size = dict(zip(left, nn.shape_of(a), strict=True))
    for letter, extent in zip(right, nn.shape_of(b), strict=True):
        if size.setdefault(letter, extent) != extent:
            im.fail(
                f"equation '{equation}': index '{letter}' has sizes {size[letter]} and "
                f"{extent} (broadcasting is not supported)"
            )
    batch = [c for c in output if c in left and c in right]
    free_a = [c for c in output if c in left and c not in right]
    free_b = [c for c in output if c in right and c not in left]
    summed = [c for c in left if c in right and c not in output]
    if any(c not in output and c not in summed for c in left + right):
        im.fail(f"equation '{equation}': an index summed in one operand only is not supported")
    count = lambda letters: int(np.prod([size[c] for c in letters], dtype=np.int64))  # noqa: E731
    stack = (count(batch),) if batch else ()  # no batch index: plain matrices
    a = im.transposed(a, [left.index(c) for c in batch + free_a + summed])
    a = im.reshape(a, (*stack, count(free_a), count(summed)))
    b = im.transposed(b, [right.index(c) for c in batch + summed + free_b])
    b = im.reshape(b, (*stack, count(summed), count(free_b)))
    product = nn.MatMulOp(
        a, b, im.float_tensor((*stack, count(free_a), count(free_b))), im.node_name
    ).output
    order = batch + free_a + free_b
    product = im.reshape(product, tuple(size[c] for c in order))
    im.define(node, im.transposed(product, [order.index(c) for c in output]))

"""nn-form-dense: fully connected layers as ``nn.dense``.

Input and output level: nn. ``nn.gemm`` and ``nn.matmul`` whose weight operand is a constant become
``nn.dense`` (``y = x @ weight.T + bias`` over the last axis), with alpha, beta and the transposes
folded into the constants (a Gemm's C with one value per element: a shift after it; transA: a
transpose before it; a stack of weight matrices: one block-diagonal dense layer). A Gemm of two
activations becomes a MatMul (with its transposes, alpha as a scale and C added after it), and
products of two activations are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from rtlflow.dialects import nn
from rtlflow.errors import RtlflowError
from rtlflow.numerics.broadcast import per_feature


class GemmToDense(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.GemmOp, rewriter: PatternRewriter) -> None:
        b = nn.constant_value(op.b)
        if b is None:
            _gemm_of_activations(rewriter, op)
            return
        x = op.a
        if op.trans_a.value.data:
            rows, columns = nn.shape_of(x)
            if columns == 1:
                x = _reshape(rewriter, op, x, (1, rows))
            else:  # the activation's rows are its columns: a transpose (wiring)
                x = _transposed(rewriter, op, x)
        weight = (b.T if op.trans_b.value.data else b) * op.alpha.value.data  # [K, N]
        n_out = weight.shape[1]
        bias = np.zeros(n_out)
        shift = None
        if op.c is not None:
            c = nn.constant_value(op.c)
            if c is None:  # known at run time: added after the product
                dense = nn.DenseOp.from_arrays(x, weight.T, bias, op.node_name)
                rewriter.insert(dense)
                rewriter.replace(op, [], [_plus_c(rewriter, op, dense.output)])
                return
            feature = per_feature(c, nn.shape_of(op.output))
            if feature is not None:
                bias = feature * op.beta.value.data
            else:  # one value per element: a shift after the product
                shift = np.broadcast_to(c, nn.shape_of(op.output)) * op.beta.value.data
        dense = nn.DenseOp.from_arrays(x, weight.T, bias, op.node_name)
        if shift is None:
            rewriter.replace(op, dense)
            return
        rewriter.insert(dense)
        shifted = nn.ScaleShiftOp.from_arrays(dense.output, 1.0, shift, op.node_name)
        rewriter.replace(op, shifted)


def _gemm_of_activations(rewriter: PatternRewriter, op: nn.GemmOp) -> None:
    """A Gemm whose B is known at run time: the transposes (wiring), a MatMul (which
    ``MatMulToDense`` makes a dense layer when A is the constant), alpha as a scale, C (scaled
    by beta) added after it."""
    a, b = op.a, op.b
    if op.trans_a.value.data:
        a = _transposed(rewriter, op, a)
    if op.trans_b.value.data:
        b = _transposed(rewriter, op, b)
    product = nn.MatMulOp(a, b, op.output.type, op.node_name)
    rewriter.insert(product)
    y = product.output
    alpha = op.alpha.value.data
    c = None if op.c is None else nn.constant_value(op.c)
    if alpha != 1.0 or c is not None:  # alpha and a constant C: one scale and shift
        shift = 0.0 if c is None else op.beta.value.data * np.broadcast_to(c, nn.shape_of(y))
        scaled = nn.ScaleShiftOp.from_arrays(y, alpha, shift, op.node_name)
        rewriter.insert(scaled)
        y = scaled.output
    if op.c is not None and c is None:
        y = _plus_c(rewriter, op, y)
    rewriter.replace(op, [], [y])


def _transposed(rewriter: PatternRewriter, op: nn.NnOp, x: SSAValue) -> SSAValue:
    transposed = nn.TransposeOp.from_perm(x, (1, 0), op.node_name)
    rewriter.insert(transposed)
    return transposed.output


def _plus_c(rewriter: PatternRewriter, op: nn.GemmOp, y: SSAValue) -> SSAValue:
    """``y + beta C`` for a Gemm's C known at run time (broadcast as ONNX allows)."""
    c = op.c
    assert c is not None
    if op.beta.value.data != 1.0:
        scaled = nn.ScaleShiftOp.from_arrays(c, op.beta.value.data, 0.0, op.node_name)
        rewriter.insert(scaled)
        c = scaled.output
    total = nn.AddOp(y, c, op.output.type, op.node_name)
    rewriter.insert(total)
    return total.output


class MatMulToDense(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.MatMulOp, rewriter: PatternRewriter) -> None:
        rhs, lhs = nn.constant_value(op.rhs), nn.constant_value(op.lhs)
        if rhs is not None and lhs is None:
            if rhs.ndim == 2:
                dense = nn.DenseOp.from_arrays(op.lhs, rhs.T, np.zeros(rhs.shape[1]), op.node_name)
                rewriter.replace(op, dense)
            else:
                _batched_weights(rewriter, op, rhs)
        elif lhs is not None and rhs is None:
            # W @ x with x a column: the same as x.T @ W.T on the column's elements
            shape = nn.shape_of(op.rhs)
            if lhs.ndim != 2 or len(shape) != 2 or shape[1] != 1:
                raise RtlflowError(
                    "MatMul with a constant left operand needs a 2-D constant and a column "
                    f"activation, got {list(lhs.shape)} @ {list(shape)}",
                    node=op.node_name,
                    op="MatMul",
                )
            row = _reshape(rewriter, op, op.rhs, (1, shape[0]))
            dense = nn.DenseOp.from_arrays(row, lhs, np.zeros(lhs.shape[0]), op.node_name)
            rewriter.insert(dense)
            rewriter.replace(op, [], [_reshape(rewriter, op, dense.output, (lhs.shape[0], 1))])


def _batched_weights(rewriter: PatternRewriter, op: nn.MatMulOp, rhs: np.ndarray) -> None:
    """``x @ W`` with W a vector (a dot product per row) or a stack of matrices (one per batch
    entry, broadcast as numpy does): one dense layer whose weights hold every batch entry's
    matrix on the diagonal, over the batch entries' rows side by side."""
    shape = nn.shape_of(op.lhs)
    if len(shape) == 1 or rhs.ndim == 1 and len(shape) < 2:
        raise RtlflowError(
            f"MatMul of a {len(shape)}-D activation with a {rhs.ndim}-D constant is not supported",
            node=op.node_name,
            op="MatMul",
        )
    if rhs.ndim == 1:  # [..., k] @ [k] -> [...]
        dense = nn.DenseOp.from_arrays(op.lhs, rhs[np.newaxis], np.zeros(1), op.node_name)
        rewriter.insert(dense)
        rewriter.replace(op, [], [_reshape(rewriter, op, dense.output, nn.shape_of(op.output))])
        return
    out = nn.shape_of(op.output)
    batch = out[:-2]
    x = _reshape(rewriter, op, op.lhs, (1,) * (len(out) - len(shape)) + shape)
    rows, k, n = out[-2], rhs.shape[-2], rhs.shape[-1]
    entries = int(np.prod(batch, dtype=np.int64))
    x = _reshape(rewriter, op, _broadcast(rewriter, op, x, (*batch, rows, k)), (entries, rows, k))
    moved = nn.TransposeOp.from_perm(x, (1, 0, 2), op.node_name)  # [rows, entries, k]
    rewriter.insert(moved)
    flat = _reshape(rewriter, op, moved.output, (rows, entries * k))
    stacks = np.broadcast_to(rhs, (*batch, k, n)).reshape(entries, k, n)
    weight = np.zeros((entries * n, entries * k))
    for e in range(entries):
        weight[e * n : (e + 1) * n, e * k : (e + 1) * k] = stacks[e].T
    dense = nn.DenseOp.from_arrays(flat, weight, np.zeros(entries * n), op.node_name)
    rewriter.insert(dense)
    back = _reshape(rewriter, op, dense.output, (rows, entries, n))
    result = nn.TransposeOp.from_perm(back, (1, 0, 2), op.node_name)
    rewriter.insert(result)
    rewriter.replace(op, [], [_reshape(rewriter, op, result.output, out)])


def _broadcast(
    rewriter: PatternRewriter, op: nn.NnOp, value: SSAValue, shape: tuple[int, ...]
) -> SSAValue:
    if nn.shape_of(value) == tuple(shape):
        return value
    expand = nn.ExpandOp(value, TensorType(value.type.element_type, list(shape)), op.node_name)  # type: ignore
    rewriter.insert(expand)
    return expand.output


def _reshape(
    rewriter: PatternRewriter, op: nn.NnOp, value: SSAValue, shape: tuple[int, ...]
) -> SSAValue:
    reshape = nn.ReshapeOp(
        value,
        TensorType(value.type.element_type, list(shape)),
        op.node_name,  # type: ignore
    )
    rewriter.insert(reshape)
    return reshape.output


@dataclass(frozen=True)
class NnFormDensePass(ModulePass):
    name = "nn-form-dense"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GemmToDense()).rewrite_module(op)
        PatternRewriteWalker(MatMulToDense()).rewrite_module(op)

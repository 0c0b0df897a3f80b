"""nn-form-dense: fully connected layers as ``nn.dense``.

Input and output level: nn. ``nn.gemm`` and ``nn.matmul`` whose weight operand is a constant become
``nn.dense`` (``y = x @ weight.T + bias`` over the last axis), with alpha, beta and the transposes
folded into the constants. Products of two activations are left as they are.
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
            return
        x = op.a
        if op.trans_a.value.data:
            rows, columns = nn.shape_of(x)
            if columns != 1:
                raise RtlflowError(
                    "Gemm with transA on a matrix activation is not supported",
                    node=op.node_name,
                    op="Gemm",
                )
            x = _reshape(rewriter, op, x, (1, rows))
        weight = (b.T if op.trans_b.value.data else b) * op.alpha.value.data  # [K, N]
        n_out = weight.shape[1]
        bias = np.zeros(n_out)
        if op.c is not None:
            c = nn.constant_value(op.c)
            feature = None if c is None else per_feature(c, nn.shape_of(op.output))
            if feature is None:
                raise RtlflowError(
                    "Gemm's C must be a constant with one value per output feature",
                    node=op.node_name,
                    op="Gemm",
                )
            bias = feature * op.beta.value.data
        rewriter.replace(op, nn.DenseOp.from_arrays(x, weight.T, bias, op.node_name))


class MatMulToDense(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.MatMulOp, rewriter: PatternRewriter) -> None:
        rhs, lhs = nn.constant_value(op.rhs), nn.constant_value(op.lhs)
        if rhs is not None and lhs is None:
            if rhs.ndim != 2:
                raise RtlflowError(
                    f"MatMul with a {rhs.ndim}-D constant is not supported (2-D weights only)",
                    node=op.node_name,
                    op="MatMul",
                )
            dense = nn.DenseOp.from_arrays(op.lhs, rhs.T, np.zeros(rhs.shape[1]), op.node_name)
            rewriter.replace(op, dense)
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


def _reshape(
    rewriter: PatternRewriter, op: nn.NnOp, value: SSAValue, shape: tuple[int, ...]
) -> SSAValue:
    reshape = nn.ReshapeOp(
        value, TensorType(value.type.element_type, list(shape)), op.node_name  # type: ignore
    )
    rewriter.insert(reshape)
    return reshape.output


@dataclass(frozen=True)
class NnFormDensePass(ModulePass):
    name = "nn-form-dense"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(GemmToDense()).rewrite_module(op)
        PatternRewriteWalker(MatMulToDense()).rewrite_module(op)

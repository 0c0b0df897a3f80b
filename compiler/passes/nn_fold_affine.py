"""nn-fold-affine: constant additions and scalings folded into the neighbouring dense layer.

Input and output level: nn. An element-wise Add/Sub/Mul/Div of an activation and a constant is an
affine map ``y = x * scale + shift``. When it follows an ``nn.dense`` that has no other user, or
feeds an ``nn.dense`` as its only user, and its constants are one value per feature, it is folded
into that layer's weights and bias (input normalisation, output scaling, bias Adds of MatMul+Add
exports). Affine maps that cannot fold stay and become ``fxp.scale_shift`` units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from rtlflow.dialects import nn
from rtlflow.passes.nn_form_dense import constant_value, per_feature


@dataclass(frozen=True)
class Affine:
    """``output = input * scale + shift`` with constants that broadcast against ``input``."""

    input: SSAValue
    scale: np.ndarray
    shift: np.ndarray


def affine_of(op: Operation) -> Affine | None:
    """The affine map an element-wise op with one constant operand computes, if it is one."""
    if not isinstance(op, nn.AddOp | nn.SubOp | nn.MulOp | nn.DivOp):
        return None
    lhs, rhs = constant_value(op.lhs), constant_value(op.rhs)
    if (lhs is None) == (rhs is None):
        return None
    if nn.shape_of(op.lhs if lhs is None else op.rhs) != nn.shape_of(op.output):
        return None  # the constant would broadcast the activation to a larger shape
    x, c = (op.lhs, rhs) if lhs is None else (op.rhs, lhs)
    one, zero = np.ones(1), np.zeros(1)
    match op:
        case nn.AddOp():
            return Affine(x, one, c)
        case nn.SubOp() if rhs is not None:
            return Affine(x, one, -c)
        case nn.SubOp():
            return Affine(x, -one, c)
        case nn.MulOp():
            return Affine(x, c, zero)
        case nn.DivOp() if rhs is not None and np.all(c != 0):
            return Affine(x, 1.0 / c, zero)
    return None


class FoldIntoPrecedingDense(RewritePattern):
    """``dense(x) * s + t`` → ``dense'(x)``."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        affine = affine_of(op)
        if affine is None or not isinstance(dense := affine.input.owner, nn.DenseOp):
            return
        if not affine.input.has_one_use():
            return
        shape = nn.shape_of(op.results[0])
        scale, shift = per_feature(affine.scale, shape), per_feature(affine.shift, shape)
        if scale is None or shift is None:
            return
        weight = dense.weights.astype(np.float64) * scale[:, np.newaxis]
        bias = dense.biases.astype(np.float64) * scale + shift
        rewriter.replace(op, nn.DenseOp.from_arrays(dense.input, weight, bias, dense.node_name))
        rewriter.erase(dense)


class FoldIntoFollowingDense(RewritePattern):
    """``dense(x * s + t)`` → ``dense'(x)``."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        affine = affine_of(op)
        use = None if affine is None else op.results[0].get_unique_use()
        if use is None:
            return
        dense = use.operation
        if not isinstance(dense, nn.DenseOp):
            return
        shape = nn.shape_of(op.results[0])
        scale, shift = per_feature(affine.scale, shape), per_feature(affine.shift, shape)
        if scale is None or shift is None:
            return
        weight = dense.weights.astype(np.float64)
        bias = dense.biases.astype(np.float64) + weight @ shift
        folded = nn.DenseOp.from_arrays(affine.input, weight * scale[np.newaxis, :], bias, dense.node_name)
        rewriter.replace(dense, folded)
        rewriter.erase(op)


@dataclass(frozen=True)
class NnFoldAffinePass(ModulePass):
    name = "nn-fold-affine"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FoldIntoPrecedingDense()).rewrite_module(op)
        PatternRewriteWalker(FoldIntoFollowingDense()).rewrite_module(op)

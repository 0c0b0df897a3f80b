"""nn-fold-affine: constant additions and scalings become one ``nn.scale_shift`` or vanish into a
dense layer.

Input and output level: nn. An element-wise Add/Sub/Mul/Div of an activation and a constant is
an affine map ``y = x * scale + shift``; each becomes an ``nn.scale_shift``, and a chain of them
merges into one. A scale_shift that follows an ``nn.dense`` with no other user, or feeds an
``nn.dense`` as its only user, and has one constant per feature, is folded into that layer's
weights and bias (input normalisation, output scaling, the bias Add of MatMul+Add exports).
A scale_shift after an ``nn.layer_norm`` that repeats for every row becomes that layer's scale
and bias. The same holds for ``nn.conv`` with one constant per channel (BatchNormalization after a conv;
before one only when the conv has no padding, since padding zeros are not scaled and shifted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from rtlflow.dialects import nn
from rtlflow.dialects.arrays import dense_from_numpy
from rtlflow.numerics.broadcast import per_channel, per_feature


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
    lhs, rhs = nn.constant_value(op.lhs), nn.constant_value(op.rhs)
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


class ToScaleShift(RewritePattern):
    """Add/Sub/Mul/Div by a constant → ``nn.scale_shift``."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        affine = affine_of(op)
        if affine is not None:
            rewriter.replace(
                op,
                nn.ScaleShiftOp.from_arrays(affine.input, affine.scale, affine.shift, op.node_name),
            )


class MergeScaleShifts(RewritePattern):
    """``(x * a + b) * c + d`` → ``x * (a c) + (b c + d)``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ScaleShiftOp, rewriter: PatternRewriter) -> None:
        first = op.input.owner
        if not isinstance(first, nn.ScaleShiftOp) or not first.output.has_one_use():
            return
        scale, shift = op.scales.astype(np.float64), op.shifts.astype(np.float64)
        merged = nn.ScaleShiftOp.from_arrays(
            first.input,
            first.scales.astype(np.float64) * scale,
            first.shifts.astype(np.float64) * scale + shift,
            first.node_name,
        )
        rewriter.replace(op, merged)
        rewriter.erase(first)


class FoldIntoPrecedingDense(RewritePattern):
    """``dense(x) * s + t`` → ``dense'(x)``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ScaleShiftOp, rewriter: PatternRewriter) -> None:
        dense = op.input.owner
        if not isinstance(dense, nn.DenseOp) or not op.input.has_one_use():
            return
        shape = nn.shape_of(op.output)
        scale, shift = per_feature(op.scales, shape), per_feature(op.shifts, shape)
        if scale is None or shift is None:
            return
        weight = dense.weights.astype(np.float64) * scale[:, np.newaxis]
        bias = dense.biases.astype(np.float64) * scale + shift
        rewriter.replace(op, nn.DenseOp.from_arrays(dense.input, weight, bias, dense.node_name))
        rewriter.erase(dense)


class FoldIntoFollowingDense(RewritePattern):
    """``dense(x * s + t)`` → ``dense'(x)``."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ScaleShiftOp, rewriter: PatternRewriter) -> None:
        use = op.output.get_unique_use()
        if use is None or not isinstance(dense := use.operation, nn.DenseOp):
            return
        shape = nn.shape_of(op.output)
        scale, shift = per_feature(op.scales, shape), per_feature(op.shifts, shape)
        if scale is None or shift is None:
            return
        weight = dense.weights.astype(np.float64)
        bias = dense.biases.astype(np.float64) + weight @ shift
        folded = nn.DenseOp.from_arrays(op.input, weight * scale[np.newaxis, :], bias, dense.node_name)
        rewriter.replace(dense, folded)
        rewriter.erase(op)


class FoldIntoLayerNorm(RewritePattern):
    """``layer_norm(x) * s + t`` → ``layer_norm'(x)`` when s and t repeat for every row (the
    scale and bias Mul and Add of a decomposed LayerNorm)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ScaleShiftOp, rewriter: PatternRewriter) -> None:
        norm = op.input.owner
        if not isinstance(norm, nn.LayerNormOp) or not op.input.has_one_use():
            return
        rows = [c.reshape(-1, norm.count) for c in (op.scales, op.shifts)]
        if any(not np.all(r == r[0]) for r in rows):
            return
        scale, shift = (r[0].astype(np.float64) for r in rows)
        folded = nn.LayerNormOp(
            norm.input,
            norm.output.type,
            norm.node_name,
            scale=dense_from_numpy((norm.scales * scale).astype(np.float32)),
            bias=dense_from_numpy((norm.biases * scale + shift).astype(np.float32)),
            epsilon=norm.epsilon,
            axis=norm.axis,
        )
        rewriter.replace(op, folded)
        rewriter.erase(norm)


class FoldIntoPrecedingConv(RewritePattern):
    """``conv(x) * s + t`` → ``conv'(x)`` (BatchNormalization after a convolution)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ScaleShiftOp, rewriter: PatternRewriter) -> None:
        conv = op.input.owner
        if not isinstance(conv, nn.ConvOp) or not op.input.has_one_use():
            return
        shape = nn.shape_of(op.output)
        scale, shift = per_channel(op.scales, shape), per_channel(op.shifts, shape)
        if scale is None or shift is None:
            return
        weight = conv.weights.astype(np.float64)
        weight = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
        bias = conv.biases.astype(np.float64) * scale + shift
        folded = nn.ConvOp.from_arrays(
            conv.input, weight, bias, conv.window, conv.group.value.data, conv.node_name
        )
        rewriter.replace(op, folded)
        rewriter.erase(conv)


class FoldIntoFollowingConv(RewritePattern):
    """``conv(x * s + t)`` → ``conv'(x)`` when the conv has no padding (exact only then)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ScaleShiftOp, rewriter: PatternRewriter) -> None:
        use = op.output.get_unique_use()
        if use is None or not isinstance(conv := use.operation, nn.ConvOp) or conv.window.padded:
            return
        shape = nn.shape_of(op.output)
        scale, shift = per_channel(op.scales, shape), per_channel(op.shifts, shape)
        if scale is None or shift is None:
            return
        weight = conv.weights.astype(np.float64)  # [C_out, C_in / group, *kernel]
        group = conv.group.value.data
        c_out, per_group = weight.shape[0], weight.shape[1]
        # input channel of weight[o, i]: (o // (C_out / group)) * per_group + i
        channel = (np.arange(c_out)[:, None] // (c_out // group)) * per_group + np.arange(per_group)
        spatial = (1,) * (weight.ndim - 2)
        bias = conv.biases.astype(np.float64) + (
            weight * shift[channel].reshape(*channel.shape, *spatial)
        ).reshape(c_out, -1).sum(axis=1)
        weight = weight * scale[channel].reshape(*channel.shape, *spatial)
        folded = nn.ConvOp.from_arrays(op.input, weight, bias, conv.window, group, conv.node_name)
        rewriter.replace(conv, folded)
        rewriter.erase(op)


@dataclass(frozen=True)
class NnFoldAffinePass(ModulePass):
    name = "nn-fold-affine"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(ToScaleShift()).rewrite_module(op)
        PatternRewriteWalker(MergeScaleShifts()).rewrite_module(op)
        PatternRewriteWalker(FoldIntoPrecedingDense()).rewrite_module(op)
        PatternRewriteWalker(FoldIntoFollowingDense()).rewrite_module(op)
        PatternRewriteWalker(FoldIntoLayerNorm()).rewrite_module(op)
        PatternRewriteWalker(FoldIntoPrecedingConv()).rewrite_module(op)
        PatternRewriteWalker(FoldIntoFollowingConv()).rewrite_module(op)

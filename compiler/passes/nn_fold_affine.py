"""nn-fold-affine: constant additions and scalings become one ``nn.scale_shift`` or vanish into a
dense layer.

Input and output level: nn. An element-wise Add/Sub/Mul/Div of an activation and a constant is
an affine map ``y = x * scale + shift``; each becomes an ``nn.scale_shift``, and a chain of them
merges into one. A scale_shift that follows an ``nn.dense`` with no other user, or feeds an
``nn.dense`` as its only user, and has one constant per feature, is folded into that layer's
weights and bias (input normalisation, output scaling, the bias Add of MatMul+Add exports);
so is one scale factor applied after ops that only move a dense layer's results, to the
columns it reaches, when nothing else reads them (attention's q and k scalings).
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
from rtlflow.numerics.indexing import gather_map


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


def _moved(user: Operation, value: SSAValue, numbers: np.ndarray) -> np.ndarray | None:
    """For an op that only moves the elements of ``value`` (its data operand), which element
    each of its result elements is (``numbers``: those of ``value``; -1: none, a zero);
    None for any other op."""
    if isinstance(user, nn.ReshapeOp):
        return numbers.reshape(nn.shape_of(user.output))
    if isinstance(user, nn.TransposeOp):
        return numbers.transpose(user.permutation)
    if isinstance(user, nn.ExpandOp):
        return np.broadcast_to(numbers, nn.shape_of(user.output))
    if isinstance(user, nn.GatherOp) and user.data is value:
        indices = nn.constant_value(user.indices)
        if indices is None:
            return None
        index_map = gather_map(
            numbers.shape, nn.shape_of(user.indices), user.axis.value.data, user.kind.data
        )
        targets = index_map.targets(indices[np.newaxis])[0]
        flat = np.where(targets >= 0, numbers.reshape(-1)[targets], -1)
        return flat.reshape(nn.shape_of(user.output))
    return None


def _columns_read(
    value: SSAValue, numbers: np.ndarray, columns: int, target: Operation
) -> tuple[set[int], set[int]]:
    """The columns (last-axis positions, of ``columns``) of a dense layer's result that reach
    ``target`` through ops that only move data, and those that reach anything else; ``value``
    carries the result's elements ``numbers``."""
    mine: set[int] = set()
    others: set[int] = set()
    for use in value.uses:
        user = use.operation
        moved = _moved(user, value, numbers)
        if moved is not None:
            more, rest = _columns_read(user.results[0], moved, columns, target)
            mine |= more
            others |= rest
            continue
        read = set((numbers[numbers >= 0] % columns).tolist())
        (mine if user is target else others).update(read)
    return mine, others


class FoldScalingThroughMovesIntoDense(RewritePattern):
    """``moves(dense(x)) * s`` → ``moves(dense'(x))``: one scale factor (no shift) applied to
    values a dense layer computes and ops that only move data carry on (reshapes, transposes,
    gathers by constant indices, expands) becomes part of the layer's weights and bias for the
    columns it reaches, when nothing else reads those columns. PyTorch's attention export
    scales q and k by d^-1/4 after the packed q, k, v projection and its reshapes: a constant
    product on every element otherwise (a third of the constituent transformer's LUTs)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ScaleShiftOp, rewriter: PatternRewriter) -> None:
        scales = op.scales.reshape(-1)
        if not len(scales) or np.any(scales != scales[0]) or np.any(op.shifts != 0):
            return
        value = op.input
        while not isinstance(owner := value.owner, nn.DenseOp):
            if not isinstance(owner, Operation) or not owner.operands:
                return  # a design input, or a constant
            data = owner.data if isinstance(owner, nn.GatherOp) else owner.operands[0]
            if _moved(owner, data, np.zeros(nn.shape_of(data), np.int64)) is None:
                return  # not an op that only moves data
            value = data
        dense = owner
        shape = nn.shape_of(dense.output)
        numbers = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
        mine, others = _columns_read(dense.output, numbers, shape[-1], op)
        if not mine or mine & others:
            return
        scale = np.ones(shape[-1])
        scale[sorted(mine)] = float(scales[0])
        folded = nn.DenseOp.from_arrays(
            dense.input,
            dense.weights.astype(np.float64) * scale[:, np.newaxis],
            dense.biases.astype(np.float64) * scale,
            dense.node_name,
        )
        rewriter.replace(dense, folded)
        rewriter.replace(op, [], [op.input])


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
        PatternRewriteWalker(FoldScalingThroughMovesIntoDense()).rewrite_module(op)
        PatternRewriteWalker(FoldIntoFollowingDense()).rewrite_module(op)
        PatternRewriteWalker(FoldIntoLayerNorm()).rewrite_module(op)
        PatternRewriteWalker(FoldIntoPrecedingConv()).rewrite_module(op)
        PatternRewriteWalker(FoldIntoFollowingConv()).rewrite_module(op)

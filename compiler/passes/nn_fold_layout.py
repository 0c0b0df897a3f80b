"""nn-fold-layout: transposes and zero padding folded away wherever the result is exact.

Input and output level: nn. Keras / TF exports wrap every convolution in NHWC↔NCHW transposes.
A transpose moves towards the input through element-wise ops (ReLU, tables, per-element
scale_shift with its constants permuted), so that the pairs meet and cancel; a transpose feeding
a flatten into a dense layer becomes a permutation of that layer's weight columns. A zero ``Pad``
of the spatial axes in front of a convolution (or of an average pool counting padding) becomes
that op's own padding. Whatever transposes remain are wiring in hardware: they cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from rtlflow.dialects import nn
from rtlflow.dialects.arrays import int_array
from rtlflow.dialects.traits import ElementWise
from rtlflow.numerics.windows import Window

def _transpose(value, perm: tuple[int, ...], node: str) -> nn.TransposeOp:
    shape = nn.shape_of(value)
    result = TensorType(value.type.element_type, [shape[p] for p in perm])  # type: ignore
    return nn.TransposeOp(value, result, node, perm=int_array(perm))


class CancelTransposes(RewritePattern):
    """``transpose(transpose(x, p), q)`` → ``x`` or one transpose."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.TransposeOp, rewriter: PatternRewriter) -> None:
        inner = op.input.owner
        if not isinstance(inner, nn.TransposeOp):
            return
        p, q = inner.permutation, op.permutation
        composed = tuple(p[i] for i in q)
        if composed == tuple(range(len(composed))):
            rewriter.replace(op, [], [inner.input])
        else:
            rewriter.replace(op, _transpose(inner.input, composed, op.node_name))


class HoistTranspose(RewritePattern):
    """``transpose(f(x))`` → ``f'(transpose(x))`` for an element-wise ``f`` used only here."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.TransposeOp, rewriter: PatternRewriter) -> None:
        source = op.input.owner
        elementwise = isinstance(source, Operation) and source.has_trait(ElementWise)
        if not (elementwise or isinstance(source, nn.ScaleShiftOp)) or not op.input.has_one_use():
            return
        if not isinstance(source.input.owner, nn.TransposeOp):
            return  # only worth it when it lets two transposes meet
        perm = op.permutation
        moved = _transpose(source.input, perm, op.node_name)
        if isinstance(source, nn.ScaleShiftOp):
            axes = perm
            new = nn.ScaleShiftOp.from_arrays(
                moved.output,
                np.transpose(source.scales, axes),
                np.transpose(source.shifts, axes),
                source.node_name,
            )
        else:
            properties = {k: v for k, v in source.properties.items() if k != "node"}
            new = type(source)(moved.output, moved.output.type, source.node_name, **properties)
        rewriter.insert(moved)
        rewriter.replace(op, new)
        rewriter.erase(source)


class TransposeIntoDense(RewritePattern):
    """``dense(flatten(transpose(x)))`` → ``dense'(flatten(x))`` with permuted weight columns."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.TransposeOp, rewriter: PatternRewriter) -> None:
        use = op.output.get_unique_use()
        if use is None or not isinstance(reshape := use.operation, nn.ReshapeOp):
            return
        dense_use = reshape.output.get_unique_use()
        if dense_use is None or not isinstance(dense := dense_use.operation, nn.DenseOp):
            return
        flat = nn.shape_of(reshape.output)
        if len(flat) != 2 or flat[0] != 1:
            return
        source = nn.shape_of(op.input)
        order = np.arange(int(np.prod(source))).reshape(source).transpose(op.permutation).reshape(-1)
        weight = np.zeros_like(dense.weights, dtype=np.float64)
        weight[:, order] = dense.weights
        new_reshape = nn.ReshapeOp(op.input, reshape.output.type, reshape.node_name)
        rewriter.insert(new_reshape, InsertPoint.before(dense))
        rewriter.replace(
            dense,
            nn.DenseOp.from_arrays(new_reshape.output, weight, dense.biases, dense.node_name),
        )
        rewriter.erase(reshape)
        rewriter.erase(op)


class PadIntoWindow(RewritePattern):
    """``conv(pad(x))`` → ``conv(x)`` with larger pads (and average pools counting padding)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.PadOp, rewriter: PatternRewriter) -> None:
        pads = op.amounts
        rank = len(pads) // 2
        if rank < 3 or any(pads[a] or pads[rank + a] for a in (0, 1)):
            return  # only padding of spatial axes folds
        uses = list(op.output.uses)
        targets = [use.operation for use in uses]
        if not targets or not all(_takes_zero_padding(t) for t in targets):
            return
        spatial = rank - 2
        for target in targets:
            window = target.window
            extra = pads[2:rank] + pads[rank + 2 :]
            new_pads = tuple(a + b for a, b in zip(window.pads, extra, strict=True))
            grown = Window(
                nn.shape_of(op.input)[2:],
                window.kernel,
                window.strides,
                new_pads,
                window.dilations,
                window.output_shape,
            )
            assert len(new_pads) == 2 * spatial
            if isinstance(target, nn.ConvOp):
                new = nn.ConvOp.from_arrays(
                    op.input, target.weights, target.biases, grown, target.group.value.data,
                    target.node_name,
                )
            else:
                new = nn.PoolOp.from_window(op.input, "average", grown, True, target.node_name)
            rewriter.replace(target, new)
        rewriter.erase(op)


def _takes_zero_padding(op) -> bool:
    if isinstance(op, nn.ConvOp):
        return True
    return (
        isinstance(op, nn.PoolOp)
        and op.kind.data == "average"
        and (op.count_include_pad.value.data or not op.window.padded)
    )


@dataclass(frozen=True)
class NnFoldLayoutPass(ModulePass):
    name = "nn-fold-layout"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(CancelTransposes()).rewrite_module(op)
        PatternRewriteWalker(HoistTranspose()).rewrite_module(op)
        PatternRewriteWalker(CancelTransposes()).rewrite_module(op)
        PatternRewriteWalker(TransposeIntoDense()).rewrite_module(op)
        PatternRewriteWalker(PadIntoWindow()).rewrite_module(op)

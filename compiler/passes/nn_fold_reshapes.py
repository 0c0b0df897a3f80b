"""nn-fold-reshapes: chains of reshapes become one, reshapes to the same shape disappear.

Input and output level: nn. Reshape, Flatten, Squeeze and Unsqueeze were all imported as
``nn.reshape``; in hardware they are wiring, and this pass keeps the IR free of redundant ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from rtlflow.dialects import nn


class FoldReshape(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ReshapeOp, rewriter: PatternRewriter) -> None:
        source = op.input
        while isinstance(source.owner, nn.ReshapeOp):
            source = source.owner.input
        if source.type == op.output.type:
            rewriter.replace(op, [], [source])
        elif source is not op.input:
            rewriter.replace(op, nn.ReshapeOp(source, op.output.type, op.node_name))


@dataclass(frozen=True)
class NnFoldReshapesPass(ModulePass):
    name = "nn-fold-reshapes"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FoldReshape()).rewrite_module(op)

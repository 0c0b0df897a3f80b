"""convert-fxp-to-circuit: every fixed-point op with hardware becomes a ``circuit.unit``.

Input level: fxp. Output level: circuit (units wrapping fxp ops; ``fxp.reshape`` stays, being
wiring only). Units start unscheduled: no registers, latency 0; ``circuit-insert-registers``
gives them their pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from rtlflow.dialects import circuit, fxp


class WrapInUnit(RewritePattern):
    def match_and_rewrite(self, op, rewriter: PatternRewriter) -> None:
        if not isinstance(op, fxp.FxpOp | fxp.MultiInputOp) or isinstance(op, fxp.ReshapeOp):
            return
        if isinstance(op.parent_op(), circuit.UnitOp):
            return
        rewriter.replace(op, circuit.UnitOp.wrap(op, op.node_name))


@dataclass(frozen=True)
class ConvertFxpToCircuitPass(ModulePass):
    name = "convert-fxp-to-circuit"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(WrapInUnit(), walk_regions_first=False).rewrite_module(op)

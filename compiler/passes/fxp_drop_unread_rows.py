"""fxp-drop-unread-rows: compute only the rows something reads.

Input and output level: fxp. A transformer classifier reads the class token of its last block
(``x[:, 0]``) and a graph network may read a few of its nodes, yet every row-wise layer before
that selection computes all its rows: the other tokens' feed-forward layers, layer norms, and
their attention rows (softmax and both matmuls) exist in the hardware only for synthesis to
remove them, and the estimate counts them. This pass asks ``rtlflow.demand`` which elements
each value's readers use, and rewrites every layer with rows nobody reads

    %y = fxp.layer_norm %x : tensor<1x2x16x...> -> tensor<1x2x16x...>   (row 1 unread)

into the layer over the rows that are read, between two takes (wiring)

    %x1 = fxp.take %x {sources = [0 .. 15]} : tensor<1x2x16x...> -> tensor<1x16x...>
    %y1 = fxp.layer_norm %x1 {axis = 1} : tensor<1x16x...> -> tensor<1x16x...>
    %y = fxp.take %y1 {sources = [0 .. 15, -1 ...]} : tensor<1x16x...> -> tensor<1x2x16x...>

so readers see the same values where they read (the unread rows become the constant 0), and
the layer before ``%x`` in turn has rows nobody reads. Rows are those of ``rtlflow.demand``:
dense, softmax and layer norm over their last axes, a matmul's result rows (its left operand's
rows; each batch keeps as many rows as the batch with the most rows read), and, in networks
without windows (where element-wise ops may work on pixel streams), element-wise ops, constant
scales and sums. A take of a take, transpose or reshape becomes one take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint, Rewriter

from rtlflow.demand import (
    ROUTES,
    demanded,
    elementwise,
    matmul_rows,
    route_sources,
    row_width,
)
from rtlflow.dialects import fxp
from rtlflow.dialects.arrays import dense_from_numpy, int_array, numpy_from_dense


def _take(value: SSAValue, sources: np.ndarray, shape: tuple[int, ...], node: str) -> fxp.TakeOp:
    """``value``'s elements at ``sources`` (-1: the constant 0) as a tensor of ``shape``."""
    return fxp.TakeOp(
        value,
        fxp.fixed_tensor(shape, fxp.tensor_format(value)),
        node,
        sources=int_array(sources.reshape(-1)),
    )


def _rows(live: np.ndarray, width: int) -> np.ndarray:
    """The flat positions of rows ``live`` (-1 rows: constants) of ``width`` elements."""
    positions = live[:, None] * width + np.arange(width)
    return np.where(live[:, None] >= 0, positions, -1).reshape(-1)


def _back(selected: np.ndarray, count: int, width: int) -> np.ndarray:
    """Sources that put rows ``selected[k]`` (row k of the narrowed result) back among ``count``
    rows of ``width``: every other row -1 (the constant 0)."""
    where = np.full(count, -1)
    keep = selected >= 0
    where[selected[keep]] = np.flatnonzero(keep)
    return _rows(where, width)


def _narrowed(op: Operation, wanted: np.ndarray, reshapeable: bool) -> list[Operation] | None:
    """The ops computing ``op``'s read rows (takes in, the op, a take out), or None.
    ``reshapeable``: element-wise ops may take another shape (no window streams pixels)."""
    fmt = fxp.tensor_format(op.results[0])
    shape = fxp.tensor_shape(op.results[0])
    node = op.properties["node"].data  # type: ignore[attr-defined]
    properties = dict(op.properties)
    if isinstance(op, fxp.MatMulOp):
        if (layout := matmul_rows(op)) is None:
            return None
        batches, rows, inner, columns = layout
        live = wanted.reshape(batches, rows, columns).any(axis=2)
        kept = int(live.sum(axis=1).max())
        if kept in (0, rows):
            return None
        chosen = np.full((batches, kept), -1)
        for b in range(batches):
            read = np.flatnonzero(live[b])
            chosen[b, : read.size] = read + b * rows
        a, b_operand = op.operands
        takes = [_take(a, _rows(chosen.reshape(-1), inner), (*shape[:-2], kept, inner), node)]
        operands = [takes[0].output, b_operand]
        result_shape = (*shape[:-2], kept, columns)
        back = _back(chosen.reshape(-1), batches * rows, columns)
    else:
        width = row_width(op)
        if width is None or (not reshapeable and elementwise(op)):
            return None
        rows = wanted.reshape(-1, width).any(axis=1)
        if rows.all() or not rows.any():
            return None
        live = np.flatnonzero(rows)
        takes, operands = [], []
        for value in op.operands:
            each = int(np.prod(fxp.tensor_shape(value))) // rows.size
            takes.append(_take(value, _rows(live, each), (live.size, each), node))
            operands.append(takes[-1].results[0])
        if isinstance(op, fxp.LayerNormOp):
            properties["axis"] = IntegerAttr(1, i64)
        if isinstance(op, fxp.ScaleShiftOp):
            picked = _rows(live, width)
            for name in ("scale", "offset"):
                values = numpy_from_dense(properties[name]).reshape(-1)[picked]  # type: ignore
                properties[name] = dense_from_numpy(values.reshape(live.size, width))
        result_shape = (live.size, width)
        back = _back(live, rows.size, width)
    narrow = type(op).create(
        operands=operands,
        result_types=[fxp.fixed_tensor(result_shape, fmt)],
        properties=properties,
        attributes=dict(op.attributes),
    )
    out = _take(narrow.results[0], back, shape, node)
    narrow.results[0].name_hint = out.results[0].name_hint = op.results[0].name_hint
    return [*takes, narrow, out]


class ComposeTakes(RewritePattern):
    """A take of a take, transpose or reshape (without a cast): one take of what they read."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, outer: fxp.TakeOp, rewriter: PatternRewriter) -> None:
        inner = outer.input.owner
        if isinstance(inner, fxp.ReshapeOp):
            sources, fills = np.arange(int(np.prod(fxp.tensor_shape(inner.input)))), {}
        elif isinstance(inner, ROUTES) and len(inner.operands) == 1:
            sources = route_sources(inner)
            fill = inner.fill_list if isinstance(inner, fxp.TakeOp) else ()
            constants = np.flatnonzero(sources < 0)
            fills = {int(p): (fill[k] if k < len(fill) else 0) for k, p in enumerate(constants)}
        else:
            return
        if fxp.tensor_format(inner.operands[0]) != outer.output_format:
            return  # the move casts
        outer_fill = iter(outer.fill_list)
        composed, fill = [], []
        for source in outer.source_list:
            if source >= 0 and sources[source] >= 0:
                composed.append(int(sources[source]))
                continue
            composed.append(-1)
            fill.append(fills[source] if source >= 0 else next(outer_fill, 0))
        properties = {"sources": int_array(composed)}
        if any(fill):
            properties["fill"] = int_array(fill)
        rewriter.replace(
            outer, fxp.TakeOp(inner.operands[0], outer.output.type, outer.node_name, **properties)
        )
        if not inner.results[0].uses:
            rewriter.erase(inner)


class DropIdentityTakes(RewritePattern):
    """A take of every element in order, to the same shape: its input."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, take: fxp.TakeOp, rewriter: PatternRewriter) -> None:
        if take.input.type == take.output.type and take.source_list == tuple(
            range(len(take.source_list))
        ):
            rewriter.replace(take, [], [take.input])


@dataclass(frozen=True)
class FxpDropUnreadRowsPass(ModulePass):
    name = "fxp-drop-unread-rows"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            block = function.body.block
            # element-wise ops keep their image shapes where windows may stream pixels
            reshapeable = not any(isinstance(o, fxp.WindowOp) for o in block.ops)
            demand = demanded(function)
            for layer in list(block.ops):
                wanted = demand.get(layer.results[0]) if layer.results else None
                if wanted is None:
                    continue
                narrowed = _narrowed(layer, wanted, reshapeable)
                if narrowed is None:
                    continue
                Rewriter.insert_op(narrowed, InsertPoint.before(layer))
                layer.results[0].replace_all_uses_with(narrowed[-1].results[0])
                Rewriter.erase_op(layer)
        PatternRewriteWalker(
            GreedyRewritePatternApplier([ComposeTakes(), DropIdentityTakes()])
        ).rewrite_module(op)

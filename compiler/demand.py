"""Which elements of each value something reads, at the fxp and the circuit level.

A window that does not cover its whole input (a 2x2 pooling of 7 rows reads 6 of them) leaves
elements that nothing reads; so does a selection of rows (a transformer's classifier reads the
class token alone), and everything computed only for them. ``demanded`` propagates what the
design's outputs need backwards, op by op (a circuit unit by the fxp op it implements):

- element-wise ops, constant scales and sums: element by element;
- wiring (reshape, transpose, pad, concat, take): through the elements it moves;
- rows (dense, softmax, layer norm over the last axes; the rows of a matmul's left operand):
  a row is read whole when any of its results is read;
- parallel window units: by their taps;
- anything else, and any unit that works on a pixel stream: every input element.

Two passes use it: ``fxp-drop-unread-rows`` computes only the rows something reads, and the
adder graph of a layer leaves out the outputs nobody reads (synthesis would remove their logic
anyway; the estimate, the Verilog and the schedule no longer count it).
"""

from __future__ import annotations

import math

import numpy as np
from xdsl.dialects import func
from xdsl.ir import Operation, SSAValue

from rtlflow.dialects import circuit, fxp
from rtlflow.dialects.traits import ElementWise, RowWise


def _size(value: SSAValue) -> int:
    return math.prod(fxp.tensor_shape(value))


def route_sources(op: Operation) -> np.ndarray:
    """For a wiring op (transpose, pad, concat, take), the flat index into its inputs (numbered
    one after another) of every result element; -1 where the element is a constant."""
    values = list(op.operands)
    numbered, offset = [], 0
    for value in values:
        size = _size(value)
        numbered.append(np.arange(offset, offset + size).reshape(fxp.tensor_shape(value)))
        offset += size
    match op:
        case fxp.TransposeOp():
            sources = np.transpose(numbered[0], op.permutation)
        case fxp.PadOp():
            pads = op.amounts
            rank = len(pads) // 2
            widths = [(pads[a], pads[rank + a]) for a in range(rank)]
            sources = np.pad(numbered[0], widths, constant_values=-1)
        case fxp.ConcatOp():
            sources = np.concatenate(numbered, axis=op.axis.value.data % len(numbered[0].shape))
        case fxp.TakeOp():
            sources = np.asarray(op.source_list, dtype=np.int64)
        case _:
            raise TypeError(f"{op.name} does not move data")
    return sources.reshape(-1)


ROUTES = (fxp.TransposeOp, fxp.PadOp, fxp.ConcatOp, fxp.TakeOp)


def elementwise(op: Operation) -> bool:
    """Each result element from the same element of every operand (constant scales too)."""
    trait = op.get_trait(RowWise)
    return op.has_trait(ElementWise) or (trait is not None and trait.per_element)


def row_width(op: Operation) -> int | None:
    """Elements per row of an op that computes its rows alike and apart (``RowWise``; an
    element-wise op over its last axis), one result row from the same row of each operand; None
    for any other op. A matmul has rows too, but its own rule (``matmul_rows``)."""
    trait = op.get_trait(RowWise)
    if trait is not None:
        return trait.row_width(op)
    if op.has_trait(ElementWise):
        return fxp.tensor_shape(op.results[0])[-1]
    return None


def matmul_rows(op: fxp.MatMulOp) -> tuple[int, int, int, int] | None:
    """``(batches, rows, inner, columns)`` of a matmul of equal ranks and batch axes (a's rows
    times b's columns in every batch), else None."""
    a, b = (fxp.tensor_shape(v) for v in op.inputs)
    y = fxp.tensor_shape(op.output)
    if not (len(a) == len(b) == len(y) >= 2 and a[:-2] == b[:-2] == y[:-2]):
        return None
    return math.prod(a[:-2]), a[-2], a[-1], b[-1]


def _read(op: Operation, wanted: np.ndarray) -> list[np.ndarray | None]:
    """Per operand of ``op`` (an fxp op), the flat mask of its elements read for the ``wanted``
    results; None: all of them."""
    if isinstance(op, fxp.ReshapeOp):
        return [wanted]
    if isinstance(op, ROUTES):
        sources = route_sources(op)
        read = np.zeros(sum(_size(v) for v in op.operands), dtype=bool)
        picked = sources[wanted & (sources >= 0)]
        read[picked] = True
        bounds = np.cumsum([0] + [_size(v) for v in op.operands])
        return [read[bounds[i] : bounds[i + 1]] for i in range(len(op.operands))]
    width = row_width(op)
    if width is not None:
        if elementwise(op):
            return [wanted for _ in op.operands]
        rows = wanted.reshape(-1, width).any(axis=1)
        return [np.repeat(rows, _size(v) // rows.size) for v in op.operands]
    if isinstance(op, fxp.MatMulOp) and (shape := matmul_rows(op)) is not None:
        batches, rows, inner, columns = shape
        live = wanted.reshape(batches, rows, columns).any(axis=2)
        a = np.repeat(live.reshape(-1), inner)
        b = np.repeat(live.any(axis=1), inner * columns)
        return [a, b]
    if isinstance(op, fxp.WindowOp) and op.style.data == "parallel":
        return [_window_inputs(op, wanted)]
    return [None for _ in op.operands]


def _window_inputs(op: fxp.WindowOp, wanted: np.ndarray) -> np.ndarray:
    """The input elements a parallel window op reads for its ``wanted`` outputs (flat masks;
    a conv output reads every input channel of its group, conservatively all of them)."""
    window = op.window
    index, _ = window.taps()
    shape = fxp.tensor_shape(op.input)
    channels, pixels = shape[1], math.prod(shape[2:])
    per_channel = wanted.reshape(-1, window.positions)  # [N * C_out, positions]
    needed = np.zeros((shape[0], channels, pixels), dtype=bool)
    if isinstance(op, fxp.PoolOp):  # channel c reads channel c
        positions = per_channel.reshape(shape[0], channels, window.positions)
        for n, c, p in zip(*np.nonzero(positions), strict=True):
            taps = index[p][index[p] >= 0]
            needed[n, c, taps] = True
    else:
        positions = per_channel.reshape(shape[0], -1, window.positions).any(axis=1)
        for n, p in zip(*np.nonzero(positions), strict=True):
            taps = index[p][index[p] >= 0]
            needed[n, :, taps] = True
    return needed.reshape(-1)


def demanded(function: func.FuncOp) -> dict[SSAValue, np.ndarray]:
    """Per value of ``function`` (fxp or circuit level): a flat boolean mask of the elements
    read."""
    demand: dict[SSAValue, np.ndarray] = {}

    def need(value: SSAValue, mask: np.ndarray | None = None) -> None:
        full = np.ones(_size(value), dtype=bool) if mask is None else mask
        demand[value] = demand[value] | full if value in demand else full

    for op in reversed(list(function.body.block.ops)):
        if isinstance(op, func.ReturnOp):
            for value in op.arguments:
                need(value)
            continue
        if not op.results:
            continue
        wanted = demand.get(op.results[0])
        if wanted is None:  # nothing reads it
            wanted = np.zeros(_size(op.results[0]), dtype=bool)
        inner = op.inner if isinstance(op, circuit.UnitOp) else op
        if (
            isinstance(op, circuit.DelayOp | circuit.CollectOp)
            or circuit.beats_of(inner) > 1
            or isinstance(op, circuit.UnitOp) and len(op.ops) > 1
        ):
            reads = [None for _ in op.operands]  # a stream (every beat), a chain: all read
        else:
            reads = _read(inner, wanted)
        for value, mask in zip(op.operands, reads, strict=True):
            need(value, mask)
    return demand

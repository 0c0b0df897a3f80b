"""Which elements of each value something reads, at the circuit level.

A window that does not cover its whole input (a 2x2 pooling of 7 rows reads 6 of them) leaves
elements that nothing reads; so does an element-wise op on them. ``demanded`` propagates what
the design's outputs need backwards: through element-wise units and reshapes element by element,
through parallel window units by their taps; every other unit, a delay or a stream reads all of
its inputs. The adder graph of a layer then leaves out the outputs nobody reads (synthesis would
remove their logic anyway; the estimate, the Verilog and the schedule no longer count it).
"""

from __future__ import annotations

import math

import numpy as np
from xdsl.dialects import func
from xdsl.ir import SSAValue

from rtlflow.dialects import circuit, fxp
from rtlflow.dialects.traits import ElementWise


def _size(value: SSAValue) -> int:
    return math.prod(fxp.tensor_shape(value))


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
    """Per value of ``function`` (circuit level): a flat boolean mask of the elements read."""
    demand: dict[SSAValue, np.ndarray] = {}

    def need(value: SSAValue, mask: np.ndarray | None = None) -> None:
        full = np.ones(_size(value), dtype=bool) if mask is None else mask
        demand[value] = demand[value] | full if value in demand else full

    for op in reversed(list(function.body.block.ops)):
        if isinstance(op, func.ReturnOp):
            for value in op.arguments:
                need(value)
            continue
        wanted = demand.get(op.results[0]) if op.results else None
        if wanted is None:  # nothing reads it
            wanted = np.zeros(_size(op.results[0]), dtype=bool) if op.results else None
        inner = op.inner if isinstance(op, circuit.UnitOp) else op
        if isinstance(inner, fxp.ReshapeOp) or (
            isinstance(op, circuit.UnitOp) and inner.has_trait(ElementWise)
        ):
            need(op.operands[0], wanted)
        elif isinstance(op, circuit.UnitOp) and isinstance(inner, fxp.WindowOp) and (
            inner.style.data == "parallel" and circuit.beats_of(inner) == 1
        ):
            need(op.operands[0], _window_inputs(inner, wanted))
        else:
            for value in op.operands:
                need(value)
    return demand

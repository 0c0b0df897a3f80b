"""circuit-balance-latency: equal latency on every path, and the design's latency and II.

Input and output level: circuit. Computes the cycle at which every value is ready; where a unit
reads values ready at different cycles, or the outputs are ready at different cycles, the earlier
ones get a ``circuit.delay``. Records the design's latency (cycles from an accepted input to its
outputs) and initiation interval (the largest unit ii) on the function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from rtlflow.dialects import circuit, fxp
from rtlflow.errors import RtlflowError


@dataclass(frozen=True)
class CircuitBalanceLatencyPass(ModulePass):
    name = "circuit-balance-latency"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            _balance(function)


def _balance(function: func.FuncOp) -> None:
    beats = circuit.input_beats(function)
    ready: dict[SSAValue, int] = {}
    beat_times: dict[SSAValue, np.ndarray] = {}
    for argument, count in zip(function.body.block.args, beats, strict=True):
        ready[argument] = 0
        if count > 1:
            beat_times[argument] = np.arange(count)
    ii = max(beats)
    for op in list(function.body.block.ops):
        if isinstance(op, fxp.ReshapeOp) and op.input in beat_times:  # a channels-first view
            beat_times[op.output], ready[op.output] = beat_times[op.input], ready[op.input]
            continue
        if isinstance(op, circuit.UnitOp) and op.inputs[0] in beat_times:
            times = beat_times[op.inputs[0]] + op.latency.value.data
            inner = op.inner
            if isinstance(inner, fxp.WindowOp):
                times = times[inner.window.completing()]
            beat_times[op.outputs[0]] = times
            ready[op.outputs[0]] = int(times[-1])
            if op.ii.value.data > 1:
                raise ValueError("units on a pixel stream take a beat every cycle")
            continue
        if isinstance(op, circuit.CollectOp):
            ready[op.output] = int(beat_times[op.input].max()) + 1
            continue
        if isinstance(op, func.ReturnOp):
            latency = max((ready[v] for v in op.arguments), default=0)
            _align(op, ready, latency)
            if max(beats) > 1 and ii > max(beats):
                raise RtlflowError(
                    f"a layer takes a new input only every {ii} cycles (its reuse factor), "
                    f"slower than the stream's {max(beats)} beats per inference: lower its reuse "
                    "factor"
                )
            function.attributes[circuit.LATENCY] = IntegerAttr(latency, i64)
            function.attributes[circuit.II] = IntegerAttr(ii, i64)
            continue
        inputs = list(op.operands)
        start = max((ready[v] for v in inputs), default=0)
        _align(op, ready, start)
        extra = 0
        if isinstance(op, circuit.UnitOp):
            extra = op.latency.value.data
            ii = max(ii, op.ii.value.data)
        elif isinstance(op, circuit.DelayOp):
            extra = op.cycles.value.data
        elif not isinstance(op, fxp.ReshapeOp):
            raise ValueError(f"unexpected {op.name} at the circuit level")
        for result in op.results:
            ready[result] = start + extra


def _align(op: Operation, ready: dict[SSAValue, int], cycle: int) -> None:
    """Delay every operand of ``op`` that is ready before ``cycle``."""
    for index, value in enumerate(op.operands):
        missing = cycle - ready[value]
        if missing > 0:
            delay = circuit.DelayOp(value, missing)
            Rewriter.insert_op(delay, InsertPoint.before(op))
            op.operands[index] = delay.output
            ready[delay.output] = cycle

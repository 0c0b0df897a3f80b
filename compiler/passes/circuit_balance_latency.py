"""circuit-balance-latency: equal latency on every path, and the design's latency and II.

Input and output level: circuit. Computes the cycle at which every value is ready; where a unit
reads values ready at different cycles, or the outputs are ready at different cycles, the earlier
ones get a ``circuit.delay``. Records the design's latency (cycles from an accepted input to its
outputs) and initiation interval (the largest unit ii) on the function.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from rtlflow.dialects import circuit, fxp


@dataclass(frozen=True)
class CircuitBalanceLatencyPass(ModulePass):
    name = "circuit-balance-latency"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            _balance(function)


def _balance(function: func.FuncOp) -> None:
    ready: dict[SSAValue, int] = {arg: 0 for arg in function.body.block.args}
    ii = 1
    for op in list(function.body.block.ops):
        if isinstance(op, func.ReturnOp):
            latency = max((ready[v] for v in op.arguments), default=0)
            _align(op, ready, latency)
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

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
from rtlflow.numerics.windows import padded_grid


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
    ii = 1
    period = max(beats)  # cycles an inference's stream takes (its padded grid's, when padded)
    for op in list(function.body.block.ops):
        if isinstance(op, fxp.ReshapeOp) and op.input in beat_times:  # a channels-first view
            beat_times[op.output], ready[op.output] = beat_times[op.input], ready[op.input]
            continue
        if isinstance(op, circuit.UnitOp) and _pads_a_stream(op):
            _pad_stream(op, beat_times, ready)
            if circuit.restreams(op.inner):  # an image every II cycles at most
                ii = max(ii, op.ii.value.data)
                if ii > period:
                    raise RtlflowError(
                        f"on the stream, its padded image takes {ii} beats, more than the "
                        f"stream's {period} per inference: at the input's rate, a padded "
                        "convolution streams only when it reads the design input itself, "
                        "nothing between them; give it conv_style: parallel",
                        node=op.node_name,
                        op="conv",
                    )
            else:  # the input's stream waits for the border: an image takes the padded grid
                period = len(beat_times[op.outputs[0]])
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
            if period > 1 and ii > period:
                raise RtlflowError(
                    f"a layer takes a new input only every {ii} cycles (its reuse factor), "
                    f"slower than the stream's {period} beats per inference: lower its reuse "
                    "factor"
                )
            ii = max(ii, period)
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


def _pads_a_stream(op: circuit.UnitOp) -> bool:
    return isinstance(op.inner, fxp.PadOp) and circuit.beats_of(op.inner) > 1


def _pad_stream(
    op: circuit.UnitOp, beat_times: dict[SSAValue, np.ndarray], ready: dict[SSAValue, int]
) -> None:
    """The beat times of a pad on a stream (``rtlflow.rtl.stream``): a collected image sent
    again, a beat a cycle; or the design input's stream with the border inserted, the border
    before the first pixel sent ahead (cycle 0 is the first pixel's, taken as it comes)."""
    inner = op.inner
    assert isinstance(inner, fxp.PadOp) and inner.spatial_pads is not None
    inside = padded_grid(fxp.tensor_shape(inner.input)[2:], inner.spatial_pads)
    start = ready[op.inputs[0]] if circuit.restreams(inner) else -int(np.argmax(inside))
    times = start + op.latency.value.data + np.arange(len(inside))
    beat_times[op.outputs[0]] = times
    ready[op.outputs[0]] = int(times[-1])


def _align(op: Operation, ready: dict[SSAValue, int], cycle: int) -> None:
    """Delay every operand of ``op`` that is ready before ``cycle``."""
    for index, value in enumerate(op.operands):
        missing = cycle - ready[value]
        if missing > 0:
            delay = circuit.DelayOp(value, missing)
            Rewriter.insert_op(delay, InsertPoint.before(op))
            op.operands[index] = delay.output
            ready[delay.output] = cycle

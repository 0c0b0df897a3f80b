"""circuit-balance-latency: equal latency on every path, and the design's latency and II.

Input and output level: circuit. Computes the cycle at which every value is ready; where a unit
reads values ready at different cycles, or the outputs are ready at different cycles, the earlier
ones get a ``circuit.delay``. Records the design's latency (cycles from an accepted input to its
outputs) and initiation interval (the largest unit ii) on the function.

On a pixel stream it follows every beat: a window unit's output pixels when the beats completing
their windows have passed its pipeline, a pad's positions as it sends them (the border sent
ahead; within a stream each pixel when it has arrived, which sets the depth of the pad's buffer:
``circuit.fifo_depths``; an add of two streams each operand's beat when the other's has
arrived, which sets the depths of its buffers likewise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from rtlflow.dialects import circuit, fxp
from rtlflow.errors import RtlflowError
from rtlflow.dialects.arrays import int_array
from rtlflow.numerics.windows import padded_grid
from rtlflow.units import unit_spec


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
    period = max(beats)  # cycles an inference's stream takes (its padded grid's, when padded)
    for op in function.body.block.ops:
        if _holds_the_input(op):
            # it holds the input while it sends the border: the input's pixels arrive at the
            # padded grid's positions inside the image (cycle 0 the first's), an image a grid
            inside = _padded_grid(op)
            (argument,) = function.body.block.args
            beat_times[argument] = np.flatnonzero(inside) - int(np.argmax(inside))
            period = len(inside)
    ii = 1
    for op in list(function.body.block.ops):
        if isinstance(op, fxp.ReshapeOp) and op.input in beat_times:  # a channels-first view
            beat_times[op.output], ready[op.output] = beat_times[op.input], ready[op.input]
            continue
        if isinstance(op, circuit.UnitOp) and _pads_a_stream(op):
            if circuit.fifo_depths(op.inner):
                _pad_within_stream(op, beat_times, period)
            else:  # it holds the input's stream for the border
                _pad_input_stream(op, beat_times)
            ready[op.outputs[0]] = int(beat_times[op.outputs[0]][-1])
            continue
        if isinstance(op, circuit.UnitOp) and isinstance(op.inner, fxp.AddOp) and (
            circuit.beats_of(op.inner) > 1
        ):
            _join_streams(op, beat_times, period)
            ready[op.outputs[0]] = int(beat_times[op.outputs[0]][-1])
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


def _holds_the_input(op: Operation) -> bool:
    """A pad that holds the design input's stream while it sends the border."""
    return (
        isinstance(op, circuit.UnitOp)
        and _pads_a_stream(op)
        and not circuit.fifo_depths(op.inner)
    )


def _padded_grid(op: circuit.UnitOp) -> np.ndarray:
    inner = op.inner
    assert isinstance(inner, fxp.PadOp) and inner.spatial_pads is not None
    return padded_grid(fxp.tensor_shape(inner.input)[2:], inner.spatial_pads)


def _pad_input_stream(op: circuit.UnitOp, beat_times: dict[SSAValue, np.ndarray]) -> None:
    """The beat times of the design input's stream with a border inserted
    (``rtlflow.rtl.stream.StreamPadUnit``): the border before the first pixel sent ahead, cycle
    0 the first pixel's (taken as it comes), a position a cycle."""
    inside = _padded_grid(op)
    start = -int(np.argmax(inside))
    beat_times[op.outputs[0]] = start + op.latency.value.data + np.arange(len(inside))


def _pad_within_stream(
    op: circuit.UnitOp, beat_times: dict[SSAValue, np.ndarray], period: int
) -> None:
    """The beat times of a stream with a border inserted where it cannot be held
    (``StreamPadUnit`` with a buffer): each pixel is sent the cycle after it arrives or after
    the position before it, whichever is later, a border position the cycle after the one
    before it, the border before the first pixel sent ahead. Sets the buffer's depth (the most
    pixels ever waiting); refused when the border does not fit between two images at the
    stream's rate (the buffer would grow without bound)."""
    inside = _padded_grid(op)
    arrivals = beat_times[op.inputs[0]]
    first = int(np.argmax(inside))
    sent = np.empty(len(inside), dtype=np.int64)
    sent[first] = arrivals[0] + 1
    pixel = 0
    for position in range(first + 1, len(inside)):
        sent[position] = sent[position - 1] + 1
        if inside[position]:
            pixel += 1
            sent[position] = max(sent[position], arrivals[pixel] + 1)
    sent[:first] = sent[first] - first + np.arange(first)
    # the next image's border before its first pixel follows this image's last position
    if sent[-1] + first > arrivals[0] + period:
        inner = op.inner
        raise RtlflowError(
            f"on the stream, its padded image takes {len(inside)} beats, which do not fit "
            f"between its images at the stream's {period} beats per inference: a padded "
            "convolution streams where its input's beats leave room for the border (after a "
            "pooling, or reading the design input itself); give it conv_style: parallel",
            node=inner.node_name,  # type: ignore[attr-defined]
            op="conv",
        )
    _set_depths(op, [_waiting(arrivals, sent[inside])])
    beat_times[op.outputs[0]] = sent + op.latency.value.data


def _waiting(arrivals: np.ndarray, leaving: np.ndarray) -> int:
    """The most beats a buffer holds at the end of a cycle: beats arriving (pushed) in the
    cycles ``arrivals``, leaving (popped) in the cycles ``leaving``, both in order; one at least."""
    held = np.arange(1, len(arrivals) + 1) - np.searchsorted(leaving, arrivals, "right")
    return max(1, int(held.max()))


def _set_depths(op: circuit.UnitOp, depths: list[int]) -> None:
    op.inner.attributes[circuit.FIFO_DEPTHS] = int_array(depths)
    op.module = StringAttr(unit_spec(op).module_name(op.register_boundaries))


def _join_streams(
    op: circuit.UnitOp, beat_times: dict[SSAValue, np.ndarray], period: int
) -> None:
    """The beat times of an add of two streams (``rtlflow.rtl.add.StreamAddUnit``): each pair
    of beats leaves its buffers the cycle after the later of the two arrived; sets the buffers'
    depths, over as many images, one every ``period`` cycles, as a beat can wait (on a small
    image the next image's first beats can arrive before this one's last have left)."""
    a, b = (beat_times[v] for v in op.inputs)
    later = np.maximum(a, b)
    images = int((later - np.minimum(a, b)).max()) // period + 2
    shifts = period * np.arange(images)[:, np.newaxis]

    def repeated(times: np.ndarray) -> np.ndarray:
        return np.sort((times + shifts).reshape(-1))

    leave = repeated(later + 1)
    _set_depths(op, [_waiting(repeated(a), leave), _waiting(repeated(b), leave)])
    beat_times[op.outputs[0]] = later + op.latency.value.data


def _align(op: Operation, ready: dict[SSAValue, int], cycle: int) -> None:
    """Delay every operand of ``op`` that is ready before ``cycle``."""
    for index, value in enumerate(op.operands):
        missing = cycle - ready[value]
        if missing > 0:
            delay = circuit.DelayOp(value, missing)
            Rewriter.insert_op(delay, InsertPoint.before(op))
            op.operands[index] = delay.output
            ready[delay.output] = cycle

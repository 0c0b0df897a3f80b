"""convert-fxp-to-circuit: every fixed-point op with hardware becomes a ``circuit.unit``.

Input level: fxp. Output level: circuit (units wrapping fxp ops; ``fxp.reshape`` stays, being
wiring only). Units start unscheduled: no registers, latency 0; ``circuit-insert-registers``
gives them their pipeline.

Attention folded by a reuse factor (its scores MatMul, softmax and mixing MatMul with the same
R > 1) becomes one unit holding the three ops (``rtlflow.rtl.attention``).

Pixel streams: a design input read by a window op of style ``stream`` arrives as beats (one
pixel per beat); every unit on the stream gets ``circuit.beats``, and where a streamed tensor
meets an op that needs the whole tensor a ``circuit.collect`` gathers it. A channels-last input
(``[1, *spatial, C]``) read through its channels-first view streams the same pixels: the view
becomes wiring (``fxp.reshape``) and the input is marked ``circuit.channels_last``. A padded
convolution's ``fxp.pad`` on a stream inserts the border's zero beats into it: holding the
design's input while it does when it reads that input (of such pads, the one of the largest
padded grid; the input's other readers see its beats as held), else buffering the pixels that
arrive meanwhile (``circuit.fifo_depths``). An add of two streams streams (each operand's beats waiting for
the other's); of a stream and a whole tensor, the stream is collected.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from rtlflow.dialects import circuit, fxp
from rtlflow.dialects.arrays import int_array
from rtlflow.errors import RtlflowError
from rtlflow.dialects.traits import Streamable, holds
from rtlflow.units.folding import attention_chain


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
        from rtlflow.emit_verilog import check_parallel_fits, check_ports  # (hardware only)

        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            for window in function.body.block.ops:
                if isinstance(window, fxp.WindowOp) and window.style.data == "parallel":
                    check_parallel_fits(window)
            _fuse_attention(function)
            check_ports(function, _mark_streams(function))
        PatternRewriteWalker(WrapInUnit(), walk_regions_first=False).rewrite_module(op)


def _fuse_attention(function: func.FuncOp) -> None:
    """Each folded ``softmax(a @ b) @ v`` (``attention_chain``) as one unit: its rows run
    through the three ops phase by phase, the score matrix never whole."""
    for softmax in list(function.body.block.ops):
        chain = attention_chain(softmax)
        if chain is None:
            continue
        names = [op.node_name for op in chain if isinstance(op, fxp.MatMulOp | fxp.SoftmaxOp)]
        unit = circuit.UnitOp.fuse(list(chain), "+".join(names))
        Rewriter.insert_op(unit, InsertPoint.before(chain[-1]))
        chain[-1].results[0].replace_all_uses_with(unit.outputs[0])
        for op in reversed(chain):
            Rewriter.erase_op(op)


def _beats(value: SSAValue) -> int:
    return math.prod(fxp.tensor_shape(value)[2:])


def _mark_streams(function: func.FuncOp) -> set[SSAValue]:
    """Find the pixel streams, mark the ops on them, insert collects where they end; returns
    the streamed values (a beat at a time)."""
    block = function.body.block
    streamed: set[SSAValue] = set()
    views: dict[SSAValue, Operation] = {}  # channels-last inputs: their channels-first view
    for argument in block.args:
        view = fxp.input_view(argument)
        if view is not None and _reaches_stream(view.results[0]):
            streamed.add(argument)
            views[argument] = view
        elif _reaches_stream(argument) and len(fxp.tensor_shape(argument)) >= 3:
            streamed.add(argument)
    input_beats = [
        _beats(views[a].results[0]) if a in views else _beats(a) if a in streamed else 1
        for a in block.args
    ]
    if streamed and len(streamed) != len(block.args):
        raise RtlflowError(
            "a design with a streamed input (a stream-style layer reads it) must stream all its "
            "inputs; stream-style layers here read only some of them"
        )
    if streamed:
        function.attributes[circuit.INPUT_BEATS] = int_array(input_beats)
    if views:
        function.attributes[circuit.CHANNELS_LAST] = int_array([a in views for a in block.args])
    for view in views.values():  # on the stream, the same beats: wiring
        wiring = fxp.ReshapeOp(view.operands[0], view.results[0].type, view.node_name)
        Rewriter.replace_op(view, wiring)
        streamed.add(wiring.output)
    # the pad that holds the input while it sends its border (every reader then waits): of the
    # pads reading the input, the one of the largest padded grid (an image takes that many beats)
    holder = max(
        (
            op for op in block.ops
            if isinstance(op, fxp.PadOp) and holds(op, Streamable)
            and fxp.reads_the_input(op.input) and _reaches_stream(op.output)
        ),
        key=lambda pad: math.prod(fxp.tensor_shape(pad.output)[2:]),
        default=None,
    )  # fmt: skip
    for op in list(block.ops):
        if isinstance(op, fxp.WindowOp) and op.style.data == "stream" and op.input not in streamed:
            raise RtlflowError(
                "a stream-style layer must be fed by a pixel stream (a design input, or another "
                "stream-style layer through element-wise layers); make the layers before it "
                "stream-style too, or this one parallel",
                node=op.node_name,
                op=op.name.removeprefix("fxp."),
            )
        if not any(v in streamed for v in op.operands) or op.results and op.results[0] in streamed:
            continue
        if isinstance(op, fxp.PadOp) and holds(op, Streamable) and _reaches_stream(op.output):
            if op is not holder:  # it buffers what arrives while it sends the border
                op.attributes[circuit.FIFO_DEPTHS] = int_array([1])
            op.attributes[circuit.BEATS] = IntegerAttr(_beats(op.output), i64)
            streamed.add(op.output)
            continue
        if isinstance(op, fxp.AddOp) and all(v in streamed for v in op.operands):
            op.attributes[circuit.BEATS] = IntegerAttr(_beats(op.output), i64)
            op.attributes[circuit.FIFO_DEPTHS] = int_array([1, 1])
            streamed.add(op.output)
            continue
        if holds(op, Streamable) and not isinstance(op, fxp.PadOp):
            op.attributes[circuit.BEATS] = IntegerAttr(_beats(op.input), i64)
            streamed.add(op.output)
            continue
        _collect(op, streamed)  # this op (or the return) needs whole tensors
    return streamed


def _reaches_stream(value: SSAValue) -> bool:
    """Whether a stream-style layer reads ``value``, directly or through element-wise layers
    that work beat by beat (an input quantizer)."""
    for use in value.uses:
        user = use.operation
        if isinstance(user, fxp.WindowOp) and user.style.data == "stream":
            return True
        if not isinstance(user, fxp.WindowOp) and holds(user, Streamable):
            if _reaches_stream(user.output):
                return True
    return False


def _collect(op: Operation, streamed: set[SSAValue]) -> None:
    """Gather every streamed operand of ``op`` into a whole tensor just before it."""
    for index, value in enumerate(list(op.operands)):
        if value in streamed:
            collect = circuit.CollectOp(value, _beats(value))
            Rewriter.insert_op(collect, InsertPoint.before(op))
            op.operands[index] = collect.output

"""fxp-set-conv-style: choose each convolution and pooling layer's architecture.

Input and output level: fxp. Sets ``style`` on every window op (``fxp.conv``, ``fxp.pool``):

- ``parallel``: every output pixel at once, II = 1 — the low-latency choice for trigger-sized
  images (a 9x16 hit map);
- ``stream``: one pixel per beat through line buffers, II = pixels of the input image — the
  choice when computing every pixel at once does not fit the part.

The layer's own ``conv_style`` wins, then the model's. Without either the choice follows a
resource budget: when the parallel form of all window layers would need more multiplications
than the part has DSP slices (a folded layer's: those of one phase), the window layers that can
stream (1-D or 2-D, unpadded or a zero-padded convolution, reached from a design input through
streamable layers) stream, and the rest stay parallel. They stream too when a window that can
stream would have a parallel result wider than a port (it would be refused).

A padded convolution that streams becomes an ``fxp.pad`` of its input (on the stream: its zero
beats inserted) and the convolution without padding over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from rtlflow.config import ModelConfig
from rtlflow.dialects.arrays import int_array
from rtlflow.dialects import fxp
from rtlflow.dialects.traits import Streamable, holds
from rtlflow.emit_verilog import parallel_fits
from rtlflow.errors import RtlflowError
from rtlflow.parts import find_part

#: element-wise ops that work beat by beat on a pixel stream
def parallel_products(op: fxp.WindowOp) -> int:
    """Multiplications of the parallel form (zero weights and padding taps aside); with a
    reuse factor R > 1, those of one phase's positions (about 1/R of them: they fold)."""
    if not isinstance(op, fxp.ConvOp):
        return 0
    taps_inside = int((op.window.taps()[0] >= 0).sum())  # over all output positions
    weights = op.weights
    c_out, per_in = weights.shape[:2]
    nonzero = float((weights != 0).mean())
    products = math.ceil(taps_inside * c_out * per_in * nonzero)
    reuse = op.reuse_factor.value.data if op.reuse_factor is not None else 1
    positions = op.window.positions
    return math.ceil(products * -(-positions // reuse) / positions)


@dataclass(frozen=True)
class FxpSetConvStylePass(ModulePass):
    name = "fxp-set-conv-style"

    config: ModelConfig = field(default_factory=ModelConfig)
    """The configuration: its conv_style and per-layer conv_style entries."""
    part: str = "xcvu13p"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        config = self.config
        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            windows = [o for o in function.body.block.ops if isinstance(o, fxp.WindowOp)]
            chosen = {w: config.layer(w.node_name).conv_style or config.conv_style for w in windows}
            products = sum(parallel_products(w) for w in windows)
            budget = find_part(self.part).part.dsp
            # a parallel window whose result is wider than a port is refused: streaming it, and
            # the layers its stream reaches, is the way through
            wide = any(not parallel_fits(w) and w.can_stream for w in windows)
            period = _stream_period(function, [w for w in windows if chosen[w] != "parallel"])
            for window in windows:
                style = chosen[window]
                if style is None:
                    streams = (products > budget or wide) and _can_stream_here(window, period)
                    style = "stream" if streams else "parallel"
                if style == "stream" and not window.can_stream:
                    raise RtlflowError(
                        "streaming is supported for 1-D and 2-D windows, padded ones for "
                        "convolutions only (a padded pooling's border is not zeros); give this "
                        "layer conv_style: parallel",
                        node=window.node_name,
                        op=window.name.removeprefix("fxp."),
                    )
                window.style = StringAttr(style)
            if any(chosen[w] is None for w in windows):
                _keep_streams_reachable(function, {w for w in windows if chosen[w] is None})
            for window in windows:
                if window.style.data == "stream" and window.window.padded:
                    _pad_the_stream(window)


def _stream_period(function: func.FuncOp, windows: list[fxp.WindowOp]) -> int:
    """The beats a stream takes an image: the input's pixels, or the padded grid of a padded
    convolution (of ``windows``) that reads the input (the largest: it holds the input)."""
    period = 0
    for argument in function.body.block.args:
        view = fxp.input_view(argument)  # a channels-last input's pixels: its view's
        image = view.results[0] if view is not None else argument
        period = max(period, math.prod(fxp.tensor_shape(image)[2:]))
    for window in windows:
        if window.can_stream and window.window.padded and fxp.reads_the_input(window.input):
            period = max(period, math.prod(window.window.streamed().input_shape))
    return period


def _can_stream_here(window: fxp.WindowOp, period: int) -> bool:
    """Whether a window can stream at the stream's rate: a padded convolution's border is
    inserted into the design input's stream as it comes when the convolution reads that input
    (holding the input), else into the idle cycles of its input's stream, so its padded image
    must take no more beats than the stream has an image, ``period`` (``circuit-balance-latency``
    checks that the border fits)."""
    if not window.can_stream or not window.window.padded or fxp.reads_the_input(window.input):
        return window.can_stream
    return math.prod(window.window.streamed().input_shape) <= period


def _pad_the_stream(conv: fxp.WindowOp) -> None:
    """A padded convolution on a stream reads an ``fxp.pad`` of its input, the stream with its
    border's zero beats (``rtlflow.rtl.stream``), and is itself unpadded: the same taps, so
    the same results."""
    window, shape = conv.window, fxp.tensor_shape(conv.input)
    rank = window.rank
    amounts = [0, 0, *window.pads[:rank], 0, 0, *window.pads[rank:]]
    padded = [*shape[:2], *window.streamed().input_shape]
    pad = fxp.PadOp(
        conv.input,
        fxp.fixed_tensor(padded, conv.input_format),
        conv.node_name,
        pads=int_array(amounts),
    )
    Rewriter.insert_op(pad, InsertPoint.before(conv))
    conv.operands[0] = pad.output
    conv.pads = int_array([0] * 2 * rank)


def _keep_streams_reachable(function: func.FuncOp, automatic: set[fxp.WindowOp]) -> None:
    """Automatically chosen stream layers must be fed by a stream: those that are not (a
    parallel layer before them) go back to parallel."""
    streamed: set[SSAValue] = set(function.body.block.args)
    views = {fxp.input_view(a) for a in function.body.block.args} - {None}
    for op in function.body.block.ops:
        if op in views:  # a channels-last input's pixels, as they are (convert-fxp-to-circuit)
            streamed.add(op.results[0])
            continue
        if isinstance(op, fxp.WindowOp) and op.style.data == "stream" and op.input not in streamed:
            if op in automatic:
                op.style = StringAttr("parallel")
        if (
            isinstance(op, fxp.FxpOp)
            and op.input in streamed
            and holds(op, Streamable)
            and len(fxp.tensor_shape(op.input)) >= 3
        ) or isinstance(op, fxp.AddOp) and all(v in streamed for v in op.inputs):
            streamed.add(op.output)  # (an add of two streams: a residual connection)

"""fxp-set-conv-style: choose each convolution and pooling layer's architecture.

Input and output level: fxp. Sets ``style`` on every window op (``fxp.conv``, ``fxp.pool``):

- ``parallel``: every output pixel at once, II = 1 — the low-latency choice for trigger-sized
  images (a 9x16 hit map);
- ``stream``: one pixel per beat through line buffers, II = pixels of the input image — the
  choice when computing every pixel at once does not fit the part.

The layer's own ``conv_style`` wins, then the model's. Without either the choice follows a
resource budget: when the parallel form of all window layers would need more multiplications
than the part has DSP slices (a folded layer's: those of one phase), the window layers that can
stream (unpadded, 1-D or 2-D, reached from a design input through streamable layers) stream, and
the rest stay parallel. They stream too when a window that can stream would have a parallel result
wider than a port (it would be refused).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from rtlflow.config import ModelConfig
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
            for window in windows:
                style = chosen[window]
                if style is None:
                    streams = (products > budget or wide) and window.can_stream
                    style = "stream" if streams else "parallel"
                if style == "stream" and not window.can_stream:
                    raise RtlflowError(
                        "streaming is supported for unpadded 1-D and 2-D windows; give this "
                        "layer conv_style: parallel",
                        node=window.node_name,
                        op=window.name.removeprefix("fxp."),
                    )
                window.style = StringAttr(style)
            if any(chosen[w] is None for w in windows):
                _keep_streams_reachable(function, {w for w in windows if chosen[w] is None})


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
        ):
            streamed.add(op.output)

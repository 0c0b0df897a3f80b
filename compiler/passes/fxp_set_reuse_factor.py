"""fxp-set-reuse-factor: choose each layer's parallelism.

Input and output level: fxp. Sets ``reuse_factor`` R on every ``fxp.dense``, ``fxp.conv``,
``fxp.softmax``, ``fxp.layer_norm`` and ``fxp.matmul``: the model default, or the layer's own
value from the configuration. R = 1 computes everything at once (one inference per cycle). R > 1:
a dense layer over one row has multipliers that each serve R products; a dense layer over
several rows (tokens, edges), a parallel convolution's output positions and the row-wise layers'
rows (tokens, heads) fold onto about 1/R of their logic (``rtlflow.rtl.fold``); one inference
every R cycles (or every "rows" cycles, when fewer). A streamed convolution takes a pixel a
cycle whatever its R.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from rtlflow.config import ModelConfig
from rtlflow.dialects import fxp
from rtlflow.dialects.traits import RowFoldable


@dataclass(frozen=True)
class FxpSetReuseFactorPass(ModulePass):
    name = "fxp-set-reuse-factor"

    config: ModelConfig = field(default_factory=ModelConfig)
    """The configuration: its reuse_factor and per-layer reuse_factor entries."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        config = self.config
        for layer in op.walk():
            if isinstance(layer, fxp.DenseOp | fxp.ConvOp) or layer.has_trait(RowFoldable):
                reuse = config.layer(layer.node_name).reuse_factor or config.reuse_factor
                layer.reuse_factor = fxp.int_prop(reuse)


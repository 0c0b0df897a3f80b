"""fxp-set-reuse-factor: choose each dense layer's parallelism.

Input and output level: fxp. Sets ``reuse_factor`` R on every ``fxp.dense``: the model default,
or the layer's own value from the configuration. R = 1 computes every product at once (one
inference per cycle); R > 1 lets each multiplier serve R products (one inference every R cycles,
about 1/R of the multipliers).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from rtlflow.config import ModelConfig
from rtlflow.dialects import fxp


@dataclass(frozen=True)
class FxpSetReuseFactorPass(ModulePass):
    name = "fxp-set-reuse-factor"

    config: str = ""
    """The ModelConfig as JSON text: its reuse_factor and per-layer reuse_factor entries."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        config = ModelConfig.from_json(self.config)
        for dense in op.walk():
            if isinstance(dense, fxp.DenseOp):
                reuse = config.layer(dense.node_name).reuse_factor or config.reuse_factor
                dense.reuse_factor = fxp.int_prop(reuse)

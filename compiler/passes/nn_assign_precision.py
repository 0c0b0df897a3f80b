"""nn-assign-precision: the configuration resolved onto the nn level.

Input level: nn after the canonicalisation passes. Output: the same ops, each with ``fxp.layer``
(its result format, configured or the default with the layer's rounding and overflow modes; its
configured weight, bias, accumulator and table settings; ``precision = "exact"`` or ``"auto"``
where ``convert-nn-to-fxp`` derives the result from exact ranges instead), and on the function
the default format and each input's (configured; an integer input's index width; the format of
the quantizer an input goes through first). Layer and input names the model does not have are
an error here. Details: ``rtlflow.lowering.assign``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from rtlflow.config import ModelConfig
from rtlflow.lowering import assign_precision


@dataclass(frozen=True)
class NnAssignPrecisionPass(ModulePass):
    name = "nn-assign-precision"

    config: ModelConfig = field(default_factory=ModelConfig)
    """The configuration: formats, modes, table sizes (see rtlflow.config)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            assign_precision(function, self.config)

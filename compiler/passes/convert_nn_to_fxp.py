"""convert-nn-to-fxp: float tensors → fixed-point dataflow.

Input level: nn after the canonicalisation passes (dense layers formed, affine constants folded).
Output level: fxp. Each input gets its configured format; each layer's constants are quantized
into its weight / bias formats (a constant that would wrap is an error, not silent garbage); each
result gets its configured format, whose rounding and overflow modes say how it is produced.

Accumulators are exact: the range of every dense sum is computed from the actual integer weights
and the input range (interval arithmetic), so the accumulator can never overflow; a configured
accumulator format is honoured as an extra cast. Sigmoid and tanh become lookup tables; softmax
becomes the two-table form of ``fxp.softmax`` (exp of ``max - x`` and reciprocal of the sum).

The lowering itself is ``rtlflow.lowering``, one module per op family.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from rtlflow.config import ModelConfig
from rtlflow.lowering import Converter


@dataclass(frozen=True)
class ConvertNnToFxpPass(ModulePass):
    name = "convert-nn-to-fxp"

    config: ModelConfig = field(default_factory=ModelConfig)
    """The configuration: formats, modes, table sizes (see rtlflow.config)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            Converter(self.config).convert(function)

"""convert-nn-to-fxp: float tensors → fixed-point dataflow.

Input level: nn after ``nn-assign-precision`` (without it: the default format everywhere).
Output level: fxp. Each input gets its assigned format; each layer's constants are quantized
into its weight / bias formats (a constant that would wrap is an error, not silent garbage); each
result gets its assigned format, whose rounding and overflow modes say how it is produced, or
the one derived from exact ranges where the assignment says so.

Accumulators are exact: the range of every dense sum is computed from the actual integer weights
and the input range (interval arithmetic), so the accumulator can never overflow; a configured
accumulator format is honoured as an extra cast. Sigmoid and tanh become lookup tables; softmax
becomes the two-table form of ``fxp.softmax`` (exp of ``max - x`` and reciprocal of the sum).

The lowering itself is ``rtlflow.lowering``: one rewrite pattern per op family, applied in
order, values bridged between the levels by ``unrealized_conversion_cast`` until the last op
is converted.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from rtlflow.lowering import convert


@dataclass(frozen=True)
class ConvertNnToFxpPass(ModulePass):
    name = "convert-nn-to-fxp"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            convert(function)

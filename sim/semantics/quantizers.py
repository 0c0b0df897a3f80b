"""Reference semantics of the op family: QONNX and QDQ quantizers (nn), the casts and
thresholds they become (fxp).

Float on the nn level (checked against onnxruntime), bit-exact on the fxp level (the emulator,
the golden model of the RTL)."""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import Interpreter, PythonValues, impl

from rtlflow.dialects import fxp, nn
from rtlflow.numerics.quantization import quantize


class FloatQuantizers:
    """nn ops: float64 numpy, a leading sample axis."""

    @impl(nn.QuantOp)
    def run_quant(self, interpreter: Interpreter, op: nn.QuantOp, args: PythonValues):
        low, high = op.bounds
        levels = quantize(args[0], op.scales, op.zero_points, low, high, op.rounding.data, op.shift_bits)
        return (levels,)


class FixedQuantizers:
    """fxp ops: raw integers, a leading sample axis; exact, then one cast (``FixedCore``)."""

    @impl(fxp.CastOp)
    def run_cast(self, interpreter: Interpreter, op: fxp.CastOp, args: PythonValues):
        return (self._cast(op, args[0], op.input_format.frac_bits, op.output_format),)

    @impl(fxp.ThresholdOp)
    def run_threshold(self, interpreter: Interpreter, op: fxp.ThresholdOp, args: PythonValues):
        x = args[0]
        flat = x.reshape(x.shape[0], -1, 1)
        count = (flat >= op.threshold_table[np.newaxis]).sum(axis=-1)
        return ((op.bases[np.newaxis] + count).reshape(x.shape).astype(np.int64),)

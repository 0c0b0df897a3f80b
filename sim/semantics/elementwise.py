"""Reference semantics of the op family: Add, Sub, Mul and Div, constant scales, ReLU, leaky
ReLU, Abs, HardSigmoid and Clip.

Float on the nn level (checked against onnxruntime), bit-exact on the fxp level (the emulator,
the golden model of the RTL)."""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import Interpreter, PythonValues, impl

from rtlflow.dialects import fxp, nn
from rtlflow.numerics.fixed_point import bits_of, exact


class FloatElementWise:
    """nn ops: float64 numpy, a leading sample axis."""

    @impl(nn.AddOp)
    def run_add(self, interpreter: Interpreter, op: nn.AddOp, args: PythonValues):
        return (args[0] + args[1],)

    @impl(nn.SubOp)
    def run_sub(self, interpreter: Interpreter, op: nn.SubOp, args: PythonValues):
        return (args[0] - args[1],)

    @impl(nn.MulOp)
    def run_mul(self, interpreter: Interpreter, op: nn.MulOp, args: PythonValues):
        return (args[0] * args[1],)

    @impl(nn.DivOp)
    def run_div(self, interpreter: Interpreter, op: nn.DivOp, args: PythonValues):
        return (args[0] / args[1],)

    @impl(nn.ScaleShiftOp)
    def run_scale_shift(self, interpreter: Interpreter, op: nn.ScaleShiftOp, args: PythonValues):
        return (args[0] * op.scales.astype(np.float64) + op.shifts.astype(np.float64),)

    @impl(nn.ReluOp)
    def run_relu(self, interpreter: Interpreter, op: nn.ReluOp, args: PythonValues):
        return (np.maximum(args[0], 0.0),)

    @impl(nn.LeakyReluOp)
    def run_leaky_relu(self, interpreter: Interpreter, op: nn.LeakyReluOp, args: PythonValues):
        x = args[0]
        return (np.where(x >= 0, x, op.alpha.value.data * x),)

    @impl(nn.AbsOp)
    def run_abs(self, interpreter: Interpreter, op: nn.AbsOp, args: PythonValues):
        return (np.abs(args[0]),)

    @impl(nn.HardSigmoidOp)
    def run_hard_sigmoid(self, interpreter: Interpreter, op: nn.HardSigmoidOp, args: PythonValues):
        alpha, beta = op.alpha.value.data, op.beta.value.data
        return (np.clip(alpha * args[0] + beta, 0.0, 1.0),)

    @impl(nn.ClipOp)
    def run_clip(self, interpreter: Interpreter, op: nn.ClipOp, args: PythonValues):
        low = -np.inf if op.low is None else op.low.value.data
        high = np.inf if op.high is None else op.high.value.data
        return (np.clip(args[0], low, high),)


class FixedElementWise:
    """fxp ops: raw integers, a leading sample axis; exact, then one cast (``FixedCore``)."""

    @impl(fxp.ScaleShiftOp)
    def run_scale_shift(self, interpreter: Interpreter, op: fxp.ScaleShiftOp, args: PythonValues):
        x = args[0]
        frac, scale, offset = op.aligned()
        bits = op.input_format.width + bits_of(scale) + bits_of(offset) + 1
        value = exact(x, bits) * exact(scale, bits) + exact(offset, bits)
        return (self._cast(op, value, frac, op.output_format),)

    @impl(fxp.ReluOp)
    def run_relu(self, interpreter: Interpreter, op: fxp.ReluOp, args: PythonValues):
        x = args[0]
        return (self._cast(op, np.maximum(x, 0), op.input_format.frac_bits, op.output_format),)

    @impl(fxp.LeakyReluOp)
    def run_leaky_relu(self, interpreter: Interpreter, op: fxp.LeakyReluOp, args: PythonValues):
        x = args[0]
        alpha_format = op.alpha_type.format
        bits = op.input_format.width + alpha_format.width + 1
        wide = exact(x, bits)
        value = np.where(
            wide >= 0, wide << alpha_format.frac_bits, wide * op.alpha.value.data
        )
        frac = op.input_format.frac_bits + alpha_format.frac_bits
        return (self._cast(op, value, frac, op.output_format),)

    @impl(fxp.AbsOp)
    def run_abs(self, interpreter: Interpreter, op: fxp.AbsOp, args: PythonValues):
        x = exact(args[0], op.input_format.width + 1)
        return (self._cast(op, np.abs(x), op.input_format.frac_bits, op.output_format),)

    @impl(fxp.ClipOp)
    def run_clip(self, interpreter: Interpreter, op: fxp.ClipOp, args: PythonValues):
        x = args[0]
        value = np.clip(x, op.low.value.data, op.high.value.data)
        return (self._cast(op, value, op.input_format.frac_bits, op.output_format),)

    @impl(fxp.AddOp)
    def run_add(self, interpreter: Interpreter, op: fxp.AddOp, args: PythonValues):
        (fa, fb), frac = op.input_formats, max(f.frac_bits for f in op.input_formats)
        bits = max(fa.width + frac - fa.frac_bits, fb.width + frac - fb.frac_bits) + 2
        total = (exact(args[0], bits) << (frac - fa.frac_bits)) + (
            exact(args[1], bits) << (frac - fb.frac_bits)
        )
        return (self._cast(op, total, frac, op.output_format),)

"""Reference semantics of the op family: Conv and pooling.

Float on the nn level (checked against onnxruntime), bit-exact on the fxp level (the emulator,
the golden model of the RTL)."""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import Interpreter, PythonValues, impl

from rtlflow.dialects import fxp, nn
from rtlflow.numerics.fixed_point import bits_of, exact
from rtlflow.numerics.windows import Window


class FloatWindows:
    """nn ops: float64 numpy, a leading sample axis."""

    @impl(nn.ConvOp)
    def run_conv(self, interpreter: Interpreter, op: nn.ConvOp, args: PythonValues):
        return (conv_exact(args[0], op.weights.astype(np.float64), op.biases.astype(np.float64),
                           op.window, op.group.value.data),)

    @impl(nn.PoolOp)
    def run_pool(self, interpreter: Interpreter, op: nn.PoolOp, args: PythonValues):
        x, window = args[0], op.window
        if op.kind.data == "max":
            result = window.gather(x, -np.inf).max(axis=-1)
        else:
            counts = window.counts(bool(op.count_include_pad.value.data))
            result = window.gather(x, 0.0).sum(axis=-1) / counts
        return (result.reshape((x.shape[0], *nn.shape_of(op.output))),)


class FixedWindows:
    """fxp ops: raw integers, a leading sample axis; exact, then one cast (``FixedCore``)."""

    @impl(fxp.ConvOp)
    def run_conv(self, interpreter: Interpreter, op: fxp.ConvOp, args: PythonValues):
        x = args[0]
        frac, weights, biases = op.aligned()
        flat = weights.reshape(weights.shape[0], -1)
        bits = op.input_format.width + bits_of(flat) + int(flat.shape[1]).bit_length() + 1
        bits = max(bits, bits_of(biases) + 1)
        acc = conv_exact(exact(x, bits), exact(weights, bits), exact(biases, bits), op.window,
                         op.group.value.data)
        accumulator = op.accumulator.format
        acc = self._cast(op, acc, frac, accumulator)
        return (self._cast(op, acc, accumulator.frac_bits, op.output_format, result=True),)

    @impl(fxp.PoolOp)
    def run_pool(self, interpreter: Interpreter, op: fxp.PoolOp, args: PythonValues):
        x, window = args[0], op.window
        shape = (x.shape[0], *fxp.tensor_shape(op.output))
        if op.kind.data == "max":
            lowest = np.iinfo(np.int64).min
            result = window.gather(x.astype(np.int64), lowest).max(axis=-1)
            return (self._cast(op, result.reshape(shape), op.input_format.frac_bits, op.output_format),)
        scales = op.scales
        bits = op.input_format.width + window.taps_per_window.bit_length() + bits_of(scales) + 1
        sums = window.gather(exact(x, bits), 0).sum(axis=-1)
        frac = op.input_format.frac_bits + op.scale_type.format.frac_bits
        return (self._cast(op, (sums * exact(scales, bits)).reshape(shape), frac, op.output_format),)


def conv_exact(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, window: Window, group: int):
    """ONNX Conv on integers (any dtype numpy can multiply: int64 or Python ints), exactly:
    ``x`` [samples, N, C, *spatial], ``weight`` [C_out, C_in / group, *kernel]."""
    samples, batch, c_in = x.shape[:3]
    c_out = weight.shape[0]
    windows = window.gather(x, 0)  # [samples, N, C, positions, taps]
    per_in, per_out = c_in // group, c_out // group
    outputs = []
    for g in range(group):
        part = windows[:, :, g * per_in : (g + 1) * per_in]
        part = np.moveaxis(part, 2, 3).reshape(samples, batch, window.positions, -1)
        w = weight[g * per_out : (g + 1) * per_out].reshape(per_out, -1)
        outputs.append(np.moveaxis(part @ w.T, 3, 2))  # [samples, N, per_out, positions]
    result = np.concatenate(outputs, axis=2) + bias.reshape(-1, 1)
    return result.reshape(samples, batch, c_out, *window.output_shape)

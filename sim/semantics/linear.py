"""Reference semantics of the op family: dense layers, Gemm and MatMul.

Float on the nn level (checked against onnxruntime), bit-exact on the fxp level (the emulator,
the golden model of the RTL)."""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import Interpreter, PythonValues, impl

from rtlflow.dialects import fxp, nn
from rtlflow.numerics.fixed_point import bits_of, exact


class FloatLinear:
    """nn ops: float64 numpy, a leading sample axis."""

    @impl(nn.MatMulOp)
    def run_matmul(self, interpreter: Interpreter, op: nn.MatMulOp, args: PythonValues):
        # constants carry a sample axis of size 1, which broadcasts like a batch dimension
        lhs, rhs = batched_operands(args[0], args[1], nn.shape_of(op.lhs), nn.shape_of(op.rhs))
        result = np.matmul(lhs, rhs)
        return (result.reshape((result.shape[0], *nn.shape_of(op.output))),)

    @impl(nn.GemmOp)
    def run_gemm(self, interpreter: Interpreter, op: nn.GemmOp, args: PythonValues):
        a, b = args[0], args[1]
        if op.trans_a.value.data:
            a = np.swapaxes(a, -1, -2)
        if op.trans_b.value.data:
            b = np.swapaxes(b, -1, -2)
        result = op.alpha.value.data * np.matmul(a, b)
        if len(args) > 2:
            c = args[2]
            result = result + op.beta.value.data * c.reshape((c.shape[0], *c.shape[1:]))
        return (result,)

    @impl(nn.DenseOp)
    def run_dense(self, interpreter: Interpreter, op: nn.DenseOp, args: PythonValues):
        return (args[0] @ op.weights.astype(np.float64).T + op.biases.astype(np.float64),)


class FixedLinear:
    """fxp ops: raw integers, a leading sample axis; exact, then one cast (``FixedCore``)."""

    @impl(fxp.DenseOp)
    def run_dense(self, interpreter: Interpreter, op: fxp.DenseOp, args: PythonValues):
        x = args[0]
        frac, weights, biases = op.aligned()
        bits = op.input_format.width + bits_of(weights) + int(weights.shape[1]).bit_length() + 1
        bits = max(bits, bits_of(biases) + 1)
        acc = exact(x, bits) @ exact(weights, bits).T + exact(biases, bits)
        accumulator = op.accumulator.format
        acc = self._cast(op, acc, frac, accumulator)
        return (self._cast(op, acc, accumulator.frac_bits, op.output_format, result=True),)

    @impl(fxp.MatMulOp)
    def run_matmul(self, interpreter: Interpreter, op: fxp.MatMulOp, args: PythonValues):
        (fa, fb), (a, b) = op.input_formats, args
        a_shape, b_shape = (fxp.tensor_shape(v) for v in op.inputs)
        bits = fa.width + fb.width + int(a_shape[-1]).bit_length() + 1
        a, b = batched_operands(exact(np.asarray(a), bits), exact(np.asarray(b), bits), a_shape,
                                b_shape)
        product = np.matmul(a, b).reshape((len(a), *fxp.tensor_shape(op.output)))
        return (self._cast(op, product, fa.frac_bits + fb.frac_bits, op.output_format),)


def batched_operands(a: np.ndarray, b: np.ndarray, a_shape, b_shape):
    """Operands of a matmul with a leading sample axis, made to broadcast as numpy's matmul
    does without it: 1-D operands promoted, then both given the same rank behind the samples."""
    if len(a_shape) == 1:
        a, a_shape = a[:, np.newaxis, :], (1, *a_shape)
    if len(b_shape) == 1:
        b, b_shape = b[..., np.newaxis], (*b_shape, 1)
    rank = max(len(a_shape), len(b_shape))
    a = a.reshape((a.shape[0], *(1,) * (rank - len(a_shape)), *a_shape))
    b = b.reshape((b.shape[0], *(1,) * (rank - len(b_shape)), *b_shape))
    return a, b

"""Float reference semantics of the nn level, as an xDSL interpreter (numpy, batched).

Runs the tensor-level IR on float inputs with a leading sample axis, so an imported model can be
checked against onnxruntime before any quantization, and later levels can be compared with the
float network they came from.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter, InterpreterFunctions, PythonValues, impl, register_impls
from xdsl.interpreters.func import FuncFunctions

from rtlflow.dialects import nn
from rtlflow.sim.emulator import batched_operands, conv_exact
from rtlflow.numerics.fixed_point import TABLE_FUNCTIONS
from rtlflow.numerics.indexing import gather, gather_map, samples_aligned, scatter, scatter_map
from rtlflow.numerics.quantization import quantize


def _batched_axis(op_axis: int, rank: int) -> int:
    """The axis of an op, shifted past the leading sample axis."""
    return (op_axis % rank) + 1


@register_impls
class NnFunctions(InterpreterFunctions):
    """One numpy implementation per nn op; arrays carry a leading sample axis."""

    @impl(nn.ConstantOp)
    def run_constant(self, interpreter: Interpreter, op: nn.ConstantOp, args: PythonValues):
        return (op.array[np.newaxis].astype(np.float64),)

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

    @impl(nn.SigmoidOp)
    def run_sigmoid(self, interpreter: Interpreter, op: nn.SigmoidOp, args: PythonValues):
        return (1.0 / (1.0 + np.exp(-args[0])),)

    @impl(nn.TanhOp)
    def run_tanh(self, interpreter: Interpreter, op: nn.TanhOp, args: PythonValues):
        return (np.tanh(args[0]),)

    @impl(nn.ErfOp)
    def run_erf(self, interpreter: Interpreter, op: nn.ErfOp, args: PythonValues):
        return (TABLE_FUNCTIONS["erf"](args[0]),)

    @impl(nn.ClipOp)
    def run_clip(self, interpreter: Interpreter, op: nn.ClipOp, args: PythonValues):
        low = -np.inf if op.low is None else op.low.value.data
        high = np.inf if op.high is None else op.high.value.data
        return (np.clip(args[0], low, high),)

    @impl(nn.SoftmaxOp)
    def run_softmax(self, interpreter: Interpreter, op: nn.SoftmaxOp, args: PythonValues):
        x = args[0]
        axis = _batched_axis(op.axis.value.data, x.ndim - 1)
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return (e / e.sum(axis=axis, keepdims=True),)

    @impl(nn.ReshapeOp)
    def run_reshape(self, interpreter: Interpreter, op: nn.ReshapeOp, args: PythonValues):
        x = args[0]
        return (x.reshape((x.shape[0], *nn.shape_of(op.output))),)

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

    @impl(nn.TransposeOp)
    def run_transpose(self, interpreter: Interpreter, op: nn.TransposeOp, args: PythonValues):
        return (np.transpose(args[0], (0, *(p + 1 for p in op.permutation))),)

    @impl(nn.ConcatOp)
    def run_concat(self, interpreter: Interpreter, op: nn.ConcatOp, args: PythonValues):
        rank = len(nn.shape_of(op.output))
        parts = samples_aligned(*args)  # constant parts (a class token) serve every sample
        return (np.concatenate(parts, axis=_batched_axis(op.axis.value.data, rank)),)

    @impl(nn.PadOp)
    def run_pad(self, interpreter: Interpreter, op: nn.PadOp, args: PythonValues):
        pads = op.amounts
        rank = len(pads) // 2
        widths = [(0, 0)] + [(pads[a], pads[rank + a]) for a in range(rank)]
        return (np.pad(args[0], widths),)

    @impl(nn.LayerNormOp)
    def run_layer_norm(self, interpreter: Interpreter, op: nn.LayerNormOp, args: PythonValues):
        x = args[0]
        rows = x.reshape(len(x), -1, op.count)
        mean = rows.mean(axis=-1, keepdims=True)
        variance = ((rows - mean) ** 2).mean(axis=-1, keepdims=True)
        y = (rows - mean) / np.sqrt(variance + op.epsilon.value.data)
        y = y * op.scales.astype(np.float64) + op.biases.astype(np.float64)
        return (y.reshape(x.shape),)

    @impl(nn.ExpandOp)
    def run_expand(self, interpreter: Interpreter, op: nn.ExpandOp, args: PythonValues):
        x, shape = args[0], nn.shape_of(op.output)
        x = x.reshape((x.shape[0], *(1,) * (len(shape) - len(nn.shape_of(op.input))), *x.shape[1:]))
        return (np.broadcast_to(x, (x.shape[0], *shape)).copy(),)

    @impl(nn.GatherOp)
    def run_gather(self, interpreter: Interpreter, op: nn.GatherOp, args: PythonValues):
        data, indices = samples_aligned(*args)
        shape = nn.shape_of(op.output)
        index_map = gather_map(nn.shape_of(op.data), nn.shape_of(op.indices), op.axis.value.data,
                               op.kind.data)
        return (gather(data, indices, index_map, shape),)

    @impl(nn.ScatterOp)
    def run_scatter(self, interpreter: Interpreter, op: nn.ScatterOp, args: PythonValues):
        data, indices, updates = samples_aligned(*args)
        index_map = scatter_map(nn.shape_of(op.data), nn.shape_of(op.indices),
                                op.axis.value.data, op.kind.data)
        return (scatter(data, indices, updates, index_map, op.reduction.data),)

    @impl(nn.QuantOp)
    def run_quant(self, interpreter: Interpreter, op: nn.QuantOp, args: PythonValues):
        low, high = op.bounds
        levels = quantize(args[0], op.scales, op.zero_points, low, high, op.rounding.data, op.shift_bits)
        return (levels,)


def run_nn(module: ModuleOp, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run the module's function on float inputs (each with a leading sample axis)."""
    interpreter = Interpreter(module)
    interpreter.register_implementations(FuncFunctions())
    interpreter.register_implementations(NnFunctions())
    function = next(iter(module.ops))
    batched = [np.asarray(x, dtype=np.float64) for x in inputs]
    return list(interpreter.call_op(function, tuple(batched)))

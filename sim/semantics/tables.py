"""Reference semantics of the op family: Sigmoid, Tanh, Erf, Exp, Softplus, Elu and Selu (tables
at the fxp level),
Softmax and LayerNormalization.

Float on the nn level (checked against onnxruntime), bit-exact on the fxp level (the emulator,
the golden model of the RTL)."""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import Interpreter, PythonValues, impl

from rtlflow.dialects import fxp, nn
from rtlflow.numerics.fixed_point import TABLE_FUNCTIONS, exact
from rtlflow.sim.semantics.core import batched_axis


class FloatTables:
    """nn ops: float64 numpy, a leading sample axis."""

    @impl(nn.SigmoidOp)
    def run_sigmoid(self, interpreter: Interpreter, op: nn.SigmoidOp, args: PythonValues):
        return (1.0 / (1.0 + np.exp(-args[0])),)

    @impl(nn.TanhOp)
    def run_tanh(self, interpreter: Interpreter, op: nn.TanhOp, args: PythonValues):
        return (np.tanh(args[0]),)

    @impl(nn.ErfOp)
    def run_erf(self, interpreter: Interpreter, op: nn.ErfOp, args: PythonValues):
        return (TABLE_FUNCTIONS["erf"](args[0]),)

    @impl(nn.ExpOp)
    def run_exp(self, interpreter: Interpreter, op: nn.ExpOp, args: PythonValues):
        return (np.exp(args[0]),)

    @impl(nn.SoftplusOp)
    def run_softplus(self, interpreter: Interpreter, op: nn.SoftplusOp, args: PythonValues):
        x = args[0]
        return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))),)

    @impl(nn.EluOp)
    def run_elu(self, interpreter: Interpreter, op: nn.EluOp, args: PythonValues):
        x, alpha, gamma = args[0], op.alpha.value.data, op.gamma.value.data
        return (gamma * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),)

    @impl(nn.SoftmaxOp)
    def run_softmax(self, interpreter: Interpreter, op: nn.SoftmaxOp, args: PythonValues):
        x = args[0]
        axis = batched_axis(op.axis.value.data, x.ndim - 1)
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return (e / e.sum(axis=axis, keepdims=True),)

    @impl(nn.LayerNormOp)
    def run_layer_norm(self, interpreter: Interpreter, op: nn.LayerNormOp, args: PythonValues):
        x = args[0]
        rows = x.reshape(len(x), -1, op.count)
        mean = rows.mean(axis=-1, keepdims=True)
        variance = ((rows - mean) ** 2).mean(axis=-1, keepdims=True)
        y = (rows - mean) / np.sqrt(variance + op.epsilon.value.data)
        y = y * op.scales.astype(np.float64) + op.biases.astype(np.float64)
        return (y.reshape(x.shape),)


class FixedTables:
    """fxp ops: raw integers, a leading sample axis; exact, then one cast (``FixedCore``)."""

    @impl(fxp.TableOp)
    def run_table(self, interpreter: Interpreter, op: fxp.TableOp, args: PythonValues):
        return (op.table.lookup(args[0]),)

    @impl(fxp.SoftmaxOp)
    def run_softmax(self, interpreter: Interpreter, op: fxp.SoftmaxOp, args: PythonValues):
        x = args[0].astype(np.int64)
        exp_table, inv_table = op.exp_table, op.inv_table
        difference = x.max(axis=-1, keepdims=True) - x
        exponentials = exp_table.lookup(difference).astype(np.int64)
        reciprocal = inv_table.lookup(exponentials.sum(axis=-1, keepdims=True)).astype(np.int64)
        bits = exp_table.output.width + inv_table.output.width + 1
        product = exact(exponentials, bits) * exact(reciprocal, bits)
        frac = exp_table.output.frac_bits + inv_table.output.frac_bits
        return (self._cast(op, product, frac, op.output_format),)

    @impl(fxp.LayerNormOp)
    def run_layer_norm(self, interpreter: Interpreter, op: fxp.LayerNormOp, args: PythonValues):
        x, n, table = args[0], op.count, op.table
        frac, scale, bias = op.aligned()
        rows = np.asarray(x).reshape(len(x), -1, n).astype(object)  # exact, any width
        centred = n * rows - rows.sum(axis=-1, keepdims=True)
        squares = (centred * centred).sum(axis=-1, keepdims=True)
        y = centred * table.lookup(squares) * scale.astype(object) + bias.astype(object)
        return (self._cast(op, y.reshape(np.shape(x)), frac, op.output_format),)

"""The bit-exact emulator: the golden model of the RTL, interpreting the fxp level.

Every fxp op has one numpy implementation registered with xDSL's interpreter. Values are raw
integers with a leading sample axis, so a whole data set runs in one pass. The arithmetic follows
the op definitions in ``rtlflow.dialects.fxp`` exactly: exact products and sums, then one cast into
the result type with its rounding and overflow modes. The hardware must match this bit for bit.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter, InterpreterFunctions, PythonValues, impl, register_impls
from xdsl.interpreters.func import FuncFunctions

from rtlflow.dialects import fxp
from rtlflow.sim.fixed_point import FixedFormat, bits_of, cast, exact


@register_impls
class FxpFunctions(InterpreterFunctions):
    """One implementation per fxp op. ``overflows`` counts, per node, samples that overflowed."""

    def __init__(self) -> None:
        self.overflows: Counter[str] = Counter()

    def _cast(self, op: fxp.FxpOp, raw: np.ndarray, frac_bits: int, fmt: FixedFormat):
        result, overflowed = cast(raw, frac_bits, fmt)
        if overflowed.any():
            samples = overflowed.reshape(overflowed.shape[0], -1).any(axis=1)
            self.overflows[op.node_name] += int(samples.sum())
        return result

    @impl(fxp.DenseOp)
    def run_dense(self, interpreter: Interpreter, op: fxp.DenseOp, args: PythonValues):
        x = args[0]
        frac, weights, biases = op.aligned()
        bits = op.input_format.width + bits_of(weights) + int(weights.shape[1]).bit_length() + 1
        bits = max(bits, bits_of(biases) + 1)
        acc = exact(x, bits) @ exact(weights, bits).T + exact(biases, bits)
        accumulator = op.accumulator.format
        acc = self._cast(op, acc, frac, accumulator)
        return (self._cast(op, acc, accumulator.frac_bits, op.output_format),)

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

    @impl(fxp.ClipOp)
    def run_clip(self, interpreter: Interpreter, op: fxp.ClipOp, args: PythonValues):
        x = args[0]
        value = np.clip(x, op.low.value.data, op.high.value.data)
        return (self._cast(op, value, op.input_format.frac_bits, op.output_format),)

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

    @impl(fxp.ReshapeOp)
    def run_reshape(self, interpreter: Interpreter, op: fxp.ReshapeOp, args: PythonValues):
        x = args[0]
        return (x.reshape((x.shape[0], *fxp.tensor_shape(op.output))),)


class Emulator:
    """Runs a fixed-point-level module on raw integers or on float data."""

    def __init__(self, module: ModuleOp):
        self.module = module
        self.function = _fxp_function(module)
        self.overflows: Counter[str] = Counter()

    @property
    def input_formats(self) -> list[FixedFormat]:
        return [fxp.tensor_format(arg) for arg in self.function.body.block.args]

    @property
    def output_formats(self) -> list[FixedFormat]:
        return [fxp.tensor_format(t) for t in self.function.function_type.outputs.data]

    def run_raw(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Raw outputs for raw inputs (each with a leading sample axis)."""
        functions = FxpFunctions()
        interpreter = Interpreter(self.module)
        interpreter.register_implementations(FuncFunctions())
        interpreter.register_implementations(functions)
        results = interpreter.call_op(self.function, tuple(np.asarray(x) for x in inputs))
        self.overflows = functions.overflows
        return [np.asarray(r) for r in results]

    def quantize_inputs(self, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
        """Raw inputs for float data, and how many samples of each input lay outside its format."""
        raws, outside = [], []
        for data, fmt in zip(inputs, self.input_formats, strict=True):
            raw, overflowed = fmt.quantize(data)
            raws.append(raw)
            outside.append(int(overflowed.reshape(overflowed.shape[0], -1).any(axis=1).sum()))
        return raws, outside

    def predict(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Float outputs for float inputs: quantize, emulate bit-exactly, convert back."""
        raw_inputs, _ = self.quantize_inputs(inputs)
        outputs = self.run_raw(raw_inputs)
        return [fmt.to_float(raw) for raw, fmt in zip(outputs, self.output_formats, strict=True)]


def _fxp_function(module: ModuleOp) -> func.FuncOp:
    functions = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if len(functions) != 1:
        raise ValueError("the module must hold exactly one function")
    return functions[0]

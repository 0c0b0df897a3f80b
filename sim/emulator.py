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
from rtlflow.numerics.fixed_point import FixedFormat, bits_of, cast, exact
from rtlflow.numerics.indexing import gather, scatter
from rtlflow.numerics.windows import Window


@register_impls
class FxpFunctions(InterpreterFunctions):
    """One implementation per fxp op. ``overflows`` counts, per node, samples that overflowed
    (not counting the model's own quantizers, whose saturation is part of the model)."""

    def __init__(self) -> None:
        self.overflows: Counter[str] = Counter()

    def _cast(
        self, op: fxp.FxpOp, raw: np.ndarray, frac_bits: int, fmt: FixedFormat, result: bool = False
    ):
        """``raw`` cast into ``fmt``; ``result``: the cast into a layer's result format."""
        result_raw, overflowed = cast(raw, frac_bits, fmt)
        # a quantizer saturates by design: the model's own, or one folded into the layer
        quantizer = isinstance(op, fxp.CastOp) or (result and fxp.QUANTIZED in op.attributes)
        if overflowed.any() and not quantizer:
            samples = overflowed.reshape(overflowed.shape[0], -1).any(axis=1)
            self.overflows[op.node_name] += int(samples.sum())
        return result_raw

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

    @impl(fxp.CastOp)
    def run_cast(self, interpreter: Interpreter, op: fxp.CastOp, args: PythonValues):
        return (self._cast(op, args[0], op.input_format.frac_bits, op.output_format),)

    @impl(fxp.ThresholdOp)
    def run_threshold(self, interpreter: Interpreter, op: fxp.ThresholdOp, args: PythonValues):
        x = args[0]
        flat = x.reshape(x.shape[0], -1, 1)
        count = (flat >= op.threshold_table[np.newaxis]).sum(axis=-1)
        return ((op.bases[np.newaxis] + count).reshape(x.shape).astype(np.int64),)

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

    @impl(fxp.LayerNormOp)
    def run_layer_norm(self, interpreter: Interpreter, op: fxp.LayerNormOp, args: PythonValues):
        x, n, table = args[0], op.count, op.table
        frac, scale, bias = op.aligned()
        rows = np.asarray(x).reshape(len(x), -1, n).astype(object)  # exact, any width
        centred = n * rows - rows.sum(axis=-1, keepdims=True)
        squares = (centred * centred).sum(axis=-1, keepdims=True)
        y = centred * table.lookup(squares) * scale.astype(object) + bias.astype(object)
        return (self._cast(op, y.reshape(np.shape(x)), frac, op.output_format),)

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

    @impl(fxp.TransposeOp)
    def run_transpose(self, interpreter: Interpreter, op: fxp.TransposeOp, args: PythonValues):
        return (np.transpose(args[0], (0, *(p + 1 for p in op.permutation))),)

    @impl(fxp.PadOp)
    def run_pad(self, interpreter: Interpreter, op: fxp.PadOp, args: PythonValues):
        pads = op.amounts
        rank = len(pads) // 2
        return (np.pad(args[0], [(0, 0)] + [(pads[a], pads[rank + a]) for a in range(rank)]),)

    @impl(fxp.AddOp)
    def run_add(self, interpreter: Interpreter, op: fxp.AddOp, args: PythonValues):
        (fa, fb), frac = op.input_formats, max(f.frac_bits for f in op.input_formats)
        bits = max(fa.width + frac - fa.frac_bits, fb.width + frac - fb.frac_bits) + 2
        total = (exact(args[0], bits) << (frac - fa.frac_bits)) + (
            exact(args[1], bits) << (frac - fb.frac_bits)
        )
        return (self._cast(op, total, frac, op.output_format),)

    @impl(fxp.ConcatOp)
    def run_concat(self, interpreter: Interpreter, op: fxp.ConcatOp, args: PythonValues):
        parts = [
            self._cast(op, np.asarray(x), fmt.frac_bits, op.output_format)
            for x, fmt in zip(args, op.input_formats, strict=True)
        ]
        return (np.concatenate(parts, axis=op.axis.value.data % len(fxp.tensor_shape(op.output)) + 1),)

    @impl(fxp.ReshapeOp)
    def run_reshape(self, interpreter: Interpreter, op: fxp.ReshapeOp, args: PythonValues):
        x = args[0]
        return (x.reshape((x.shape[0], *fxp.tensor_shape(op.output))),)

    @impl(fxp.TakeOp)
    def run_take(self, interpreter: Interpreter, op: fxp.TakeOp, args: PythonValues):
        flat = np.asarray(args[0]).reshape(len(args[0]), -1)
        sources = np.asarray(op.source_list)
        constants = np.zeros(len(sources), dtype=np.int64)
        if op.fill_list:
            constants[sources < 0] = op.fill_list
        picked = np.where(sources >= 0, flat[:, np.maximum(sources, 0)], constants)
        return (picked.astype(flat.dtype).reshape((len(flat), *fxp.tensor_shape(op.output))),)

    @impl(fxp.GatherOp)
    def run_gather(self, interpreter: Interpreter, op: fxp.GatherOp, args: PythonValues):
        data, indices = args
        return (gather(np.asarray(data), indices, op.index_map, fxp.tensor_shape(op.output)),)

    @impl(fxp.ScatterOp)
    def run_scatter(self, interpreter: Interpreter, op: fxp.ScatterOp, args: PythonValues):
        indices, updates = args[0], np.asarray(args[1])
        formats, out = op.input_formats, op.output_format
        if len(args) == 3:
            data, fd = np.asarray(args[2]), formats[2]
        else:
            shape = (len(updates), *fxp.tensor_shape(op.output))
            data, fd = np.broadcast_to(op.initial_values, shape), out
        fu = formats[1]
        frac = max(fd.frac_bits, fu.frac_bits)
        bits = max(fd.width + frac - fd.frac_bits, fu.width + frac - fu.frac_bits)
        bits += op.index_map.moving.bit_length() + 1
        data = exact(data, bits) << (frac - fd.frac_bits)
        updates = exact(updates, bits) << (frac - fu.frac_bits)
        result = scatter(data, indices, updates, op.index_map, op.reduction.data)
        return (self._cast(op, result, frac, out),)

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

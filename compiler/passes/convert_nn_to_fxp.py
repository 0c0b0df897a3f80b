"""convert-nn-to-fxp: float tensors → fixed-point dataflow.

Input level: nn after the canonicalisation passes (dense layers formed, affine constants folded).
Output level: fxp. Each input gets its configured format; each layer's constants are quantized
into its weight / bias formats (a constant that would wrap is an error, not silent garbage); each
result gets its configured format, whose rounding and overflow modes say how it is produced.

Accumulators are exact: the range of every dense sum is computed from the actual integer weights
and the input range (interval arithmetic), so the accumulator can never overflow; a configured
accumulator format is honoured as an extra cast. Sigmoid and tanh become lookup tables; softmax
becomes the two-table form of ``fxp.softmax`` (exp of ``max - x`` and reciprocal of the sum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerType, ModuleOp, StringAttr, UnitAttr
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass

from rtlflow.dialects.arrays import (
    WINDOW_PROPERTIES,
    dense_from_numpy,
    int_array,
    int_tuple,
    numpy_from_dense,
)
from rtlflow.config import LayerConfig, ModelConfig, check_layer_names
from rtlflow.dialects import fxp, nn
from rtlflow.dialects.traits import KeepsGrid, holds
from rtlflow.errors import RtlflowError
from rtlflow.numerics.broadcast import per_channel
from rtlflow.numerics.fixed_point import (
    FixedFormat,
    bits_for_range,
    dot_product_format,
    dot_product_range,
    range_format,
    raw_range,
)
from rtlflow.numerics.indexing import gather_map
from rtlflow.numerics.quantization import (
    exact_format,
    power_of_two_exponent,
    quant_step,
    step_thresholds,
)

#: Default lookup-table settings (hls4ml uses 1024-entry tables as well).
DEFAULT_TABLE_SIZE = 1024
DEFAULT_TABLE_RANGES = {
    "sigmoid": (-8.0, 8.0), "tanh": (-4.0, 4.0), "erf": (-4.0, 4.0)
}
DEFAULT_EXP_RANGE = 16.0
DEFAULT_SOFTMAX_TYPE = FixedFormat(18, 1, signed=False)
#: a quantizer built as thresholds compares with at most this many per element
MAX_THRESHOLD_LEVELS = 4095
#: layer normalisation: the width of its 1/sqrt table's entries
DEFAULT_LAYER_NORM_TABLE_BITS = 18
#: 1 / (taps of a window) for average pooling: exact for power-of-two windows, else rounded
DEFAULT_AVERAGE_SCALE = FixedFormat(18, 1, signed=False, rounding="RND")


@dataclass(frozen=True)
class Carried:
    """A value held as ``relu?(scale * v + offset)`` of its fxp value ``v`` (element-wise, arrays of
    the tensor's shape, exact float64 dyadics, scale > 0): a quantizer's levels with a scale
    that is not a power of two, or a dense / conv sum over such levels before its scale and
    bias. The next quantizer's thresholds absorb it; anything else gets it applied first."""

    scale: np.ndarray
    offset: np.ndarray
    relu: bool
    node: str

    @property
    def linear(self) -> bool:
        """No offset and no ReLU: moves, max pooling and weighted sums may take it along."""
        return not self.relu and not np.any(self.offset)

    def moved(self, move) -> Carried:
        return Carried(move(self.scale), move(self.offset), self.relu, self.node)


@dataclass(frozen=True)
class ConvertNnToFxpPass(ModulePass):
    name = "convert-nn-to-fxp"

    config: ModelConfig = field(default_factory=ModelConfig)
    """The configuration: formats, modes, table sizes (see rtlflow.config)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        config = self.config
        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            _Converter(config).convert(function)


class _Converter:
    def __init__(self, config: ModelConfig):
        self.config = config
        self.values: dict[SSAValue, SSAValue] = {}
        #: a quantization-aware model: formats are exact unless configured (see ``exact_result``)
        self.exact = False
        #: each dense / conv layer's quantized constants, computed once (``weighted``)
        self.constants: dict[Operation, dict] = {}
        #: values carried with a scale (and offset, ReLU) not yet applied (see ``Carried``)
        self.carried: dict[SSAValue, Carried] = {}
        #: the carried form of a dense / conv / quantizer result, set while converting it
        self.outgoing: dict[Operation, Carried] = {}
        self.block: Block | None = None

    def convert(self, function: func.FuncOp) -> None:
        old = function.body.block
        names = [attr.data for attr in function.attributes["onnx.inputs"]]  # type: ignore
        check_layer_names(
            self.config, {op.node_name for op in old.ops if isinstance(op, nn.NnOp)}
        )
        unknown_inputs = sorted(set(self.config.inputs) - set(names))
        if unknown_inputs:
            raise RtlflowError(
                f"the configuration names input(s) {unknown_inputs} that the model does not "
                f"have (its inputs: {', '.join(names)})"
            )
        self.exact = any(isinstance(op, nn.QuantOp) for op in old.ops)
        arg_types = []
        for name, argument in zip(names, old.args, strict=True):
            fmt = self.config.input_format(name)
            if isinstance(argument.type.element_type, IntegerType):  # type: ignore[attr-defined]
                fmt = self.integer_input_format(name, argument)
            quantizer = _first_quantizer(argument)
            if quantizer is not None and name not in self.config.inputs:
                fmt = quant_format(quantizer)  # the input is quantized as the model says
            arg_types.append(fxp.fixed_tensor(nn.shape_of(argument), fmt))
        block = Block(arg_types=arg_types)
        self.block = block
        for new, argument in zip(block.args, old.args, strict=True):
            new.name_hint = argument.name_hint
            self.values[argument] = new
        for op in list(old.ops):
            if isinstance(op, func.ReturnOp):
                for value in op.arguments:
                    self.apply_carried(value)
                block.add_op(func.ReturnOp(*[self.values[v] for v in op.arguments]))
            elif not isinstance(op, nn.ConstantOp):
                if any(isinstance(v.owner, nn.ConstantOp) for v in op.operands[1:]) and isinstance(
                    op, nn.AddOp
                ):
                    raise RtlflowError(_unsupported_reason(op), node=op.node_name, op=_kind(op))
                for value in op.operands:
                    if value in self.carried and not self.takes_carried(op, self.carried[value]):
                        self.apply_carried(value)
                carried = self.carried.get(op.operands[0]) if op.operands else None
                if isinstance(op, nn.ReluOp) and carried is not None and not carried.linear:
                    self.values[op.output] = self.values[op.input]  # the next quantizer's job
                    self.carried[op.output] = Carried(carried.scale, carried.offset, True, carried.node)
                    continue
                new_op = self.convert_op(op)
                if new_op is None:  # a quantizer into the format its input already has
                    self.values[op.results[0]] = self.values[op.operands[0]]
                    continue
                block.add_op(new_op)
                new_op.results[0].name_hint = op.results[0].name_hint
                self.values[op.results[0]] = new_op.results[0]
                self.carry_through(op, carried)
        function.body.detach_block(old)
        function.body.add_block(block)
        function.update_function_type()

    def integer_input_format(self, name: str, argument: SSAValue) -> FixedFormat:
        """An integer input's format: configured (an integer format), else, for indices, the
        unsigned width that numbers the largest axis they index with at least one code to spare
        (a padding value past the real entries, which selects nothing); else the default input
        format."""
        if name in self.config.inputs:
            fmt = self.config.inputs[name]
            if fmt.frac_bits != 0:
                raise RtlflowError(
                    f"input '{name}' is an integer tensor: give it an integer format "
                    f"(fixed<W,W> or ufixed<W,W>), not {fmt}"
                )
            return fmt
        sizes = index_axis_sizes(argument)
        if not sizes:
            return self.config.input_format(name)
        width = max(sizes).bit_length()  # 0 .. 2**width - 1: at least one code selects nothing
        return FixedFormat(width, width, signed=False)

    # ---- carried scales -------------------------------------------------------------------

    def takes_carried(self, op: Operation, carried: Carried) -> bool:
        """Whether ``op`` can take a carried value as it is (else the scale is applied first)."""
        shape = nn.shape_of(op.operands[0])
        match op:
            case nn.QuantOp() | nn.ReluOp() | nn.ReshapeOp() | nn.TransposeOp():
                return True
            case nn.PoolOp() if op.kind.data == "max":
                return all(per_channel(a, shape) is not None for a in (carried.scale, carried.offset))
            case nn.PadOp():
                return carried.linear
            case nn.DenseOp() | nn.ConvOp():
                layer = self.config.layer(op.node_name)
                configured = (layer.weight, layer.bias, layer.result, layer.accumulator)
                if not carried.linear or any(fmt is not None for fmt in configured):
                    return False
                if isinstance(op, nn.DenseOp):
                    rows = carried.scale.reshape(-1, shape[-1])
                    return bool(np.all(rows == rows[:1]))
                return op.group.value.data == 1 and per_channel(carried.scale, shape) is not None
        return False

    def apply_carried(self, value: SSAValue) -> None:
        """Apply a carried scale, offset and ReLU: an exact ``fxp.scale_shift`` (and ``fxp.relu``)."""
        carried = self.carried.pop(value, None)
        if carried is None:
            return
        assert self.block is not None
        x = self.values[value]
        fx, shape = fxp.tensor_format(x), nn.shape_of(value)
        scales = np.broadcast_to(carried.scale, shape).astype(np.float64)
        offsets = np.broadcast_to(carried.offset, shape).astype(np.float64)
        scale_format, offset_format = exact_format(scales), exact_format(offsets)
        if scale_format is None or offset_format is None:
            raise RtlflowError(
                "a scale or bias is too small to be exact in 64 fractional bits",
                node=carried.node,
                op="quant",
            )
        scale_raw, offset_raw = scale_format.quantize(scales)[0], offset_format.quantize(offsets)[0]
        frac = max(fx.frac_bits + scale_format.frac_bits, offset_format.frac_bits)
        aligned_scale = scale_raw << (frac - fx.frac_bits - scale_format.frac_bits)
        aligned_offset = offset_raw << (frac - offset_format.frac_bits)
        ends = [level * aligned_scale + aligned_offset for level in (fx.min_raw, fx.max_raw)]
        low, high = int(min(e.min() for e in ends)), int(max(e.max() for e in ends))
        result = range_format(max(low, 0) if carried.relu else low, high, frac)
        op = fxp.ScaleShiftOp(
            x,
            fxp.fixed_tensor(shape, range_format(low, high, frac)),
            carried.node,
            scale=dense_from_numpy(scale_raw.astype(np.int64)),
            scale_type=fxp.FixedType.from_format(scale_format),
            offset=dense_from_numpy(offset_raw.astype(np.int64)),
            offset_type=fxp.FixedType.from_format(offset_format),
        )
        self.block.add_op(op)
        out = op.output
        if carried.relu:
            relu = fxp.ReluOp(out, fxp.fixed_tensor(shape, result), carried.node)
            self.block.add_op(relu)
            out = relu.output
        self.values[value] = out

    def carry_through(self, op: Operation, carried: Carried | None) -> None:
        """The carried form of ``op``'s result: from its input through a move, max pooling or
        a linear ReLU, or as a dense / conv sum's or quantizer's own (``self.outgoing``)."""
        moved = self.outgoing.pop(op, None)
        if moved is None:
            moved = self.moved_carried(op, carried)
        if moved is not None:
            self.carried[op.results[0]] = moved
            owner = self.values[op.results[0]].owner
            if isinstance(owner, Operation):  # its numbers are levels or sums, not values
                owner.attributes[fxp.CARRIED] = UnitAttr()

    def moved_carried(self, op: Operation, carried: Carried | None) -> Carried | None:
        if carried is None or op.operands[0] not in self.carried:
            return None
        out_shape = nn.shape_of(op.results[0])
        match op:
            case nn.ReluOp():
                moved = carried
            case nn.ReshapeOp():
                moved = carried.moved(lambda a: np.broadcast_to(a, nn.shape_of(op.input)).reshape(out_shape))
            case nn.TransposeOp():
                perm = tuple(int_tuple(op.perm))
                moved = carried.moved(
                    lambda a: np.transpose(np.broadcast_to(a, nn.shape_of(op.input)), perm)
                )
            case nn.PadOp():
                pads = int_tuple(op.pads)
                rank = len(out_shape)
                widths = list(zip(pads[:rank], pads[rank:], strict=True))
                full = np.broadcast_to(carried.scale, nn.shape_of(op.input))
                moved = Carried(np.pad(full, widths, mode="edge"), np.zeros(out_shape), False, carried.node)
            case nn.PoolOp():
                in_shape = nn.shape_of(op.input)
                per = [per_channel(a, in_shape) for a in (carried.scale, carried.offset)]
                channel = (1, in_shape[1]) + (1,) * (len(in_shape) - 2)
                scale, offset = (np.broadcast_to(a.reshape(channel), out_shape) for a in per)
                moved = Carried(scale, offset, carried.relu, carried.node)
            case _:
                return None
        return moved

    # ---- one op ---------------------------------------------------------------------------

    def convert_op(self, op: Operation) -> Operation | None:
        assert isinstance(op, nn.NnOp)
        layer = self.config.layer(op.node_name)
        result = self.config.result_format(op.node_name)
        if self.exact and layer.result is None and op.results:
            result = self.exact_result(op) or result
        elif self.config.infer_precision and layer.result is None and op.results:
            result = self.inferred_result(op) or result
        match op:
            case nn.QuantOp():
                fmt = quant_format(op)
                if fmt is None or op.input in self.carried:
                    return self.threshold(op)
                if represents(fmt, fxp.tensor_format(self.input(op))):
                    return None  # every input value is already a value of the quantizer
                return fxp.CastOp(self.input(op), self.result_type(op, fmt), op.node_name)
            case nn.DenseOp():
                return self.dense(op, layer, result)
            case nn.ReluOp():
                return fxp.ReluOp(self.input(op), self.result_type(op, result), op.node_name)
            case nn.LeakyReluOp():
                return self.leaky_relu(op, result)
            case nn.ClipOp():
                return self.clip(op, result)
            case nn.SigmoidOp() | nn.TanhOp() | nn.ErfOp():
                return self.table(op, layer, result)
            case nn.SoftmaxOp():
                return self.softmax(op, layer, result)
            case nn.LayerNormOp():
                return self.layer_norm(op, layer, result)
            case nn.ScaleShiftOp():
                return self.scale_shift(op, layer, result)
            case nn.ReshapeOp():
                x = self.input(op)
                return fxp.ReshapeOp(
                    x, fxp.fixed_tensor(nn.shape_of(op.output), fxp.tensor_format(x)), op.node_name
                )
            case nn.TransposeOp():
                x = self.input(op)
                shape = nn.shape_of(op.output)
                return fxp.TransposeOp(
                    x, fxp.fixed_tensor(shape, fxp.tensor_format(x)), op.node_name, perm=op.perm
                )
            case nn.PadOp():
                x = self.input(op)
                shape = nn.shape_of(op.output)
                return fxp.PadOp(
                    x, fxp.fixed_tensor(shape, fxp.tensor_format(x)), op.node_name, pads=op.pads
                )
            case nn.ConvOp():
                return self.conv(op, layer, result)
            case nn.PoolOp():
                return self.pool(op, layer, result)
            case nn.AddOp() if all(v in self.values for v in op.operands):
                if nn.shape_of(op.lhs) != nn.shape_of(op.rhs):
                    raise RtlflowError(
                        f"adding activations of shapes {list(nn.shape_of(op.lhs))} and "
                        f"{list(nn.shape_of(op.rhs))} (broadcasting) is not supported",
                        node=op.node_name,
                        op="add",
                    )
                inputs = [self.values[v] for v in op.operands]
                return fxp.AddOp(inputs, self.result_type(op, result), op.node_name)
            case nn.ConcatOp() if any(v not in self.values for v in op.operands):
                return self.concat_constants(op)
            case nn.ConcatOp():
                inputs = [self.values[v] for v in op.operands]
                return fxp.ConcatOp(
                    inputs, self.result_type(op, result), op.node_name, axis=op.axis
                )
            case nn.ExpandOp():
                shape = nn.shape_of(op.input)
                numbered = np.arange(math.prod(shape)).reshape(shape)
                return self.take(op, self.input(op), np.broadcast_to(numbered, nn.shape_of(op.output)))
            case nn.GatherOp():
                return self.gather(op)
            case nn.ScatterOp():
                return self.scatter(op, layer, result)
            case nn.MatMulOp() if all(v in self.values for v in op.operands):
                return self.matmul(op, layer, result)
        raise RtlflowError(_unsupported_reason(op), node=op.node_name, op=_kind(op))

    def input(self, op: nn.NnOp) -> SSAValue:
        return self.values[op.operands[0]]

    def result_type(self, op: nn.NnOp, fmt: FixedFormat):
        return fxp.fixed_tensor(nn.shape_of(op.results[0]), fmt)

    def exact_result(self, op: nn.NnOp) -> FixedFormat | None:
        """In a quantization-aware model, the format that loses nothing: a dense or conv layer's
        exact accumulator, the input's format for ReLU, max pooling and reshapes (the model's
        quantizers do all the rounding). None where there is no such rule."""
        match op:
            case nn.DenseOp() | nn.ConvOp():
                return self.weighted(op, self.config.layer(op.node_name))["accumulator"].format
            case _ if holds(op, KeepsGrid):  # passes values on or picks among them
                return fxp.tensor_format(self.input(op))
        return None

    def inferred_result(self, op: nn.NnOp) -> FixedFormat | None:
        """``precision: auto``: the default precision's fractional bits, and the integer bits
        of the exact range of the result (interval arithmetic over the actual weights and the
        input's range), so that the result can never overflow. None: the default precision."""
        frac = self.config.precision.frac_bits
        modes = (self.config.precision.rounding, self.config.precision.overflow)
        match op:
            case nn.DenseOp() | nn.ConvOp():
                props = self.weighted(op, self.config.layer(op.node_name))
                weights = numpy_from_dense(props["weight"])
                acc_frac, low, high = dot_product_range(
                    weights.reshape(weights.shape[0], -1),
                    props["weight_type"].format,
                    numpy_from_dense(props["bias"]),
                    props["bias_type"].format,
                    fxp.tensor_format(self.input(op)),
                )
                drop = max(0, acc_frac - frac)  # truncation keeps the range within floor bounds
                fmt = range_format(low >> drop, high >> drop, acc_frac - drop)
            case nn.ReluOp():
                fx = fxp.tensor_format(self.input(op))
                fmt = range_format(0, max(fx.max_raw, 0), fx.frac_bits)
                fmt = FixedFormat(fmt.width, fmt.int_bits, signed=False)
            case nn.ReshapeOp() | nn.TransposeOp() | nn.PadOp():
                return fxp.tensor_format(self.input(op))
            case nn.PoolOp() if op.kind.data == "max":
                return fxp.tensor_format(self.input(op))
            case _:
                return None
        return fmt.with_modes(*modes)  # type: ignore[arg-type]

    def constant_format(self, values: np.ndarray, configured: FixedFormat | None) -> FixedFormat:
        """A constant's format: configured, exact in a quantization-aware model, else the
        default precision."""
        if configured is not None:
            return configured
        if self.exact:
            exact = exact_format(values)
            if exact is not None:
                return exact
        return self.config.precision

    def weighted(self, op: nn.DenseOp | nn.ConvOp, layer: LayerConfig) -> dict:
        """The quantized weights and biases of a dense or conv layer and its exact
        accumulator (or the configured one), as fxp properties."""
        if op not in self.constants:
            self.constants[op] = self._weighted(op, layer)
        return self.constants[op]

    def _weighted(self, op: nn.DenseOp | nn.ConvOp, layer: LayerConfig) -> dict:
        carried = self.carried.get(op.operands[0])
        if carried is not None:
            return self._weighted_carried(op, carried)
        weight_format = self.constant_format(op.weights, layer.weight)
        bias_values = op.biases
        sticky = None
        if self.exact and layer.bias is None:
            sticky = sticky_bias_bits(op, fxp.tensor_format(self.input(op)).frac_bits + weight_format.frac_bits)
        if sticky is not None:
            bias_values = sticky_values(bias_values, sticky)
        bias_format = self.constant_format(bias_values, layer.bias)
        weights = quantize_constant(op.weights, weight_format, op, "weight")
        biases = quantize_constant(bias_values, bias_format, op, "bias")
        accumulator = layer.accumulator or dot_product_format(
            weights.reshape(weights.shape[0], -1), weight_format, biases, bias_format,
            fxp.tensor_format(self.input(op)),
        )
        return {
            "weight": dense_from_numpy(weights),
            "weight_type": fxp.FixedType.from_format(weight_format),
            "bias": dense_from_numpy(biases),
            "bias_type": fxp.FixedType.from_format(bias_format),
            "accumulator": fxp.FixedType.from_format(accumulator),
        }

    def _weighted_carried(self, op: nn.DenseOp | nn.ConvOp, carried: Carried) -> dict:
        """A weighted sum over levels that carry a scale (per input feature or channel): the
        weights times that scale, divided by their largest common dyadic factor per output
        (integers, as narrow as the weights allow), no bias; the factor and the bias go on
        carried by the sum (``self.outgoing``), to the next quantizer's thresholds."""
        in_shape = nn.shape_of(op.operands[0])
        if isinstance(op, nn.DenseOp):
            scale = carried.scale.reshape(-1, in_shape[-1])[0] if carried.scale.ndim else carried.scale
            weights = op.weights.astype(np.float64) * scale
        else:
            scale = per_channel(carried.scale, in_shape)
            weights = op.weights.astype(np.float64) * scale.reshape(1, -1, *([1] * (op.weights.ndim - 2)))
        factors = np.array([dyadic_gcd(row) for row in weights.reshape(weights.shape[0], -1)])
        integers = weights / factors.reshape(-1, *([1] * (weights.ndim - 1)))
        weight_format = exact_format(integers)
        assert weight_format is not None and weight_format.frac_bits == 0
        zeros = np.zeros(weights.shape[0])
        bias_format = FixedFormat(2, 2)
        raw = quantize_constant(integers, weight_format, op, "weight")
        accumulator = dot_product_format(
            raw.reshape(raw.shape[0], -1), weight_format, zeros.astype(np.int64), bias_format,
            fxp.tensor_format(self.input(op)),
        )
        out_shape = nn.shape_of(op.output)
        channel = (1,) * (len(out_shape) - 1) + (-1,) if isinstance(op, nn.DenseOp) else (
            (1, -1) + (1,) * (len(out_shape) - 2)
        )
        self.outgoing[op] = Carried(
            np.broadcast_to(factors.reshape(channel), out_shape),
            np.broadcast_to(op.biases.astype(np.float64).reshape(channel), out_shape),
            False,
            op.node_name,
        )
        return {
            "weight": dense_from_numpy(raw.astype(np.int64)),
            "weight_type": fxp.FixedType.from_format(weight_format),
            "bias": dense_from_numpy(zeros.astype(np.int64)),
            "bias_type": fxp.FixedType.from_format(bias_format),
            "accumulator": fxp.FixedType.from_format(accumulator),
        }

    def dense(self, op: nn.DenseOp, layer: LayerConfig, result: FixedFormat) -> fxp.DenseOp:
        return fxp.DenseOp(
            self.input(op),
            self.result_type(op, result),
            op.node_name,
            **self.weighted(op, layer),
            reuse_factor=fxp.int_prop(1),
        )

    def conv(self, op: nn.ConvOp, layer: LayerConfig, result: FixedFormat) -> fxp.ConvOp:
        return fxp.ConvOp(
            self.input(op),
            self.result_type(op, result),
            op.node_name,
            **self.weighted(op, layer),
            group=op.group,
            style=StringAttr("parallel"),
            **_window_properties(op),
        )

    def pool(self, op: nn.PoolOp, layer: LayerConfig, result: FixedFormat) -> fxp.PoolOp:
        window = op.window
        scale_format = layer.weight or DEFAULT_AVERAGE_SCALE
        if op.kind.data == "average":
            counts = window.counts(bool(op.count_include_pad.value.data))
            scales = quantize_constant(1.0 / counts, scale_format, op, "scale")
        else:
            scales = np.ones(window.positions, dtype=np.int64)
        return fxp.PoolOp(
            self.input(op),
            self.result_type(op, result),
            op.node_name,
            kind=op.kind,
            scale=dense_from_numpy(scales),
            scale_type=fxp.FixedType.from_format(scale_format),
            style=StringAttr("parallel"),
            **_window_properties(op),
        )

    def scale_shift(
        self, op: nn.ScaleShiftOp, layer: LayerConfig, result: FixedFormat
    ) -> fxp.ScaleShiftOp:
        x = self.input(op)
        scale_format = layer.weight or self.config.precision
        offset_format = layer.bias or self.config.precision
        scale = quantize_constant(op.scales, scale_format, op, "scale")
        offset = quantize_constant(op.shifts, offset_format, op, "offset")
        return fxp.ScaleShiftOp(
            x,
            self.result_type(op, result),
            op.node_name,
            scale=dense_from_numpy(scale),
            scale_type=fxp.FixedType.from_format(scale_format),
            offset=dense_from_numpy(offset),
            offset_type=fxp.FixedType.from_format(offset_format),
        )

    def take(self, op: nn.NnOp, x: SSAValue, sources: np.ndarray) -> fxp.TakeOp:
        shape = nn.shape_of(op.results[0])
        return fxp.TakeOp(
            x,
            fxp.fixed_tensor(shape, fxp.tensor_format(x)),
            op.node_name,
            sources=int_array([int(v) for v in np.asarray(sources).reshape(-1)]),
        )

    def concat_constants(self, op: nn.ConcatOp) -> fxp.TakeOp:
        """One activation concatenated with constants (a class token): the activation's
        elements moved into place, the constants (rounded into its format) filled in."""
        activations = [v for v in op.operands if v in self.values]
        if len(activations) != 1:
            raise RtlflowError(
                "a concatenation of constants with several activations is not supported",
                node=op.node_name,
                op="concat",
            )
        fmt = fxp.tensor_format(self.values[activations[0]])
        axis = op.axis.value.data % len(nn.shape_of(op.output))
        sources, constants = [], []
        for value in op.operands:
            shape = nn.shape_of(value)
            if value in self.values:
                sources.append(np.arange(math.prod(shape)).reshape(shape))
                constants.append(np.zeros(shape, dtype=np.int64))
            else:
                sources.append(np.full(shape, -1))
                values = np.broadcast_to(nn.constant_value(value), shape)
                constants.append(quantize_constant(values, fmt.with_modes("RND"), op, "constant"))
        sources = np.concatenate(sources, axis=axis).reshape(-1)
        fill = np.concatenate(constants, axis=axis).reshape(-1)[sources < 0]
        take = self.take(op, self.values[activations[0]], sources)
        take.properties["fill"] = int_array([int(v) for v in fill])
        return take

    def gather(self, op: nn.GatherOp) -> fxp.TakeOp | fxp.GatherOp:
        axis, kind = op.axis.value.data, op.kind.data
        index_map = gather_map(nn.shape_of(op.data), nn.shape_of(op.indices), axis, kind)
        indices = nn.constant_value(op.indices)
        if op.data not in self.values:
            raise RtlflowError(
                "gathering from a constant table by run-time indices is not supported yet",
                node=op.node_name,
                op="gather",
            )
        if indices is not None:  # moves fixed elements: wiring
            return self.take(op, self.values[op.data], index_map.targets(indices[np.newaxis])[0])
        data = self.values[op.data]
        return fxp.GatherOp(
            [data, self.values[op.indices]],
            fxp.fixed_tensor(nn.shape_of(op.output), fxp.tensor_format(data)),
            op.node_name,
            axis=op.axis,
            kind=op.kind,
        )

    def scatter(self, op: nn.ScatterOp, layer: LayerConfig, result: FixedFormat) -> fxp.ScatterOp:
        for value, what in ((op.indices, "indices"), (op.updates, "updates")):
            if value not in self.values:
                raise RtlflowError(
                    f"a scatter with constant {what} is not supported", node=op.node_name,
                    op="scatter",
                )
        indices, updates = self.values[op.indices], self.values[op.updates]
        fu = fxp.tensor_format(updates)
        initial = nn.constant_value(op.data)
        fd = fxp.tensor_format(self.values[op.data]) if initial is None else exact_format(initial)
        if fd is None:
            raise RtlflowError(
                "the scatter's constant data must be exact in fixed point", node=op.node_name,
                op="scatter",
            )
        frac = max(fu.frac_bits, fd.frac_bits)
        update_low, update_high = (v << (frac - fu.frac_bits) for v in (fu.min_raw, fu.max_raw))
        data_low, data_high = (v << (frac - fd.frac_bits) for v in (fd.min_raw, fd.max_raw))
        if op.reduction.data == "none":  # every result is the data or an update: their union
            result = range_format(min(update_low, data_low), max(update_high, data_high), frac)
        elif layer.result is None and (self.exact or self.config.infer_precision):
            hits = _most_hits(op)
            result = range_format(
                data_low + hits * min(update_low, 0), data_high + hits * max(update_high, 0), frac
            ).with_modes(self.config.precision.rounding, self.config.precision.overflow)
        properties = {"axis": op.axis, "kind": op.kind, "reduction": op.reduction}
        inputs = [indices, updates]
        if initial is None:
            inputs.append(self.values[op.data])
        else:
            raw = quantize_constant(np.broadcast_to(initial, nn.shape_of(op.output)), result, op, "data")
            properties["initial"] = dense_from_numpy(raw)
        return fxp.ScatterOp(inputs, self.result_type(op, result), op.node_name, **properties)

    def matmul(self, op: nn.MatMulOp, layer: LayerConfig, result: FixedFormat) -> fxp.MatMulOp:
        a, b = self.values[op.lhs], self.values[op.rhs]
        if layer.result is None and (self.exact or self.config.infer_precision):
            fa, fb = fxp.tensor_format(a), fxp.tensor_format(b)
            corners = [x * y for x in (fa.min_raw, fa.max_raw) for y in (fb.min_raw, fb.max_raw)]
            terms = nn.shape_of(op.lhs)[-1]
            result = range_format(
                terms * min(corners), terms * max(corners), fa.frac_bits + fb.frac_bits
            ).with_modes(self.config.precision.rounding, self.config.precision.overflow)
        return fxp.MatMulOp([a, b], self.result_type(op, result), op.node_name)

    def threshold(self, op: nn.QuantOp) -> Operation:
        """A quantizer whose decisions are not on its input's grid, or whose input carries a
        scale: ``fxp.threshold`` counts the levels ``q - zero_point`` (exact thresholds on the
        raw input, one list per distinct scale, zero point and carried affine). Unless the scale
        is one power of two (the levels' LSB), the levels carry the scale on to what reads them
        (``Carried``)."""
        x = self.input(op)
        fx = fxp.tensor_format(x)
        if fx.width > 62:
            raise RtlflowError(
                f"the quantizer's input is {fx}, {fx.width} bits: scales that are not powers of "
                "two before it make exact formats this wide; give the layer before it a "
                "narrower result format in the configuration (such as fixed<32,10,RND,SAT>)",
                node=op.node_name,
                op="quant",
            )
        shape = nn.shape_of(op.output)
        flat = [np.broadcast_to(a, shape).reshape(-1).astype(np.float64) for a in (op.scales, op.zero_points)]
        scales, zero_points = flat
        carried = self.carried.get(op.input)
        if carried is None:
            carried = Carried(np.ones(()), np.zeros(()), False, op.node_name)
        affine = [np.broadcast_to(a, shape).reshape(-1).astype(np.float64) for a in (carried.scale, carried.offset)]
        integral = bool(np.all(zero_points == np.round(zero_points)))
        low, high = op.bounds
        keys = list(zip(scales.tolist(), zero_points.tolist(), affine[0].tolist(), affine[1].tolist()))
        steps: dict[tuple, tuple[int, list[int]]] = {}
        for key in set(keys):
            scale, zero_point, a, b = key
            step = quant_step(
                fx.frac_bits, scale, zero_point, low, high, op.rounding.data, op.shift_bits,
                (a, b, carried.relu),
            )
            first, last = step([fx.min_raw, fx.max_raw])
            if last - first > MAX_THRESHOLD_LEVELS:
                raise RtlflowError(
                    f"the quantizer takes {last - first + 1} levels over its input's range "
                    f"({fx}), more than {MAX_THRESHOLD_LEVELS + 1}: give its input a narrower "
                    "format in the configuration",
                    node=op.node_name,
                    op="quant",
                )
            base, levels = step_thresholds(step, fx.min_raw, fx.max_raw)
            steps[key] = (base - int(zero_point) if integral else base, levels)
        width = max(len(levels) for _, levels in steps.values())
        table = np.full((scales.size, width), fx.max_raw + 1, dtype=np.int64)
        base = np.zeros(scales.size, dtype=np.int64)
        for index, key in enumerate(keys):
            base[index], levels = steps[key]
            table[index, : len(levels)] = levels
        exponent = power_of_two_exponent(scales) if integral else None
        levels_format = range_format(int(base.min()), int(base.max()) + width, -(exponent or 0))
        if exponent is None:
            offsets = np.zeros_like(scales) if integral else -scales * zero_points
            self.outgoing[op] = Carried(scales.reshape(shape), offsets.reshape(shape), False, op.node_name)
        return fxp.ThresholdOp(
            x,
            self.result_type(op, levels_format),
            op.node_name,
            thresholds=dense_from_numpy(table),
            base=dense_from_numpy(base),
        )

    def leaky_relu(self, op: nn.LeakyReluOp, result: FixedFormat) -> fxp.LeakyReluOp:
        alpha = op.alpha.value.data
        alpha_format = FixedFormat(18, max(1, int(abs(alpha)).bit_length() + 1), rounding="RND")
        raw = quantize_constant(np.array(alpha), alpha_format, op, "alpha")
        return fxp.LeakyReluOp(
            self.input(op),
            self.result_type(op, result),
            op.node_name,
            alpha=fxp.int_prop(int(raw)),
            alpha_type=fxp.FixedType.from_format(alpha_format),
        )

    def clip(self, op: nn.ClipOp, result: FixedFormat) -> fxp.ClipOp:
        x = self.input(op)
        fmt = fxp.tensor_format(x)
        scale = 2.0**fmt.frac_bits
        low = fmt.min_raw if op.low is None else math.ceil(op.low.value.data * scale)
        high = fmt.max_raw if op.high is None else math.floor(op.high.value.data * scale)
        low, high = max(low, fmt.min_raw), min(high, fmt.max_raw)
        return fxp.ClipOp(
            x,
            self.result_type(op, result),
            op.node_name,
            low=fxp.int_prop(low),
            high=fxp.int_prop(high),
        )

    def table(self, op, layer: LayerConfig, result: FixedFormat) -> fxp.TableOp:
        function = op.name.removeprefix("nn.")
        low, high = layer.table_range or DEFAULT_TABLE_RANGES[function]
        size = layer.table_size or DEFAULT_TABLE_SIZE
        index_bits = _log2_exact(size, op, "table_size")
        step_log2 = _log2_exact((high - low) / size, op, "table_range / table_size")
        x = self.input(op)
        input_lsb = fxp.tensor_format(x).lsb
        if (low / input_lsb) != math.floor(low / input_lsb):
            raise RtlflowError(
                f"table_range starts at {low}, not a multiple of the input LSB {input_lsb}",
                node=op.node_name,
                op=_kind(op),
            )
        return fxp.TableOp(
            x,
            self.result_type(op, result),
            op.node_name,
            function=StringAttr(function),
            start=fxp.float_prop(low),
            index_bits=fxp.int_prop(index_bits),
            step_log2=fxp.int_prop(step_log2),
        )

    def softmax(self, op: nn.SoftmaxOp, layer: LayerConfig, result: FixedFormat) -> fxp.SoftmaxOp:
        shape = nn.shape_of(op.output)
        if op.axis.value.data % len(shape) != len(shape) - 1:
            raise RtlflowError(
                "softmax over an axis other than the last is not supported yet",
                node=op.node_name,
                op="softmax",
            )
        n = shape[-1]
        exp_size = layer.exp_table_size or DEFAULT_TABLE_SIZE
        inv_size = layer.inv_table_size or DEFAULT_TABLE_SIZE
        exp_type = layer.exp_type or DEFAULT_SOFTMAX_TYPE
        inv_type = layer.inv_type or DEFAULT_SOFTMAX_TYPE
        if exp_type.signed or inv_type.signed:
            raise RtlflowError(
                "exp_type and inv_type must be unsigned (ufixed)", node=op.node_name, op="softmax"
            )
        exp_bits = _log2_exact(exp_size, op, "exp_table_size")
        inv_bits = _log2_exact(inv_size, op, "inv_table_size")
        exp_step = _log2_exact((layer.exp_range or DEFAULT_EXP_RANGE) / exp_size, op, "exp_range")
        # the sum of n exponentials lies in (0, n]: cover [0, 2**ceil(log2 n))
        inv_step = max(1, math.ceil(math.log2(n))) - inv_bits
        return fxp.SoftmaxOp(
            self.input(op),
            self.result_type(op, result),
            op.node_name,
            exp_index_bits=fxp.int_prop(exp_bits),
            exp_step_log2=fxp.int_prop(exp_step),
            exp_type=fxp.FixedType.from_format(exp_type),
            inv_start=fxp.float_prop(0.0),
            inv_index_bits=fxp.int_prop(inv_bits),
            inv_step_log2=fxp.int_prop(inv_step),
            inv_type=fxp.FixedType.from_format(inv_type),
        )

    def layer_norm(self, op: nn.LayerNormOp, layer: LayerConfig, result: FixedFormat):
        """The 1/sqrt table: ``table_size`` entries (default 1024) of ``inv_type`` (default
        18 bits with the integer bits of the largest entry)."""
        size = layer.table_size or DEFAULT_TABLE_SIZE
        index_bits = _log2_exact(size, op, "table_size")
        x = self.input(op)
        fx = fxp.tensor_format(x)
        largest = math.sqrt(op.count) * 2.0**fx.frac_bits / 0.5**0.5  # the entry at m = 1/2
        table_type = layer.inv_type or FixedFormat(
            DEFAULT_LAYER_NORM_TABLE_BITS, max(1, math.floor(math.log2(largest)) + 1), signed=False
        )
        scale_format = self.constant_format(op.scales, layer.weight)
        bias_format = self.constant_format(op.biases, layer.bias)
        return fxp.LayerNormOp(
            x,
            self.result_type(op, result),
            op.node_name,
            axis=op.axis,
            epsilon=op.epsilon,
            scale=dense_from_numpy(quantize_constant(op.scales, scale_format, op, "scale")),
            scale_type=fxp.FixedType.from_format(scale_format),
            bias=dense_from_numpy(quantize_constant(op.biases, bias_format, op, "bias")),
            bias_type=fxp.FixedType.from_format(bias_format),
            index_bits=fxp.int_prop(index_bits),
            table_type=fxp.FixedType.from_format(table_type),
        )


# ---- helpers --------------------------------------------------------------------------------


_ROUNDING_MODES = {"ROUND": "RND_CONV", "HALF_EVEN": "RND_CONV", "FLOOR": "TRN"}


def quant_format(op: nn.QuantOp) -> FixedFormat | None:
    """The fixed-point format a quantizer produces by a cast: one power-of-two scale, zero point
    0, round half to even or floor, the integer bounds of a (narrow) signed or unsigned type.
    None for any other quantizer (it becomes thresholds)."""
    exponent = power_of_two_exponent(op.scales)
    rounding = _ROUNDING_MODES.get(op.rounding.data)
    if exponent is None or np.any(op.zero_points != 0) or rounding is None or op.shift_bits:
        return None
    low, high = op.bounds
    width, signed = bits_for_range(min(low, 0), max(high, 0))
    full_low, full_high = raw_range(width, signed)
    if (low, high) == (full_low, full_high):
        overflow = "SAT"
    elif signed and (low, high) == (full_low + 1, full_high):
        overflow = "SAT_SYM"
    else:
        return None
    return FixedFormat(width, width + exponent, signed, rounding, overflow)  # type: ignore[arg-type]


def sticky_bias_bits(op: nn.DenseOp | nn.ConvOp, product_frac: int) -> int | None:
    """Fractional bits enough for the bias of a layer whose every result reaches quantizers
    (through ReLU, max pooling and moves): with G the finer of the products' LSB and half the
    quantizers' LSB, a float bias may be replaced by its value on the grid G plus half a step
    when it lies between grid points ("sticky" bit). Every sum then stays strictly between the
    same two multiples of G, and every later decision (ReLU, maxima, rounding ties, saturation
    bounds) sits on a multiple of G: the model's outputs do not change. None when the results
    go anywhere else."""
    pending, seen, finest = [op.output], set(), product_frac
    while pending:
        value = pending.pop()
        for use in value.uses:
            user = use.operation
            if user in seen:
                continue
            seen.add(user)
            if isinstance(user, nn.QuantOp):
                fmt = quant_format(user)
                if fmt is None:  # thresholds: decisions off the grid
                    return None
                finest = max(finest, fmt.frac_bits + 1)
            elif holds(user, KeepsGrid):
                pending.append(user.output)
            else:
                return None
    return finest + 1


def sticky_values(values: np.ndarray, frac: int) -> np.ndarray:
    """Each value on the grid 2^-(frac - 1), plus half a step when it lay between grid points."""
    step = 2.0 ** -(frac - 1)
    floor = np.floor(np.asarray(values, dtype=np.float64) / step) * step
    return floor + np.where(floor != values, step / 2, 0.0)


def dyadic_gcd(values: np.ndarray) -> float:
    """The largest ``m * 2^e`` (m odd) dividing every value (float64 dyadics) to an integer;
    1 when all are zero."""
    ratios = [float(v).as_integer_ratio() for v in np.asarray(values).reshape(-1) if v != 0]
    if not ratios:
        return 1.0
    denominator = max(d for _, d in ratios)  # powers of two
    numerators = [n * (denominator // d) for n, d in ratios]
    return math.gcd(*numerators) / denominator


def represents(fmt: FixedFormat, other: FixedFormat) -> bool:
    """Whether every value of ``other`` is a value of ``fmt`` (no rounding, no saturation)."""
    low = fmt.saturation_low * fmt.lsb
    return (
        other.frac_bits <= fmt.frac_bits
        and other.min_value >= low
        and other.max_value <= fmt.max_value
    )


def index_axis_sizes(value: SSAValue) -> list[int]:
    """The sizes of the axes that the integers of ``value`` index (through wiring ops)."""
    sizes: list[int] = []
    for use in value.uses:
        user = use.operation
        if isinstance(user, nn.GatherOp) and use.index == 1:
            sizes.append(nn.shape_of(user.data)[user.axis.value.data])
        elif isinstance(user, nn.ScatterOp) and use.index == 1:
            data = nn.shape_of(user.data)
            if user.kind.data == "nd":
                sizes += data[: nn.shape_of(user.indices)[-1]]
            else:
                sizes.append(data[user.axis.value.data])
        elif isinstance(user, nn.GatherOp | nn.ReshapeOp | nn.ExpandOp | nn.TransposeOp | nn.ConcatOp):
            sizes += index_axis_sizes(user.results[0])
    return sizes


def _most_hits(op: nn.ScatterOp) -> int:
    """The most updates that can land on one element of a scatter's result."""
    indices = nn.shape_of(op.indices)
    if op.kind.data == "nd":
        return math.prod(indices[:-1])
    return indices[op.axis.value.data]


def _first_quantizer(argument: SSAValue) -> nn.QuantOp | None:
    """The quantizer a design input goes through first, if every use of it is one."""
    users = [use.operation for use in argument.uses]
    if users and all(isinstance(u, nn.QuantOp) for u in users):
        formats = {quant_format(u) for u in users}
        return users[0] if len(formats) == 1 and None not in formats else None
    return None


def _window_properties(op: nn.WindowOp) -> dict:
    return {name: getattr(op, name) for name in WINDOW_PROPERTIES}


def quantize_constant(values: np.ndarray, fmt: FixedFormat, op: nn.NnOp, what: str) -> np.ndarray:
    """Raw integers of constant ``values`` in ``fmt``; wrapping values is an error."""
    raw, overflowed = fmt.quantize(np.asarray(values, dtype=np.float64))
    if overflowed.any() and fmt.overflow == "WRAP":
        largest = float(np.max(np.abs(values)))
        raise RtlflowError(
            f"{what} values reach {largest:.4g}, outside the range of {fmt} "
            f"[{fmt.min_value:g}, {fmt.max_value:g}]: give this layer a wider {what} format "
            f"in the configuration (or SAT to saturate)",
            node=op.node_name,
            op=_kind(op),
        )
    return raw


def _log2_exact(value: float, op: nn.NnOp, what: str) -> int:
    exponent = math.log2(value) if value > 0 else 0.5
    if exponent != math.floor(exponent):
        raise RtlflowError(
            f"{what} must give a power of two, got {value:g}", node=op.node_name, op=_kind(op)
        )
    return int(exponent)


def _kind(op: Operation) -> str:
    return op.name.removeprefix("nn.")


def _unsupported_reason(op: Operation) -> str:
    if isinstance(op, nn.BinaryOp) and (
        nn.constant_value(op.lhs) is not None or nn.constant_value(op.rhs) is not None
    ):
        if isinstance(op, nn.DivOp) and nn.constant_value(op.rhs) is None:
            return "division by an activation tensor is not supported"
        return "a constant that broadcasts the activation to a larger shape is not supported"
    if isinstance(op, nn.BinaryOp | nn.GemmOp):
        return f"{_kind(op)} of two activation tensors is not supported yet"
    return f"{_kind(op)} cannot be converted to fixed point"

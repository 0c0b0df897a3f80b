"""fxp: the fixed-point dataflow level.

Values are tensors of ``!fxp.fixed<W, I[, unsigned][, rounding, overflow]>`` numbers, ap_fixed
conventions: W bits in all, I integer bits including the sign bit, value = raw * 2**-(W - I). The
rounding and overflow modes of a type say how a result is brought *into* that type, as with
ap_fixed, so every op computes its exact result and then casts it into its result type.

Constants (weights, biases, scales) are stored as raw integers together with their own type.
Ops carry their parallelism: ``fxp.dense`` has the reuse factor R (R multiplications share one
multiplier; a new input every R cycles), ``fxp.softmax``, ``fxp.layer_norm`` and ``fxp.matmul``
an optional one (their rows folded onto 1/R of the logic), window ops (``fxp.conv``, ``fxp.pool``) their ``style``:
``parallel`` (every output pixel at once) or ``stream`` (one pixel per beat through line
buffers). Every op keeps the ONNX node it came from in ``node``. ``fxp.transpose``, ``fxp.pad``
and ``fxp.reshape`` move elements only; ``fxp.add`` and ``fxp.concat`` read several tensors.

Invariants checked by ``verify_``: operand and result element types are ``!fxp.fixed``; constant
shapes match the tensors they act on; the rounding / overflow names are known.

One file for the whole dialect, over 600 lines: its op definitions are declarations meant to be
read side by side (as xDSL's own dialects are), with no logic beyond their verifiers.
"""

from __future__ import annotations

from abc import ABC
from typing import NamedTuple

import numpy as np
from xdsl.dialects.builtin import (
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    f64,
    i64,
)
from xdsl.ir import (
    Attribute,
    BlockArgument,
    Dialect,
    Operation,
    ParametrizedAttribute,
    SSAValue,
    TypeAttribute,
)
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from rtlflow.dialects.arrays import int_tuple, numpy_from_dense, window_of
from rtlflow.dialects.traits import ElementWise, HasTables, RowFoldable, RowWise, Streamable
from rtlflow.numerics.broadcast import per_channel
from rtlflow.numerics.fixed_point import OVERFLOW_MODES, ROUNDING_MODES, FixedFormat, TableSpec
from rtlflow.numerics.normalization import RsqrtTable
from rtlflow.numerics.indexing import SCATTER_REDUCTIONS, IndexMap, gather_map, scatter_map
from rtlflow.numerics.windows import Window

# ----------------------------------------------------------------------------------- types


@irdl_attr_definition
class FixedType(ParametrizedAttribute, TypeAttribute):
    """A fixed-point number type: ``!fxp.fixed<16, 6>``, ``!fxp.fixed<8, 2, unsigned, RND, SAT>``."""

    name = "fxp.fixed"

    width: IntAttr
    int_bits: IntAttr
    signed: IntAttr
    rounding: StringAttr
    overflow: StringAttr

    @staticmethod
    def from_format(fmt: FixedFormat) -> FixedType:
        return FixedType(
            IntAttr(fmt.width),
            IntAttr(fmt.int_bits),
            IntAttr(int(fmt.signed)),
            StringAttr(fmt.rounding),
            StringAttr(fmt.overflow),
        )

    @property
    def format(self) -> FixedFormat:
        return FixedFormat(
            self.width.data,
            self.int_bits.data,
            bool(self.signed.data),
            self.rounding.data,  # type: ignore[arg-type]
            self.overflow.data,  # type: ignore[arg-type]
        )

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> tuple[Attribute, ...]:
        with parser.in_angle_brackets():
            width = parser.parse_integer()
            parser.parse_punctuation(",")
            int_bits = parser.parse_integer()
            signed, rounding, overflow = 1, "TRN", "WRAP"
            while parser.parse_optional_punctuation(",") is not None:
                word = parser.parse_identifier()
                if word == "unsigned":
                    signed = 0
                elif word in ROUNDING_MODES:
                    rounding = word
                elif word in OVERFLOW_MODES:
                    overflow = word
                else:
                    parser.raise_error(f"unknown fixed-point mode {word!r}")
        return (
            IntAttr(width),
            IntAttr(int_bits),
            IntAttr(signed),
            StringAttr(rounding),
            StringAttr(overflow),
        )

    def print_parameters(self, printer: Printer) -> None:
        words = [str(self.width.data), str(self.int_bits.data)]
        if not self.signed.data:
            words.append("unsigned")
        if self.rounding.data != "TRN" or self.overflow.data != "WRAP":
            words += [self.rounding.data, self.overflow.data]
        printer.print_string("<" + ", ".join(words) + ">")

    def verify(self) -> None:
        try:
            self.format  # noqa: B018 - validates width and mode names
        except ValueError as error:
            raise VerifyException(str(error)) from error


#: marks an op whose result carries a scale still to apply (a quantizer's levels, a sum of them):
#: its numbers are not the model's values (the reports' per-layer errors skip it)
CARRIED = "fxp.carried"
#: marks a dense or conv layer whose result format is the model's own quantizer (a ReLU and a
#: saturating quantizer folded into it): saturating into it is the model, not an overflow
QUANTIZED = "fxp.quantized"


def fixed_tensor(shape: tuple[int, ...] | list[int], fmt: FixedFormat) -> TensorType:
    """``tensor<shape x !fxp.fixed<...>>``."""
    return TensorType(FixedType.from_format(fmt), list(shape))


def tensor_format(value: SSAValue | Attribute) -> FixedFormat:
    """The fixed-point format of a tensor value (or tensor type)."""
    kind = value.type if isinstance(value, SSAValue) else value
    if not isinstance(kind, TensorType) or not isinstance(kind.element_type, FixedType):
        raise VerifyException(f"expected a tensor of !fxp.fixed, got {kind}")
    return kind.element_type.format


def tensor_shape(value: SSAValue) -> tuple[int, ...]:
    assert isinstance(value.type, TensorType)
    return tuple(value.type.get_shape())


def on_pixels(op: FxpOp) -> bool:
    """An element-wise op on an image ``[N, C, *spatial]``: it works on a stream's pixels."""
    return len(tensor_shape(op.input)) >= 3


class TableRow(NamedTuple):
    """A lookup table as the report lists it."""

    function: str
    low: float
    high: float
    entries: int
    format: str


def table_row(table: TableSpec) -> TableRow:
    return TableRow(table.function, table.start, table.stop, table.size, str(table.output))


def int_prop(value: int) -> IntegerAttr:
    return IntegerAttr(value, i64)


def float_prop(value: float) -> FloatAttr:
    return FloatAttr(value, f64)


# ------------------------------------------------------------------------------------- ops


class FxpOp(IRDLOperation, ABC):
    """An element of the fixed-point dataflow: one tensor in, one tensor out."""

    input = operand_def(TensorType)
    output = result_def(TensorType)
    node = prop_def(StringAttr)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, result_type: Attribute, node: str, **properties):
        super().__init__(
            operands=[input],
            result_types=[result_type],
            properties={"node": StringAttr(node), **properties},
        )

    @property
    def node_name(self) -> str:
        return self.node.data

    @property
    def input_format(self) -> FixedFormat:
        return tensor_format(self.input)

    @property
    def output_format(self) -> FixedFormat:
        return tensor_format(self.output)

    def verify_(self) -> None:
        tensor_format(self.input)
        tensor_format(self.output)


class WeightedOp(FxpOp, ABC):
    """A layer with constant weights and biases (raw integers with their types) and an
    accumulator type: dense and conv."""

    weight = prop_def(DenseIntOrFPElementsAttr)
    weight_type = prop_def(FixedType)
    bias = prop_def(DenseIntOrFPElementsAttr)
    bias_type = prop_def(FixedType)
    accumulator = prop_def(FixedType)

    @property
    def weights(self) -> np.ndarray:
        return numpy_from_dense(self.weight)

    @property
    def biases(self) -> np.ndarray:
        return numpy_from_dense(self.bias)

    def aligned(self) -> tuple[int, np.ndarray, np.ndarray]:
        """``(frac, weights, biases)``: the exact sum's fractional bits, and the constants as
        Python integers in that LSB, so that ``sum = x @ weights.T + biases`` exactly."""
        fx, fw, fb = self.input_format, self.weight_type.format, self.bias_type.format
        frac = max(fx.frac_bits + fw.frac_bits, fb.frac_bits)
        weights = self.weights.astype(object) << (frac - fx.frac_bits - fw.frac_bits)
        return frac, weights, self.biases.astype(object) << (frac - fb.frac_bits)


@irdl_op_definition
class DenseOp(WeightedOp):
    """``y[..., n] = sum_k x[..., k] * weight[n, k] + bias[n]``, computed exactly, cast to y's type.

    The exact sum is first cast into ``accumulator`` (which by default is wide enough never to
    overflow), then into the result type. ``reuse_factor`` R: each multiplier serves R products,
    one new input every R cycles.
    """

    name = "fxp.dense"
    traits = traits_def(RowWise())

    reuse_factor = prop_def(IntegerAttr)

    def verify_(self) -> None:
        super().verify_()
        n_out, n_in = self.weight.get_shape()
        if tensor_shape(self.input)[-1] != n_in or tensor_shape(self.output)[-1] != n_out:
            raise VerifyException(
                f"weight shape {n_out}x{n_in} does not match {self.input.type} -> {self.output.type}"
            )
        if tuple(self.bias.get_shape()) != (n_out,):
            raise VerifyException(f"bias must have shape ({n_out},)")
        if self.reuse_factor.value.data < 1:
            raise VerifyException("reuse_factor must be at least 1")


@irdl_op_definition
class ScaleShiftOp(FxpOp):
    """``y = x * scale + offset`` element-wise with constant tensors (broadcast to x's shape)."""

    name = "fxp.scale_shift"
    traits = traits_def(Streamable(when=lambda op: op.channelwise), RowWise(per_element=True))

    scale = prop_def(DenseIntOrFPElementsAttr)
    scale_type = prop_def(FixedType)
    offset = prop_def(DenseIntOrFPElementsAttr)
    offset_type = prop_def(FixedType)

    def aligned(self) -> tuple[int, np.ndarray, np.ndarray]:
        """``(frac, scale, offset)``: the exact result's fractional bits, and the constants as
        Python integers in that LSB, so that ``y = x * scale + offset`` exactly."""
        fx, fs, fo = self.input_format, self.scale_type.format, self.offset_type.format
        frac = max(fx.frac_bits + fs.frac_bits, fo.frac_bits)
        scale = numpy_from_dense(self.scale).astype(object) << (frac - fx.frac_bits - fs.frac_bits)
        return frac, scale, numpy_from_dense(self.offset).astype(object) << (frac - fo.frac_bits)

    @property
    def channelwise(self) -> bool:
        """One scale and one offset per channel of an image (works per pixel of a stream)."""
        shape = tensor_shape(self.input)
        return len(shape) >= 3 and all(
            per_channel(numpy_from_dense(attr), shape) is not None for attr in (self.scale, self.offset)
        )

    def verify_(self) -> None:
        super().verify_()
        shape = tensor_shape(self.input)
        for attr in (self.scale, self.offset):
            if tuple(attr.get_shape()) != shape:
                raise VerifyException(f"constant shape {attr.get_shape()} is not {shape}")


@irdl_op_definition
class ReluOp(FxpOp):
    """``y = max(x, 0)``."""

    name = "fxp.relu"
    traits = traits_def(ElementWise(), Streamable(when=on_pixels))


@irdl_op_definition
class LeakyReluOp(FxpOp):
    """``y = x if x >= 0 else alpha * x`` with alpha a constant of type ``alpha_type``."""

    name = "fxp.leaky_relu"
    traits = traits_def(ElementWise(), Streamable(when=on_pixels))

    alpha = prop_def(IntegerAttr)
    alpha_type = prop_def(FixedType)


@irdl_op_definition
class AbsOp(FxpOp):
    """``y = |x|``, cast into the result type."""

    name = "fxp.abs"
    traits = traits_def(ElementWise(), Streamable(when=on_pixels))


@irdl_op_definition
class CastOp(FxpOp):
    """``y = x`` brought into y's type with its rounding and overflow (a quantizer)."""

    name = "fxp.cast"
    traits = traits_def(ElementWise(), Streamable(when=on_pixels))


@irdl_op_definition
class ClipOp(FxpOp):
    """``y = min(max(x, low), high)``; ``low`` and ``high`` are raw values in the input's LSB."""

    name = "fxp.clip"
    traits = traits_def(ElementWise(), Streamable(when=on_pixels))

    low = prop_def(IntegerAttr)
    high = prop_def(IntegerAttr)


@irdl_op_definition
class TableOp(FxpOp):
    """``y = f(x)`` by a lookup table (see ``TableSpec``); entries are in the result type."""

    name = "fxp.table"
    traits = traits_def(ElementWise(), Streamable(when=on_pixels), HasTables())

    function = prop_def(StringAttr)
    start = prop_def(FloatAttr)
    index_bits = prop_def(IntegerAttr)
    step_log2 = prop_def(IntegerAttr)

    @property
    def table(self) -> TableSpec:
        return TableSpec(
            self.function.data,
            self.input_format.frac_bits,
            self.start.value.data,
            self.index_bits.value.data,
            self.step_log2.value.data,
            self.output_format,
        )

    def lookup_tables(self) -> list[TableRow]:
        return [table_row(self.table)]

    def verify_(self) -> None:
        super().verify_()
        try:
            self.table  # noqa: B018 - validates the table parameters
        except ValueError as error:
            raise VerifyException(str(error)) from error


@irdl_op_definition
class SoftmaxOp(FxpOp):
    """Numerically stable softmax over the last axis, by two lookup tables.

    ``d_i = max(x) - x_i``; ``e_i = exp_table(d_i)`` (entries ``exp_type``); ``s = sum e_i``;
    ``r = inv_table(s)`` (entries ``inv_type``, input range from ``inv_start``);
    ``y_i = e_i * r`` cast to the result type.
    """

    name = "fxp.softmax"
    traits = traits_def(RowFoldable(), HasTables(), RowWise())

    #: R > 1: the rows are folded onto 1/R of the logic, one inference every R cycles
    reuse_factor = opt_prop_def(IntegerAttr)

    exp_index_bits = prop_def(IntegerAttr)
    exp_step_log2 = prop_def(IntegerAttr)
    exp_type = prop_def(FixedType)
    inv_start = prop_def(FloatAttr)
    inv_index_bits = prop_def(IntegerAttr)
    inv_step_log2 = prop_def(IntegerAttr)
    inv_type = prop_def(FixedType)

    @property
    def exp_table(self) -> TableSpec:
        return TableSpec(
            "exp_neg",
            self.input_format.frac_bits,
            0.0,
            self.exp_index_bits.value.data,
            self.exp_step_log2.value.data,
            self.exp_type.format,
        )

    @property
    def inv_table(self) -> TableSpec:
        return TableSpec(
            "reciprocal",
            self.exp_type.format.frac_bits,
            self.inv_start.value.data,
            self.inv_index_bits.value.data,
            self.inv_step_log2.value.data,
            self.inv_type.format,
        )

    def lookup_tables(self) -> list[TableRow]:
        return [table_row(self.exp_table), table_row(self.inv_table)]

    def verify_(self) -> None:
        super().verify_()
        if self.exp_type.format.signed or self.inv_type.format.signed:
            raise VerifyException("softmax table types must be unsigned")
        try:
            self.exp_table, self.inv_table  # noqa: B018 - validates the table parameters
        except ValueError as error:
            raise VerifyException(str(error)) from error


@irdl_op_definition
class LayerNormOp(FxpOp):
    """Layer normalisation over the trailing axes from ``axis`` (n elements per row), exact up
    to one table (``rtlflow.numerics.normalization``):

    ``d_j = n x_j - sum(x)`` (the centred values, n times too large, exact);
    ``s = sum d_j^2`` (exact; n^3 times the variance);
    ``r = rsqrt_table(s)``, about ``1 / (n sqrt(s / n^3 + epsilon))``, read in block floating
    point from ``2**index_bits`` entries of ``table_type`` (unsigned);
    ``y_j = d_j * r * scale_j + bias_j`` exact, cast into y's type. ``aligned`` gives scale and
    bias as integers in the LSB of that last sum.
    """

    name = "fxp.layer_norm"
    traits = traits_def(RowFoldable(), HasTables(), RowWise(width=lambda op: op.count))

    #: R > 1: the rows are folded onto 1/R of the logic, one inference every R cycles
    reuse_factor = opt_prop_def(IntegerAttr)

    axis = prop_def(IntegerAttr)
    epsilon = prop_def(FloatAttr)
    scale = prop_def(DenseIntOrFPElementsAttr)
    scale_type = prop_def(FixedType)
    bias = prop_def(DenseIntOrFPElementsAttr)
    bias_type = prop_def(FixedType)
    index_bits = prop_def(IntegerAttr)
    table_type = prop_def(FixedType)

    @property
    def count(self) -> int:
        return int(np.prod(tensor_shape(self.input)[self.axis.value.data :]))

    @property
    def table(self) -> RsqrtTable:
        fx, n = self.input_format, self.count
        spread = fx.max_raw - fx.min_raw  # a variance is at most a quarter of the squared spread
        return RsqrtTable(
            n,
            self.epsilon.value.data,
            fx.frac_bits,
            n**3 * spread * spread // 4,
            self.index_bits.value.data,
            self.table_type.format,
        )

    def lookup_tables(self) -> list[TableRow]:
        table = self.table  # over the variance: s / n^3 in the input's squared LSB
        high = table.largest / table.count**3 * 2.0 ** (-2 * table.input_frac)
        return [TableRow("rsqrt", 0.0, high, table.size, str(table.output))]

    def aligned(self) -> tuple[int, np.ndarray, np.ndarray]:
        """``(frac, scale, bias)``: the fractional bits of ``d * r * scale + bias`` and the
        constants as Python integers in that LSB."""
        product = self.input_format.frac_bits + self.table.frac_bits
        product += self.scale_type.format.frac_bits
        fb = self.bias_type.format.frac_bits
        frac = max(product, fb)
        scale = numpy_from_dense(self.scale).astype(object) << (frac - product)
        return frac, scale, numpy_from_dense(self.bias).astype(object) << (frac - fb)

    def verify_(self) -> None:
        super().verify_()
        if tensor_shape(self.input) != tensor_shape(self.output):
            raise VerifyException("layer_norm keeps its input's shape")
        for attr in (self.scale, self.bias):
            if tuple(attr.get_shape()) != (self.count,):
                raise VerifyException(f"scale and bias need {self.count} values")
        try:
            self.table  # noqa: B018 - validates the table parameters
        except ValueError as error:
            raise VerifyException(str(error)) from error


@irdl_op_definition
class ReshapeOp(FxpOp):
    """The same elements in C order under another shape (no computation)."""

    name = "fxp.reshape"

    def verify_(self) -> None:
        super().verify_()
        if self.input_format != self.output_format:
            raise VerifyException("reshape cannot change the number format")
        if np.prod(tensor_shape(self.input)) != np.prod(tensor_shape(self.output)):
            raise VerifyException("reshape must keep the number of elements")


def channels_first_view(op: Operation) -> bool:
    """Whether ``op`` views a channels-last tensor ``[1, *spatial, C]`` as the channels-first
    ``[1, C, *spatial]`` the window ops read (Keras converters write it at the input: a
    transpose, or for one channel a reshape): pixel by pixel, the same values, so a pixel
    stream passes it unchanged."""
    if isinstance(op, TransposeOp):
        rank = len(tensor_shape(op.input))
        return rank >= 3 and op.permutation == (0, rank - 1, *range(1, rank - 1))
    if isinstance(op, ReshapeOp):
        before, after = tensor_shape(op.input), tensor_shape(op.output)
        return (
            len(before) >= 3 and before[0] == 1 and before[-1] == 1
            and tuple(after) == (1, 1, *before[1:-1])
        )  # fmt: skip
    return False


def input_view(argument: SSAValue) -> Operation | None:
    """The channels-first view (``channels_first_view``) that is a design input's only reader,
    if it has one: a stream then starts at the input and passes the view."""
    uses = list(argument.uses)
    if len(uses) == 1 and channels_first_view(uses[0].operation):
        return uses[0].operation
    return None


def reads_the_input(value: SSAValue) -> bool:
    """Whether ``value`` is a design's only input, or that input's channels-first view (or the
    wiring the view becomes): a stream that can be held while a padded convolution's border is
    inserted into it."""
    owner = value.owner
    if isinstance(owner, ReshapeOp) or isinstance(owner, Operation) and channels_first_view(owner):
        value = owner.operands[0]  # type: ignore[union-attr]
    return isinstance(value, BlockArgument) and len(value.block.args) == 1


class WindowOp(FxpOp, ABC):
    """Convolution and pooling geometry over ``[N, C, *spatial]`` (see ``rtlflow.numerics.windows``)."""

    traits = traits_def(Streamable(when=lambda op: op.style.data == "stream"))

    kernel = prop_def(DenseArrayBase)
    strides = prop_def(DenseArrayBase)
    pads = prop_def(DenseArrayBase)
    dilations = prop_def(DenseArrayBase)
    style = prop_def(StringAttr)

    @property
    def can_stream(self) -> bool:
        """Whether the streaming architecture builds this window: 1-D or 2-D, unpadded or a
        zero-padded convolution (its stream carries the padding as zero beats,
        ``Window.streamed``)."""
        window = self.window
        return window.rank <= 2 and (not window.padded or isinstance(self, ConvOp))

    @property
    def window(self) -> Window:
        return window_of(self, tensor_shape(self.input), tensor_shape(self.output))

    def verify_(self) -> None:
        super().verify_()
        if self.style.data not in STYLES:
            raise VerifyException(f"style must be one of {', '.join(STYLES)}")


#: architectures of window ops
STYLES = ("parallel", "stream")


@irdl_op_definition
class ConvOp(WeightedOp, WindowOp):
    """``y[co, p] = sum_{ci, t} x[g(co) * Cg + ci, tap(p, t)] * weight[co, ci, t] + bias[co]``
    (padding taps read zero), computed exactly, cast into ``accumulator`` then into y's type.
    ``aligned`` gives the weights as ``[C_out, C_in / group, *kernel]``. ``reuse_factor`` R
    (parallel style): the output positions fold onto ceil(positions / R) copies of one
    position's logic, one new input every R cycles (or every "positions" cycles, when fewer)."""

    name = "fxp.conv"

    group = prop_def(IntegerAttr)
    reuse_factor = opt_prop_def(IntegerAttr)

    def verify_(self) -> None:
        super().verify_()
        if self.reuse_factor is not None and self.reuse_factor.value.data < 1:
            raise VerifyException("reuse_factor must be at least 1")
        c_in, c_out = tensor_shape(self.input)[1], tensor_shape(self.output)[1]
        w = tuple(self.weight.get_shape())
        if w[0] != c_out or w[1] * self.group.value.data != c_in:
            raise VerifyException(f"weight shape {list(w)} does not fit {c_in} -> {c_out} channels")


@irdl_op_definition
class PoolOp(WindowOp):
    """Per-channel max or average over each window.

    max: the largest input tap (padding never wins), cast into y's type. average: the exact sum
    of the taps times ``scale[p]`` (the reciprocal of position p's tap count, a constant of type
    ``scale_type``), cast into y's type.
    """

    name = "fxp.pool"

    kind = prop_def(StringAttr)
    scale = prop_def(DenseIntOrFPElementsAttr)
    scale_type = prop_def(FixedType)

    @property
    def scales(self) -> np.ndarray:
        return numpy_from_dense(self.scale)

    def verify_(self) -> None:
        super().verify_()
        if self.kind.data not in ("max", "average"):
            raise VerifyException("pool kind must be max or average")
        if tuple(self.scale.get_shape()) != (self.window.positions,):
            raise VerifyException("one scale per output position")


@irdl_op_definition
class TransposeOp(FxpOp):
    """``numpy.transpose(x, perm)``: wiring."""

    name = "fxp.transpose"

    perm = prop_def(DenseArrayBase)

    @property
    def permutation(self) -> tuple[int, ...]:
        return int_tuple(self.perm)


@irdl_op_definition
class PadOp(FxpOp):
    """Zero padding (begins of every axis, then ends): wiring and constant zeros. On a pixel
    stream (padding only the spatial axes of an image): the stream with the border's zero beats
    inserted, one beat a cycle (``rtlflow.rtl.stream``)."""

    name = "fxp.pad"

    traits = traits_def(Streamable(when=lambda op: op.spatial_pads is not None))

    pads = prop_def(DenseArrayBase)

    @property
    def amounts(self) -> tuple[int, ...]:
        return int_tuple(self.pads)

    @property
    def spatial_pads(self) -> tuple[int, ...] | None:
        """The pads of the spatial axes (begins, then ends) of an image ``[N, C, *spatial]``
        padded there only (None otherwise)."""
        amounts, rank = self.amounts, len(tensor_shape(self.input))
        if rank < 3 or any(amounts[a] or amounts[rank + a] for a in (0, 1)):
            return None
        return amounts[2:rank] + amounts[rank + 2 :]


class MultiInputOp(IRDLOperation, ABC):
    """An fxp op reading several tensors."""

    inputs = var_operand_def(TensorType)
    output = result_def(TensorType)
    node = prop_def(StringAttr)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$inputs attr-dict `:` type($inputs) `->` type($output)"

    def __init__(self, inputs: list[SSAValue], result_type: Attribute, node: str, **properties):
        super().__init__(
            operands=[inputs],
            result_types=[result_type],
            properties={"node": StringAttr(node), **properties},
        )

    @property
    def node_name(self) -> str:
        return self.node.data

    @property
    def input_formats(self) -> list[FixedFormat]:
        return [tensor_format(v) for v in self.inputs]

    @property
    def input_format(self) -> FixedFormat:
        return self.input_formats[0]

    @property
    def output_format(self) -> FixedFormat:
        return tensor_format(self.output)

    def verify_(self) -> None:
        for value in (*self.inputs, self.output):
            tensor_format(value)


@irdl_op_definition
class AddOp(MultiInputOp):
    """``y = a + b`` element-wise (same shapes), exact, cast into y's type."""

    name = "fxp.add"
    traits = traits_def(RowWise(per_element=True))

    def verify_(self) -> None:
        super().verify_()
        shapes = {tensor_shape(v) for v in (*self.inputs, self.output)}
        if len(self.inputs) != 2 or len(shapes) != 1:
            raise VerifyException("fxp.add takes two tensors of the result's shape")


@irdl_op_definition
class ConcatOp(MultiInputOp):
    """Concatenation along ``axis``, each input cast into y's type."""

    name = "fxp.concat"

    axis = prop_def(IntegerAttr)


@irdl_op_definition
class TakeOp(FxpOp):
    """``y.flat[i] = x.flat[sources[i]]``, or where ``sources[i]`` is -1 the next raw constant of
    ``fill`` (0 without ``fill``): elements moved by indices known at compile time (Gather with
    constant indices, Expand, a concatenation with constants such as a class token). Wiring."""

    name = "fxp.take"

    sources = prop_def(DenseArrayBase)
    fill = opt_prop_def(DenseArrayBase)

    @property
    def source_list(self) -> tuple[int, ...]:
        return int_tuple(self.sources)

    @property
    def fill_list(self) -> tuple[int, ...]:
        return () if self.fill is None else int_tuple(self.fill)

    def verify_(self) -> None:
        super().verify_()
        if len(self.source_list) != int(np.prod(tensor_shape(self.output))):
            raise VerifyException("one source per result element")
        if self.input_format != self.output_format:
            raise VerifyException("take cannot change the number format")


@irdl_op_definition
class ThresholdOp(FxpOp):
    """``y.flat[i] = base[i] + #{k: x.flat[i] >= thresholds[i, k]}`` (raw values): a quantizer
    whose decisions do not fall on the input's grid (a scale that is not a power of two, a zero
    point, a bipolar sign), as the steps of a non-decreasing function of the raw input. The
    thresholds of each element are non-decreasing and lie in the input's raw range (a value
    above it is never reached); the result counts levels, in its own format's LSB."""

    name = "fxp.threshold"
    traits = traits_def(Streamable(when=lambda op: op.channelwise))

    thresholds = prop_def(DenseIntOrFPElementsAttr)
    base = prop_def(DenseIntOrFPElementsAttr)

    @property
    def threshold_table(self) -> np.ndarray:
        return numpy_from_dense(self.thresholds)

    @property
    def bases(self) -> np.ndarray:
        return numpy_from_dense(self.base)

    @property
    def channelwise(self) -> bool:
        """Every pixel of a channel has the same thresholds and base (works per pixel of a
        stream)."""
        shape = tensor_shape(self.input)
        if len(shape) < 3:
            return False
        table = self.threshold_table.reshape(shape[1], -1, self.threshold_table.shape[1])
        bases = self.bases.reshape(shape[1], -1)
        return bool(np.all(table == table[:, :1]) and np.all(bases == bases[:, :1]))

    def verify_(self) -> None:
        super().verify_()
        elements = int(np.prod(tensor_shape(self.input)))
        table, bases = self.threshold_table, self.bases
        if table.ndim != 2 or table.shape[0] != elements or bases.shape != (elements,):
            raise VerifyException(f"thresholds must be {elements} x levels, base one per element")
        if table.shape[1] and np.any(np.diff(table, axis=1) < 0):
            raise VerifyException("thresholds must be non-decreasing")
        fx, fy = self.input_format, self.output_format
        if table.size and (table.min() < fx.min_raw or table.max() > fx.max_raw + 1):
            raise VerifyException("thresholds must lie in the input's raw range")
        if bases.min() < fy.min_raw or bases.max() + table.shape[1] > fy.max_raw:
            raise VerifyException(f"the levels do not fit {fy}")


def index_format_check(value: SSAValue) -> None:
    """Index tensors hold integers: ``!fxp.fixed<W, W>``."""
    if tensor_format(value).frac_bits != 0:
        raise VerifyException(f"indices must have an integer format, got {tensor_format(value)}")


@irdl_op_definition
class GatherOp(MultiInputOp):
    """Operands ``data, indices``: ONNX Gather (``kind`` gather) or GatherElements (elements)
    along ``axis`` with indices known at run time; an index outside the axis reads 0 (see
    ``rtlflow.numerics.indexing``). The result has the data's format."""

    name = "fxp.gather"

    axis = prop_def(IntegerAttr)
    kind = prop_def(StringAttr)

    @property
    def index_map(self) -> IndexMap:
        data, indices = (tensor_shape(v) for v in self.inputs)
        return gather_map(data, indices, self.axis.value.data, self.kind.data)

    def verify_(self) -> None:
        super().verify_()
        if len(self.inputs) != 2:
            raise VerifyException("fxp.gather takes data and indices")
        index_format_check(self.inputs[1])
        if self.input_formats[0] != self.output_format:
            raise VerifyException("gather cannot change the number format")


@irdl_op_definition
class ScatterOp(MultiInputOp):
    """Operands ``indices, updates[, data]``: ONNX ScatterND (``kind`` nd) or ScatterElements
    (elements) with indices known at run time. The result starts from ``data`` (or, without that
    operand, the constant ``initial``: raw integers in the result's LSB); each update replaces
    (``reduction`` none; the last one wins) or is added to (add) the element its indices select,
    exactly, then the result is cast into y's type. Updates with an index outside its axis are
    dropped."""

    name = "fxp.scatter"

    axis = prop_def(IntegerAttr)
    kind = prop_def(StringAttr)
    reduction = prop_def(StringAttr)
    initial = opt_prop_def(DenseIntOrFPElementsAttr)

    @property
    def index_map(self) -> IndexMap:
        indices = tensor_shape(self.inputs[0])
        return scatter_map(tensor_shape(self.output), indices, self.axis.value.data, self.kind.data)

    @property
    def initial_values(self) -> np.ndarray | None:
        return None if self.initial is None else numpy_from_dense(self.initial)

    def verify_(self) -> None:
        super().verify_()
        if len(self.inputs) not in (2, 3) or (len(self.inputs) == 3) == (self.initial is not None):
            raise VerifyException("fxp.scatter takes indices, updates and data or initial")
        index_format_check(self.inputs[0])
        if self.reduction.data not in SCATTER_REDUCTIONS:
            raise VerifyException(f"reduction must be one of {', '.join(SCATTER_REDUCTIONS)}")


@irdl_op_definition
class MatMulOp(MultiInputOp):
    """Operands ``a, b``: ``y = a @ b`` (numpy matmul, both known at run time), exact, cast
    into y's type."""

    name = "fxp.matmul"
    traits = traits_def(RowFoldable())

    #: R > 1: the result rows are folded onto 1/R of the logic, one inference every R cycles
    reuse_factor = opt_prop_def(IntegerAttr)

    def verify_(self) -> None:
        super().verify_()
        if len(self.inputs) != 2:
            raise VerifyException("fxp.matmul takes two tensors")


Fxp = Dialect(
    "fxp",
    [
        DenseOp,
        ScaleShiftOp,
        ReluOp,
        LeakyReluOp,
        AbsOp,
        ClipOp,
        CastOp,
        ThresholdOp,
        TableOp,
        SoftmaxOp,
        LayerNormOp,
        ReshapeOp,
        ConvOp,
        PoolOp,
        TransposeOp,
        PadOp,
        AddOp,
        ConcatOp,
        TakeOp,
        GatherOp,
        ScatterOp,
        MatMulOp,
    ],
    [FixedType],
)

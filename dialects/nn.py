"""nn: the tensor level, ONNX semantics on float tensors.

The importer turns each ONNX node that computes on activations into one op here (nodes whose
inputs are all compile-time constants are folded during import, so shape subgraphs never appear).
All shapes are static. Operand and result types are ``tensor<... x f32>`` (``i64`` for integer
tensors). Weights are ``nn.constant`` ops until the canonicalisation passes fold them into
``nn.dense``, the canonical form of a fully connected layer: ``y = x @ weight.T + bias`` over the
last axis, and ``nn.conv`` (weights held by the op). Window ops (conv, pool) work on ``[N, C,
*spatial]`` tensors with explicit pads (``auto_pad`` and ``ceil_mode`` are resolved on import). Every op records the ONNX node it came from in ``node`` (used in messages and reports).

One file for the whole dialect, over 600 lines: its op definitions are declarations meant to be
read side by side (as xDSL's own dialects are), with no logic beyond their verifiers.
"""

from __future__ import annotations

from abc import ABC

import numpy as np
from xdsl.dialects.builtin import (
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    f32,
    f64,
    i64,
)
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from rtlflow.dialects.arrays import (
    dense_from_numpy,
    int_array,
    int_tuple,
    numpy_from_dense,
    window_of,
    window_properties,
)
from rtlflow.dialects.traits import (
    BoundedResult,
    ElementWise,
    KeepsGrid,
    MovesData,
)
from rtlflow.numerics.indexing import SCATTER_REDUCTIONS, gather_shape, scatter_updates_shape
from rtlflow.numerics.windows import Window


def constant_value(value: SSAValue | None) -> np.ndarray | None:
    """The array of a value defined by ``nn.constant``, else None."""
    if value is not None and isinstance(value.owner, ConstantOp):
        return value.owner.array.astype(np.float64)
    return None


def shape_of(value: SSAValue) -> tuple[int, ...]:
    """Static shape of a tensor value."""
    assert isinstance(value.type, TensorType), value.type
    return tuple(value.type.get_shape())


class NnOp(IRDLOperation, ABC):
    """An op converted from one ONNX node (side-effect free, so unused ops are dead code)."""

    node = prop_def(StringAttr)
    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    @property
    def node_name(self) -> str:
        return self.node.data


@irdl_op_definition
class ConstantOp(NnOp):
    """A compile-time constant tensor (weights, biases, folded shape computations)."""

    name = "nn.constant"

    value = prop_def(DenseIntOrFPElementsAttr)
    output = result_def(TensorType)

    assembly_format = "attr-dict `:` type($output)"

    def __init__(self, array: np.ndarray, node: str):
        attr = dense_from_numpy(array)
        super().__init__(
            result_types=[attr.type], properties={"value": attr, "node": StringAttr(node)}
        )

    @property
    def array(self) -> np.ndarray:
        return numpy_from_dense(self.value)

    def verify_(self) -> None:
        if self.value.type != self.output.type:
            raise VerifyException("constant value and result types differ")


class UnaryOp(NnOp, ABC):
    """One tensor in, one tensor out."""

    input = operand_def(TensorType)
    output = result_def(TensorType)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, result_type: Attribute, node: str, **properties):
        super().__init__(
            operands=[input],
            result_types=[result_type],
            properties={"node": StringAttr(node), **properties},
        )


class BinaryOp(NnOp, ABC):
    """Element-wise op with numpy (multidirectional) broadcasting."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    output = result_def(TensorType)

    assembly_format = (
        "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($output)"
    )

    def __init__(self, lhs: SSAValue, rhs: SSAValue, result_type: Attribute, node: str):
        super().__init__(
            operands=[lhs, rhs], result_types=[result_type], properties={"node": StringAttr(node)}
        )

    def verify_(self) -> None:
        try:
            shape = np.broadcast_shapes(shape_of(self.lhs), shape_of(self.rhs))
        except ValueError as error:
            raise VerifyException(f"operands do not broadcast: {error}") from error
        if tuple(shape) != shape_of(self.output):
            raise VerifyException(f"result shape must be the broadcast shape {shape}")


@irdl_op_definition
class AddOp(BinaryOp):
    name = "nn.add"


@irdl_op_definition
class SubOp(BinaryOp):
    name = "nn.sub"


@irdl_op_definition
class MulOp(BinaryOp):
    name = "nn.mul"


@irdl_op_definition
class DivOp(BinaryOp):
    name = "nn.div"


@irdl_op_definition
class MatMulOp(BinaryOp):
    """numpy ``matmul`` semantics."""

    name = "nn.matmul"

    def verify_(self) -> None:
        pass


@irdl_op_definition
class GemmOp(NnOp):
    """ONNX Gemm: ``alpha * op(a) @ op(b) + beta * c``, op = transpose when ``trans_*`` is 1."""

    name = "nn.gemm"

    a = operand_def(TensorType)
    b = operand_def(TensorType)
    c = opt_operand_def(TensorType)
    output = result_def(TensorType)
    alpha = prop_def(FloatAttr)
    beta = prop_def(FloatAttr)
    trans_a = prop_def(IntegerAttr)
    trans_b = prop_def(IntegerAttr)

    assembly_format = (
        "$a `,` $b (`,` $c^)? attr-dict `:` type($a) `,` type($b) (`,` type($c)^)? "
        "`->` type($output)"
    )

    def __init__(
        self,
        a: SSAValue,
        b: SSAValue,
        c: SSAValue | None,
        result_type: Attribute,
        node: str,
        *,
        alpha: float = 1.0,
        beta: float = 1.0,
        trans_a: int = 0,
        trans_b: int = 0,
    ):
        super().__init__(
            operands=[a, b, c],
            result_types=[result_type],
            properties={
                "node": StringAttr(node),
                "alpha": FloatAttr(alpha, f64),
                "beta": FloatAttr(beta, f64),
                "trans_a": IntegerAttr(trans_a, i64),
                "trans_b": IntegerAttr(trans_b, i64),
            },
        )


@irdl_op_definition
class DenseOp(UnaryOp):
    """A fully connected layer over the last axis: ``y = x @ weight.T + bias``."""

    name = "nn.dense"

    weight = prop_def(DenseIntOrFPElementsAttr)
    bias = prop_def(DenseIntOrFPElementsAttr)

    @staticmethod
    def from_arrays(
        input: SSAValue, weight: np.ndarray, bias: np.ndarray, node: str
    ) -> DenseOp:
        weight = np.asarray(weight, dtype=np.float32)
        shape = (*shape_of(input)[:-1], weight.shape[0])
        element = input.type.element_type  # type: ignore[attr-defined]
        return DenseOp(
            input,
            TensorType(element, shape),
            node,
            weight=dense_from_numpy(weight),
            bias=dense_from_numpy(np.asarray(bias, dtype=np.float32)),
        )

    @property
    def weights(self) -> np.ndarray:
        return numpy_from_dense(self.weight)

    @property
    def biases(self) -> np.ndarray:
        return numpy_from_dense(self.bias)

    def verify_(self) -> None:
        n_out, n_in = self.weight.get_shape()
        if shape_of(self.input)[-1] != n_in or shape_of(self.output)[-1] != n_out:
            raise VerifyException("weight shape does not match input/output shapes")
        if tuple(self.bias.get_shape()) != (n_out,):
            raise VerifyException(f"bias must have shape ({n_out},)")


@irdl_op_definition
class ScaleShiftOp(UnaryOp):
    """Element-wise ``y = x * scale + shift`` with constants of the input's shape (the canonical
    form of Add/Sub/Mul/Div by constants that could not fold into a dense layer)."""

    name = "nn.scale_shift"

    scale = prop_def(DenseIntOrFPElementsAttr)
    shift = prop_def(DenseIntOrFPElementsAttr)

    @staticmethod
    def from_arrays(input: SSAValue, scale: np.ndarray, shift: np.ndarray, node: str):
        shape = shape_of(input)
        return ScaleShiftOp(
            input,
            input.type,
            node,
            scale=dense_from_numpy(np.broadcast_to(np.asarray(scale, np.float32), shape)),
            shift=dense_from_numpy(np.broadcast_to(np.asarray(shift, np.float32), shape)),
        )

    @property
    def scales(self) -> np.ndarray:
        return numpy_from_dense(self.scale)

    @property
    def shifts(self) -> np.ndarray:
        return numpy_from_dense(self.shift)

    def verify_(self) -> None:
        shape = shape_of(self.input)
        if shape_of(self.output) != shape:
            raise VerifyException("scale_shift keeps its input's shape")
        for attr in (self.scale, self.shift):
            if tuple(attr.get_shape()) != shape:
                raise VerifyException(f"constant shape {tuple(attr.get_shape())} is not {shape}")


@irdl_op_definition
class ReluOp(UnaryOp):
    name = "nn.relu"
    traits = traits_def(ElementWise(), KeepsGrid())


@irdl_op_definition
class LeakyReluOp(UnaryOp):
    name = "nn.leaky_relu"
    traits = traits_def(ElementWise())

    alpha = prop_def(FloatAttr)


@irdl_op_definition
class AbsOp(UnaryOp):
    """``|x|``."""

    name = "nn.abs"
    traits = traits_def(ElementWise())


@irdl_op_definition
class HardSigmoidOp(UnaryOp):
    """``max(0, min(1, alpha * x + beta))`` (ONNX HardSigmoid)."""

    name = "nn.hard_sigmoid"
    traits = traits_def(ElementWise(), BoundedResult())

    alpha = prop_def(FloatAttr)
    beta = prop_def(FloatAttr)


@irdl_op_definition
class SigmoidOp(UnaryOp):
    name = "nn.sigmoid"
    traits = traits_def(ElementWise(), BoundedResult())


@irdl_op_definition
class TanhOp(UnaryOp):
    name = "nn.tanh"
    traits = traits_def(ElementWise(), BoundedResult())


@irdl_op_definition
class ErfOp(UnaryOp):
    name = "nn.erf"
    traits = traits_def(ElementWise(), BoundedResult())


@irdl_op_definition
class ExpOp(UnaryOp):
    """``exp(x)`` (a lookup table at the fxp level)."""

    name = "nn.exp"
    traits = traits_def(ElementWise())


@irdl_op_definition
class SoftplusOp(UnaryOp):
    """``log(1 + exp(x))``."""

    name = "nn.softplus"
    traits = traits_def(ElementWise())


@irdl_op_definition
class EluOp(UnaryOp):
    """``gamma * (x if x > 0 else alpha * (exp(x) - 1))``: ONNX Elu (gamma 1) and Selu."""

    name = "nn.elu"
    traits = traits_def(ElementWise())

    alpha = prop_def(FloatAttr)
    gamma = prop_def(FloatAttr)


@irdl_op_definition
class ClipOp(UnaryOp):
    """``min(max(x, low), high)``; a missing bound is unbounded."""

    name = "nn.clip"
    traits = traits_def(ElementWise())

    low = opt_prop_def(FloatAttr)
    high = opt_prop_def(FloatAttr)


@irdl_op_definition
class SoftmaxOp(UnaryOp):
    """Softmax over one axis (ONNX opset >= 13 semantics; older files are rewritten on import)."""

    name = "nn.softmax"
    traits = traits_def(BoundedResult())

    axis = prop_def(IntegerAttr)


@irdl_op_definition
class ReshapeOp(UnaryOp):
    """The same elements in C order under the result's static shape."""

    name = "nn.reshape"
    traits = traits_def(MovesData(), KeepsGrid())

    def verify_(self) -> None:
        if np.prod(shape_of(self.input)) != np.prod(shape_of(self.output)):
            raise VerifyException("reshape must keep the number of elements")


class WindowOp(UnaryOp, ABC):
    """Shared geometry of convolution and pooling over ``[N, C, *spatial]``."""

    kernel = prop_def(DenseArrayBase)
    strides = prop_def(DenseArrayBase)
    pads = prop_def(DenseArrayBase)
    dilations = prop_def(DenseArrayBase)

    @property
    def window(self) -> Window:
        return window_of(self, shape_of(self.input), shape_of(self.output))

    def verify_(self) -> None:
        rank = len(shape_of(self.input)) - 2
        if rank < 1:
            raise VerifyException("window ops need [N, C, spatial...] tensors")
        for name, size in (("kernel", rank), ("strides", rank), ("dilations", rank), ("pads", 2 * rank)):
            if len(getattr(self, name).get_values()) != size:
                raise VerifyException(f"{name} must have {size} entries")


@irdl_op_definition
class ConvOp(WindowOp):
    """ONNX Conv with constant weights ``[C_out, C_in / group, *kernel]`` and bias ``[C_out]``."""

    name = "nn.conv"

    weight = prop_def(DenseIntOrFPElementsAttr)
    bias = prop_def(DenseIntOrFPElementsAttr)
    group = prop_def(IntegerAttr)

    @staticmethod
    def from_arrays(
        input: SSAValue, weight: np.ndarray, bias: np.ndarray, window: Window, group: int, node: str
    ) -> ConvOp:
        shape = (shape_of(input)[0], weight.shape[0], *window.output_shape)
        return ConvOp(
            input,
            TensorType(f32, shape),
            node,
            weight=dense_from_numpy(np.asarray(weight, np.float32)),
            bias=dense_from_numpy(np.asarray(bias, np.float32)),
            group=IntegerAttr(group, i64),
            **window_properties(window),
        )

    @property
    def weights(self) -> np.ndarray:
        return numpy_from_dense(self.weight)

    @property
    def biases(self) -> np.ndarray:
        return numpy_from_dense(self.bias)

    def verify_(self) -> None:
        super().verify_()
        c_out, c_in = shape_of(self.output)[1], shape_of(self.input)[1]
        group = self.group.value.data
        w = tuple(self.weight.get_shape())
        if c_in % group or c_out % group or w[0] != c_out or w[1] * group != c_in:
            raise VerifyException(f"weight shape {list(w)} does not fit {c_in} -> {c_out} channels in {group} groups")
        if tuple(self.bias.get_shape()) != (c_out,):
            raise VerifyException(f"bias must have shape ({c_out},)")


@irdl_op_definition
class PoolOp(WindowOp):
    """Max or average pooling per channel (``kind`` max | average). Padding never wins a max;
    an average divides by the taps inside the input, plus the padding ones when
    ``count_include_pad``."""

    name = "nn.pool"
    traits = traits_def(KeepsGrid(when=lambda op: op.kind.data == "max"))

    kind = prop_def(StringAttr)
    count_include_pad = prop_def(IntegerAttr)

    @staticmethod
    def from_window(input: SSAValue, kind: str, window: Window, count_include_pad: bool, node: str):
        shape = (*shape_of(input)[:2], *window.output_shape)
        return PoolOp(
            input,
            TensorType(f32, shape),
            node,
            kind=StringAttr(kind),
            count_include_pad=IntegerAttr(int(count_include_pad), i64),
            **window_properties(window),
        )

    def verify_(self) -> None:
        super().verify_()
        if self.kind.data not in ("max", "average"):
            raise VerifyException("pool kind must be max or average")


@irdl_op_definition
class TransposeOp(UnaryOp):
    """``numpy.transpose(x, perm)``."""

    name = "nn.transpose"
    traits = traits_def(MovesData(), KeepsGrid())

    perm = prop_def(DenseArrayBase)

    @staticmethod
    def from_perm(x: SSAValue, perm: tuple[int, ...], node: str) -> TransposeOp:
        shape = shape_of(x)
        element = x.type.element_type  # type: ignore[attr-defined]
        result = TensorType(element, [shape[p] for p in perm])
        return TransposeOp(x, result, node, perm=int_array([int(p) for p in perm]))

    @property
    def permutation(self) -> tuple[int, ...]:
        return int_tuple(self.perm)


@irdl_op_definition
class ConcatOp(NnOp):
    """Concatenation of activation tensors along ``axis``."""

    name = "nn.concat"

    inputs = var_operand_def(TensorType)
    output = result_def(TensorType)
    axis = prop_def(IntegerAttr)

    assembly_format = "$inputs attr-dict `:` type($inputs) `->` type($output)"

    def __init__(self, inputs: list[SSAValue], result_type: Attribute, axis: int, node: str):
        super().__init__(
            operands=[inputs],
            result_types=[result_type],
            properties={"node": StringAttr(node), "axis": IntegerAttr(axis, i64)},
        )


@irdl_op_definition
class PadOp(UnaryOp):
    """Zero padding: ``pads`` holds the begins of every axis, then the ends."""

    name = "nn.pad"
    traits = traits_def(MovesData(), KeepsGrid())

    pads = prop_def(DenseArrayBase)

    @property
    def amounts(self) -> tuple[int, ...]:
        return int_tuple(self.pads)



@irdl_op_definition
class LayerNormOp(UnaryOp):
    """ONNX LayerNormalization over the trailing axes from ``axis``: ``y = (x - mean) /
    sqrt(variance + epsilon) * scale + bias``, mean and (biased) variance over those axes;
    ``scale`` and ``bias`` hold one value per normalised element."""

    name = "nn.layer_norm"

    scale = prop_def(DenseIntOrFPElementsAttr)
    bias = prop_def(DenseIntOrFPElementsAttr)
    epsilon = prop_def(FloatAttr)
    axis = prop_def(IntegerAttr)

    @property
    def scales(self) -> np.ndarray:
        return numpy_from_dense(self.scale)

    @property
    def biases(self) -> np.ndarray:
        return numpy_from_dense(self.bias)

    @property
    def count(self) -> int:
        """Elements normalised together."""
        return int(np.prod(shape_of(self.input)[self.axis.value.data :]))

    def verify_(self) -> None:
        if shape_of(self.output) != shape_of(self.input):
            raise VerifyException("layer_norm keeps its input's shape")
        if self.scales.size != self.count or self.biases.size != self.count:
            raise VerifyException(f"scale and bias need {self.count} values")


@irdl_op_definition
class ExpandOp(UnaryOp):
    """ONNX Expand: the input broadcast (numpy rules) to the result's shape."""

    name = "nn.expand"
    traits = traits_def(MovesData())


@irdl_op_definition
class GatherOp(NnOp):
    """ONNX Gather (``kind`` gather) or GatherElements (elements) along ``axis``, the indices
    a tensor known at run time or a constant (see ``rtlflow.numerics.indexing`` for the semantics,
    including indices outside the axis)."""

    name = "nn.gather"
    traits = traits_def(MovesData())

    data = operand_def(TensorType)
    indices = operand_def(TensorType)
    output = result_def(TensorType)
    axis = prop_def(IntegerAttr)
    kind = prop_def(StringAttr)

    assembly_format = (
        "$data `,` $indices attr-dict `:` type($data) `,` type($indices) `->` type($output)"
    )

    def __init__(self, data: SSAValue, indices: SSAValue, axis: int, kind: str, node: str):
        shape = gather_shape(shape_of(data), shape_of(indices), axis, kind)
        super().__init__(
            operands=[data, indices],
            result_types=[TensorType(data.type.element_type, list(shape))],  # type: ignore
            properties={
                "node": StringAttr(node),
                "axis": IntegerAttr(axis % len(shape_of(data)), i64),
                "kind": StringAttr(kind),
            },
        )

    def verify_(self) -> None:
        if self.kind.data not in ("gather", "elements"):
            raise VerifyException("gather kind must be gather or elements")


@irdl_op_definition
class ScatterOp(NnOp):
    """ONNX ScatterND (``kind`` nd) or ScatterElements (elements, along ``axis``): a copy of
    ``data`` with ``updates`` written (``reduction`` none) or added (add) at run-time indices."""

    name = "nn.scatter"

    data = operand_def(TensorType)
    indices = operand_def(TensorType)
    updates = operand_def(TensorType)
    output = result_def(TensorType)
    axis = prop_def(IntegerAttr)
    kind = prop_def(StringAttr)
    reduction = prop_def(StringAttr)

    assembly_format = (
        "$data `,` $indices `,` $updates attr-dict `:` type($data) `,` type($indices) `,` "
        "type($updates) `->` type($output)"
    )

    def __init__(self, data, indices, updates, axis: int, kind: str, reduction: str, node: str):
        super().__init__(
            operands=[data, indices, updates],
            result_types=[data.type],
            properties={
                "node": StringAttr(node),
                "axis": IntegerAttr(axis % len(shape_of(data)), i64),
                "kind": StringAttr(kind),
                "reduction": StringAttr(reduction),
            },
        )

    def verify_(self) -> None:
        if self.kind.data not in ("nd", "elements"):
            raise VerifyException("scatter kind must be nd or elements")
        if self.reduction.data not in SCATTER_REDUCTIONS:
            raise VerifyException(f"reduction must be one of {', '.join(SCATTER_REDUCTIONS)}")
        expected = scatter_updates_shape(shape_of(self.data), shape_of(self.indices), self.kind.data)
        if shape_of(self.updates) != expected:
            raise VerifyException(f"updates must have shape {list(expected)}")


@irdl_op_definition
class QuantOp(UnaryOp):
    """A quantizer of a quantization-aware export (QONNX Quant, QuantizeLinear → [Clip →]
    DequantizeLinear): ``y = (clamp(round(x / scale + zero_point), low, high) - zero_point) *
    scale`` with ``rounding`` a QONNX rounding mode (ROUND: ties to even). With ``shift`` (QONNX
    Trunc): ``round(x / scale + zero_point)`` ties to even first, then divided by 2^shift and
    rounded by ``rounding``."""

    name = "nn.quant"
    traits = traits_def(BoundedResult())

    scale = prop_def(DenseIntOrFPElementsAttr)
    zero_point = prop_def(DenseIntOrFPElementsAttr)
    low = prop_def(IntegerAttr)
    high = prop_def(IntegerAttr)
    rounding = prop_def(StringAttr)
    shift = opt_prop_def(IntegerAttr)

    @property
    def shift_bits(self) -> int:
        return 0 if self.shift is None else self.shift.value.data

    @property
    def scales(self) -> np.ndarray:
        return numpy_from_dense(self.scale)

    @property
    def zero_points(self) -> np.ndarray:
        return numpy_from_dense(self.zero_point)

    @property
    def bounds(self) -> tuple[int, int]:
        return self.low.value.data, self.high.value.data


Nn = Dialect(
    "nn",
    [
        ConstantOp,
        AddOp,
        SubOp,
        MulOp,
        DivOp,
        MatMulOp,
        GemmOp,
        DenseOp,
        ScaleShiftOp,
        ReluOp,
        LeakyReluOp,
        AbsOp,
        HardSigmoidOp,
        ExpOp,
        SoftplusOp,
        EluOp,
        SigmoidOp,
        TanhOp,
        ErfOp,
        ClipOp,
        SoftmaxOp,
        ReshapeOp,
        ConvOp,
        PoolOp,
        TransposeOp,
        ConcatOp,
        PadOp,
        LayerNormOp,
        ExpandOp,
        GatherOp,
        ScatterOp,
        QuantOp,
    ],
)

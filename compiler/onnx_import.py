"""ONNX → nn: read an ONNX file into the tensor-level dialect.

Input: an ONNX ModelProto (file or object), any opset from 7 on, as written by the PyTorch
exporters (TorchScript and dynamo), Keras converters (MatMul + Add) and onnx.helper.
Output: a ``builtin.module`` holding one ``func.func`` of ``nn`` ops with static shapes.

Every node whose inputs are all compile-time constants (weights, Constant nodes, the Shape of a
static tensor) is evaluated here with ONNX's own reference implementation and becomes a constant:
shape subgraphs (Shape/Gather/Concat/Unsqueeze/Cast/...) disappear during import. That is also
what lets every result type be static. Nodes that compute on activations become one ``nn`` op each;
Identity and Dropout (inference) disappear. Anything else is reported with the node and operator.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator
from xdsl.builder import ImplicitBuilder
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
    f64,
    i64,
)
from xdsl.ir import Attribute, Block, SSAValue

from rtlflow.dialects import nn
from rtlflow.dialects.arrays import dense_from_numpy, int_array
from rtlflow.errors import RtlflowError
from rtlflow.naming import verilog_identifier
from rtlflow.numerics import quantization
from rtlflow.numerics.indexing import SCATTER_REDUCTIONS, scatter_updates_shape
from rtlflow.numerics.windows import Window, auto_pads

MIN_OPSET = 7

_FLOAT_TYPES = {
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.DOUBLE,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
}
_INT_TYPES = {
    onnx.TensorProto.INT64,
    onnx.TensorProto.INT32,
    onnx.TensorProto.INT16,
    onnx.TensorProto.INT8,
    onnx.TensorProto.UINT8,
    onnx.TensorProto.UINT16,
    onnx.TensorProto.UINT32,
    onnx.TensorProto.BOOL,
}


def load_model(source: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    """Read and check an ONNX model; every failure becomes one clear :class:`RtlflowError`."""
    if isinstance(source, onnx.ModelProto):
        model = source
    else:
        path = Path(source)
        if not path.is_file():
            raise RtlflowError(f"no such ONNX file: {path}")
        try:
            model = onnx.load(str(path))
        except Exception as error:  # protobuf raises several types for a damaged file
            raise RtlflowError(
                f"cannot read {path}: not a valid ONNX file (truncated or damaged?): "
                f"{_first_line(error)}"
            ) from None
    if not model.graph.node and not model.graph.output:
        raise RtlflowError("the ONNX model has an empty graph (truncated or damaged file?)")
    model = _quantizers_in_own_domain(model)
    try:
        onnx.checker.check_model(model)
    except Exception as error:
        raise RtlflowError(f"malformed ONNX model: {_first_line(error)}") from None
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    return model


def _quantizers_in_own_domain(model: onnx.ModelProto) -> onnx.ModelProto:
    """Some exporters write QONNX quantizers into the default domain, where ONNX's checker
    knows no such operator: move them to the QONNX domain (a copy of the model)."""
    misplaced = [
        n for n in model.graph.node if n.domain in ("", "ai.onnx") and n.op_type in _QUANTIZERS
    ]
    if not misplaced:
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for node in model.graph.node:
        if node.domain in ("", "ai.onnx") and node.op_type in _QUANTIZERS:
            node.domain = QUANT_DOMAINS[2]
    if all(o.domain != QUANT_DOMAINS[2] for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(QUANT_DOMAINS[2], 1))
    return model


def import_onnx(source: str | Path | onnx.ModelProto, name: str | None = None) -> ModuleOp:
    """Import an ONNX model as a module holding one ``func.func`` of ``nn`` ops."""
    model = load_model(source)
    if name is None:
        stem = Path(source).stem if not isinstance(source, onnx.ModelProto) else ""
        name = stem.removesuffix(".qonnx").removesuffix(".qcdq") or model.graph.name or "model"
    return _Importer(model).run(verilog_identifier(name))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


# ------------------------------------------------------------------------------------------


class _Importer:
    """Walks the graph in order, folding constants and emitting one nn op per activation node."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.graph = model.graph
        self.opset = next(
            (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0
        )
        if self.opset < MIN_OPSET:
            raise RtlflowError(
                f"ONNX opset {self.opset} is not supported (rtlflow reads opset {MIN_OPSET} "
                "and newer; convert with onnx.version_converter)"
            )
        self.constants: dict[str, np.ndarray] = {}
        self.values: dict[str, SSAValue] = {}
        self.materialized: dict[str, SSAValue] = {}
        #: QuantizeLinear results on activations, waiting for their DequantizeLinear
        self.integers: dict[str, PendingQuantize] = {}
        self.node_name = ""
        self.op_type = ""
        #: the nodes reading each tensor, and nodes already imported as part of a fused pattern
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        self.fused: set[int] = set()

    # ---- entry point -----------------------------------------------------------------

    def run(self, func_name: str) -> ModuleOp:
        for tensor in self.graph.initializer:
            self.constants[tensor.name] = numpy_helper.to_array(tensor)
        inputs = [i for i in self.graph.input if i.name not in self.constants]
        if not inputs:
            raise RtlflowError("the model has no inputs (every graph input is a constant)")
        input_types = [self._input_type(value) for value in inputs]
        block = Block(arg_types=input_types)
        for value, argument in zip(inputs, block.args, strict=True):
            argument.name_hint = _name_hint(value.name)
            self.values[value.name] = argument
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        with ImplicitBuilder(block):
            for index, node in enumerate(self.graph.node):
                if id(node) not in self.fused:
                    self._import_node(node, index)
            results = [self._output(output.name) for output in self.graph.output]
            func.ReturnOp(*results)
        function = func.FuncOp(
            func_name, (input_types, [r.type for r in results]), func.Region(block)
        )
        function.attributes["onnx.inputs"] = _string_array([v.name for v in inputs])
        function.attributes["onnx.outputs"] = _string_array([o.name for o in self.graph.output])
        module = ModuleOp([function])
        module.verify()
        return module

    def _input_type(self, value: onnx.ValueInfoProto) -> TensorType:
        tensor_type = value.type.tensor_type
        if not value.type.HasField("tensor_type"):
            raise RtlflowError(f"input '{value.name}' is not a tensor")
        shape = []
        for axis, dim in enumerate(tensor_type.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                shape.append(dim.dim_value)
                continue
            label = f"'{dim.dim_param}'" if dim.dim_param else "of unknown size"
            raise RtlflowError(
                f"input '{value.name}' has a dynamic dimension {label} at axis {axis}: "
                "rtlflow builds fixed-size hardware, export the model with static shapes "
                "(batch size 1)"
            )
        if not tensor_type.HasField("shape"):
            raise RtlflowError(f"input '{value.name}' has no shape: export with static shapes")
        return TensorType(self._element_type(tensor_type.elem_type, value.name), shape)

    def _element_type(self, elem_type: int, what: str) -> Attribute:
        if elem_type in _FLOAT_TYPES:
            return f32
        if elem_type in _INT_TYPES:
            return i64
        raise RtlflowError(
            f"'{what}' has element type {onnx.TensorProto.DataType.Name(elem_type)}, "
            "which rtlflow does not support"
        )

    def _output(self, name: str) -> SSAValue:
        if name in self.constants:
            raise RtlflowError(f"output '{name}' does not depend on any input (it is constant)")
        if name not in self.values:
            raise RtlflowError(f"output '{name}' is not produced by any node")
        return self.values[name]

    # ---- nodes -------------------------------------------------------------------------

    def _import_node(self, node: onnx.NodeProto, index: int) -> None:
        self.node_name = node.name or (node.output[0] if node.output else f"{node.op_type}_{index}")
        self.op_type = node.op_type
        if node.domain in QUANT_DOMAINS and node.op_type in _QUANTIZERS:
            _quantizer(self, node)
            return
        if node.domain not in ("", "ai.onnx"):
            self.fail(
                f"operator '{node.op_type}' of domain '{node.domain}' is not supported"
            )
        if node.op_type == "Constant":
            self._fold(node)
            return
        inputs = [name for name in node.input if name]
        if node.op_type in _STATIC_SHAPE_OPS or all(name in self.constants for name in inputs):
            self._fold(node)
            return
        for name in inputs:
            if name in self.integers and node.op_type not in ("Clip", "DequantizeLinear"):
                self.fail(
                    f"reads '{name}', the integers of a QuantizeLinear: only "
                    "QuantizeLinear → [Clip →] DequantizeLinear chains are supported"
                )
            if name not in self.constants and name not in self.values and name not in self.integers:
                self.fail(f"input '{name}' is not produced by any earlier node")
        handler = _HANDLERS.get(node.op_type)
        if handler is None:
            self.fail(
                f"operator '{node.op_type}' is not supported on activations "
                f"(supported: {', '.join(sorted(_HANDLERS))})"
            )
        handler(self, node)

    def _fold(self, node: onnx.NodeProto) -> None:
        """Evaluate a node whose result is known at compile time with ONNX's reference code."""
        feeds: dict[str, np.ndarray] = {}
        for name in node.input:
            if not name:
                continue
            if name in self.constants:
                feeds[name] = self.constants[name]
            else:  # Shape/Size of an activation: only its static shape matters
                feeds[name] = np.zeros(nn.shape_of(self.values[name]), dtype=np.float32)
        graph = onnx.helper.make_graph(
            [node],
            "fold",
            [onnx.helper.make_empty_tensor_value_info(name) for name in feeds],
            [onnx.helper.make_empty_tensor_value_info(name) for name in node.output if name],
        )
        opsets = list(self.model.opset_import)
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and self.opset < 19:
            # the reference evaluator implements these from opset 19 on; int8/uint8 semantics
            # have not changed since opset 13
            opsets = [o for o in opsets if o.domain not in ("", "ai.onnx")]
            opsets.append(onnx.helper.make_opsetid("", 19))
        model = onnx.helper.make_model(graph, opset_imports=opsets)
        try:
            results = ReferenceEvaluator(model).run(None, feeds)
        except Exception as error:
            self.fail(f"cannot evaluate this constant computation: {_first_line(error)}")
        for name, value in zip([n for n in node.output if n], results, strict=True):
            self.constants[name] = np.asarray(value)

    # ---- helpers used by the handlers -------------------------------------------------------

    def fail(self, message: str) -> None:
        raise RtlflowError(message, node=self.node_name, op=self.op_type)

    def attribute(self, node: onnx.NodeProto, name: str, default=None):
        for attr in node.attribute:
            if attr.name == name:
                return onnx.helper.get_attribute_value(attr)
        return default

    def activation(self, name: str) -> SSAValue:
        """The SSA value of a tensor; constants become ``nn.constant`` ops on first use."""
        if name in self.values:
            return self.values[name]
        if name not in self.materialized:
            array = self.constants[name]
            if np.issubdtype(array.dtype, np.floating):
                array = array.astype(np.float32)
            op = nn.ConstantOp(array, self.node_name)
            op.output.name_hint = _name_hint(name)
            self.materialized[name] = op.output
        return self.materialized[name]

    def constant(self, name: str, what: str) -> np.ndarray:
        if name not in self.constants:
            self.fail(f"{what} must be a compile-time constant")
        return self.constants[name]

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def float_tensor(self, shape: tuple[int, ...] | list[int]) -> TensorType:
        return TensorType(f32, list(shape))

    def define(self, node: onnx.NodeProto, value: SSAValue, output: int = 0) -> None:
        value.name_hint = _name_hint(node.output[output])
        self.values[node.output[output]] = value

    def alias(self, node: onnx.NodeProto, source: str) -> None:
        if source in self.constants:
            self.constants[node.output[0]] = self.constants[source]
        else:
            self.values[node.output[0]] = self.values[source]

    def reshape(self, value: SSAValue, shape: tuple[int, ...]) -> SSAValue:
        if tuple(shape) == nn.shape_of(value):
            return value
        element = value.type.element_type  # type: ignore[attr-defined]
        return nn.ReshapeOp(value, TensorType(element, list(shape)), self.node_name).output


@dataclass(frozen=True)
class PendingQuantize:
    """``clamp(round(x / scale) + zero_point, low, high)`` of an activation (QuantizeLinear, maybe
    narrowed by a Clip), to become one ``nn.quant`` at its DequantizeLinear."""

    source: str
    scale: np.ndarray
    zero_point: np.ndarray
    low: int
    high: int
    axis: int


def _name_hint(name: str) -> str | None:
    hint = re.sub(r"[^A-Za-z0-9_.$-]", "_", name)
    return hint if hint and not hint[0].isdigit() else None


def _string_array(names: list[str]) -> ArrayAttr:
    return ArrayAttr([StringAttr(n) for n in names])


#: Ops whose result depends only on the static shape of their input, folded even on activations.
_STATIC_SHAPE_OPS = {"Shape", "Size"}


# ---- handlers: one per ONNX operator that computes on activations ------------------------

Handler = Callable[[_Importer, onnx.NodeProto], None]
_HANDLERS: dict[str, Handler] = {}


def handles(*op_types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for op_type in op_types:
            _HANDLERS[op_type] = handler
        return handler

    return register


@handles("Identity", "Dropout")
def _identity(im: _Importer, node: onnx.NodeProto) -> None:
    if node.op_type == "Dropout":
        if len(node.input) > 2 and node.input[2]:
            training = im.constant(node.input[2], "Dropout's training_mode")
            if bool(np.asarray(training).reshape(-1)[0]):
                im.fail("Dropout in training mode cannot be built as hardware")
        if len(node.output) > 1 and node.output[1]:
            im.constants[node.output[1]] = np.ones(
                nn.shape_of(im.activation(node.input[0])), dtype=bool
            )
    im.alias(node, node.input[0])


@handles("Gemm")
def _gemm(im: _Importer, node: onnx.NodeProto) -> None:
    a, b = im.activation(node.input[0]), im.activation(node.input[1])
    c = im.activation(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    trans_a = int(im.attribute(node, "transA", 0))
    trans_b = int(im.attribute(node, "transB", 0))
    shape_a, shape_b = nn.shape_of(a), nn.shape_of(b)
    if len(shape_a) != 2 or len(shape_b) != 2:
        im.fail(f"Gemm needs 2-D operands, got {list(shape_a)} and {list(shape_b)}")
    rows = shape_a[1] if trans_a else shape_a[0]
    cols = shape_b[0] if trans_b else shape_b[1]
    op = nn.GemmOp(
        a,
        b,
        c,
        im.float_tensor((rows, cols)),
        im.node_name,
        alpha=float(im.attribute(node, "alpha", 1.0)),
        beta=float(im.attribute(node, "beta", 1.0)),
        trans_a=trans_a,
        trans_b=trans_b,
    )
    im.define(node, op.output)


_BINARY = {"Add": nn.AddOp, "Sub": nn.SubOp, "Mul": nn.MulOp, "Div": nn.DivOp}


@handles(*_BINARY)
def _binary(im: _Importer, node: onnx.NodeProto) -> None:
    if im.opset < 7 or im.attribute(node, "broadcast") is not None:
        im.fail("legacy broadcasting (opset < 7) is not supported")
    lhs, rhs = im.activation(node.input[0]), im.activation(node.input[1])
    shape = np.broadcast_shapes(nn.shape_of(lhs), nn.shape_of(rhs))
    im.define(node, _BINARY[node.op_type](lhs, rhs, im.float_tensor(shape), im.node_name).output)


@handles("MatMul")
def _matmul(im: _Importer, node: onnx.NodeProto) -> None:
    lhs, rhs = im.activation(node.input[0]), im.activation(node.input[1])
    try:
        shape = np.matmul(
            np.zeros(nn.shape_of(lhs), np.float32), np.zeros(nn.shape_of(rhs), np.float32)
        ).shape
    except ValueError as error:
        im.fail(f"operand shapes do not match: {error}")
    im.define(node, nn.MatMulOp(lhs, rhs, im.float_tensor(shape), im.node_name).output)


_UNARY = {
    "Relu": nn.ReluOp, "Sigmoid": nn.SigmoidOp, "Tanh": nn.TanhOp, "Erf": nn.ErfOp
}


@handles(*_UNARY)
def _unary(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    im.define(node, _UNARY[node.op_type](x, x.type, im.node_name).output)


@handles("LeakyRelu")
def _leaky_relu(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    alpha = FloatAttr(float(im.attribute(node, "alpha", 0.01)), f64)
    im.define(node, nn.LeakyReluOp(x, x.type, im.node_name, alpha=alpha).output)


@handles("Clip")
def _clip(im: _Importer, node: onnx.NodeProto) -> None:
    if node.input[0] in im.integers:  # QuantizeLinear → Clip → DequantizeLinear
        _clip_integers(im, node)
        return
    x = im.activation(node.input[0])
    if im.opset < 11:
        low, high = im.attribute(node, "min"), im.attribute(node, "max")
    else:
        bounds = [
            float(np.asarray(im.constant(name, "Clip's bound")).reshape(-1)[0]) if name else None
            for name in (list(node.input[1:3]) + ["", ""])[:2]
        ]
        low, high = bounds
    properties = {}
    if low is not None and np.isfinite(low):
        properties["low"] = FloatAttr(float(low), f64)
    if high is not None and np.isfinite(high):
        properties["high"] = FloatAttr(float(high), f64)
    im.define(node, nn.ClipOp(x, x.type, im.node_name, **properties).output)


@handles("Softmax")
def _softmax(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    rank = len(shape)
    axis = int(im.attribute(node, "axis", 1 if im.opset < 13 else -1))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        im.fail(f"axis {axis} is outside a rank-{rank} tensor")
    if im.opset < 13 and axis != rank - 1:
        # Before opset 13, Softmax normalises over all axes from `axis` on, flattened.
        flat = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
        y = nn.SoftmaxOp(
            im.reshape(x, flat), im.float_tensor(flat), im.node_name, axis=IntegerAttr(1, i64)
        ).output
        im.define(node, im.reshape(y, shape))
        return
    if axis != rank - 1:  # the hardware normalises the last axis: move the axis there and back
        perm = [a for a in range(rank) if a != axis] + [axis]
        moved = _transposed(im, x, perm)
        y = nn.SoftmaxOp(moved, moved.type, im.node_name, axis=IntegerAttr(rank - 1, i64)).output
        im.define(node, _transposed(im, y, list(np.argsort(perm))))
        return
    im.define(node, nn.SoftmaxOp(x, x.type, im.node_name, axis=IntegerAttr(axis, i64)).output)


def _transposed(im: _Importer, x: SSAValue, perm: list[int]) -> SSAValue:
    """``x`` transposed by ``perm`` (wiring), or ``x`` for the identity."""
    if list(perm) == list(range(len(perm))):
        return x
    shape = nn.shape_of(x)
    element = x.type.element_type  # type: ignore[attr-defined]
    result = TensorType(element, [shape[p] for p in perm])
    return nn.TransposeOp(x, result, im.node_name, perm=int_array([int(p) for p in perm])).output


@handles("Flatten", "Reshape", "Squeeze", "Unsqueeze")
def _reshape(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    try:
        new_shape = _RESHAPES[node.op_type](im, node, shape)
    except (ValueError, IndexError) as error:
        im.fail(f"cannot reshape {list(shape)}: {error}")
    im.define(node, im.reshape(x, new_shape))


def _flatten_shape(im: _Importer, node: onnx.NodeProto, shape: tuple[int, ...]):
    axis = int(im.attribute(node, "axis", 1))
    axis = axis + len(shape) if axis < 0 else axis
    return (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))


def _reshape_shape(im: _Importer, node: onnx.NodeProto, shape: tuple[int, ...]):
    if len(node.input) > 1:
        target = [int(v) for v in im.constant(node.input[1], "Reshape's shape").reshape(-1)]
    else:
        target = list(im.attribute(node, "shape", []))
    if not int(im.attribute(node, "allowzero", 0)):
        target = [shape[i] if v == 0 else v for i, v in enumerate(target)]
    return np.empty(shape, dtype=np.int8).reshape(target).shape


def _axes(im: _Importer, node: onnx.NodeProto) -> list[int] | None:
    if im.opset >= 13:
        if len(node.input) > 1 and node.input[1]:
            return [int(v) for v in im.constant(node.input[1], "axes").reshape(-1)]
        return None
    axes = im.attribute(node, "axes")
    return None if axes is None else [int(a) for a in axes]


def _squeeze_shape(im: _Importer, node: onnx.NodeProto, shape: tuple[int, ...]):
    axes = _axes(im, node)
    if axes is None:
        return tuple(d for d in shape if d != 1)
    axes = [a + len(shape) if a < 0 else a for a in axes]
    if any(not 0 <= a < len(shape) or shape[a] != 1 for a in axes):
        raise ValueError(f"cannot squeeze axes {axes} of shape {list(shape)}")
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _unsqueeze_shape(im: _Importer, node: onnx.NodeProto, shape: tuple[int, ...]):
    axes = _axes(im, node)
    if axes is None:
        raise ValueError("Unsqueeze needs axes")
    rank = len(shape) + len(axes)
    axes = sorted(a + rank if a < 0 else a for a in axes)
    if any(not 0 <= a < rank for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"Unsqueeze axes {axes} are invalid for a result of rank {rank}")
    result = list(shape)
    for axis in axes:
        result.insert(axis, 1)
    return tuple(result)


_RESHAPES = {
    "Flatten": _flatten_shape,
    "Reshape": _reshape_shape,
    "Squeeze": _squeeze_shape,
    "Unsqueeze": _unsqueeze_shape,
}


@handles("Cast")
def _cast(im: _Importer, node: onnx.NodeProto) -> None:
    target = int(im.attribute(node, "to", 0))
    x = im.activation(node.input[0])
    integer = isinstance(x.type.element_type, IntegerType)  # type: ignore[attr-defined]
    if target not in _FLOAT_TYPES and not (integer and target in _INT_TYPES):
        im.fail("casting an activation to a non-float type is not supported (integer "
                "tensors, indices, may be cast to other integer types)")
    im.alias(node, node.input[0])


# ---- convolutional networks ------------------------------------------------------------------


def _spatial(im: _Importer, x: SSAValue) -> tuple[int, ...]:
    shape = nn.shape_of(x)
    if len(shape) < 3:
        im.fail(f"expects an [N, C, spatial...] input, got shape {list(shape)}")
    return shape[2:]


def _window(im: _Importer, node: onnx.NodeProto, x: SSAValue, kernel, ceil_mode=False) -> Window:
    sizes = _spatial(im, x)
    rank = len(sizes)
    kernel = [int(k) for k in kernel]
    if len(kernel) != rank:
        im.fail(f"kernel {kernel} does not match the input's {rank} spatial axes")
    strides = [int(s) for s in im.attribute(node, "strides", [1] * rank)]
    dilations = [int(d) for d in im.attribute(node, "dilations", [1] * rank)]
    auto_pad = im.attribute(node, "auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = auto_pads(auto_pad, sizes, kernel, strides, dilations)
    elif auto_pad in ("NOTSET", "VALID"):
        pads = [int(p) for p in im.attribute(node, "pads", [0] * 2 * rank)]
        if auto_pad == "VALID":
            pads = [0] * 2 * rank
    else:
        im.fail(f"unknown auto_pad '{auto_pad}'")
    if min(strides + dilations) < 1 or min(pads) < 0 or len(pads) != 2 * rank:
        im.fail(f"invalid strides {strides}, dilations {dilations} or pads {pads}")
    try:
        return Window.create(sizes, kernel, strides, pads, dilations, bool(ceil_mode))
    except ValueError as error:
        im.fail(str(error))


@handles("Conv")
def _conv(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    weight = im.constant(node.input[1], "Conv's weight").astype(np.float64)
    c_in = nn.shape_of(x)[1]
    group = int(im.attribute(node, "group", 1))
    kernel = im.attribute(node, "kernel_shape", list(weight.shape[2:]))
    if group < 1 or c_in % group or weight.shape[0] % group or weight.shape[1] * group != c_in:
        im.fail(f"weight {list(weight.shape)} and group {group} do not fit {c_in} input channels")
    window = _window(im, node, x, kernel)
    bias = np.zeros(weight.shape[0])
    if len(node.input) > 2 and node.input[2]:
        bias = im.constant(node.input[2], "Conv's bias").astype(np.float64).reshape(-1)
    im.define(node, nn.ConvOp.from_arrays(x, weight, bias, window, group, im.node_name).output)


@handles("MaxPool", "AveragePool")
def _pool(im: _Importer, node: onnx.NodeProto) -> None:
    if len([o for o in node.output if o]) > 1:
        im.fail("MaxPool's Indices output is not supported")
    x = im.activation(node.input[0])
    if int(im.attribute(node, "storage_order", 0)):
        im.fail("storage_order 1 is not supported")
    window = _window(im, node, x, im.attribute(node, "kernel_shape"), im.attribute(node, "ceil_mode", 0))
    kind = "max" if node.op_type == "MaxPool" else "average"
    include = bool(im.attribute(node, "count_include_pad", 0))
    im.define(node, nn.PoolOp.from_window(x, kind, window, include, im.node_name).output)


def _global_pool(im: _Importer, x: SSAValue, kind: str) -> SSAValue:
    window = Window.create(_spatial(im, x), _spatial(im, x))
    return nn.PoolOp.from_window(x, kind, window, False, im.node_name).output


@handles("GlobalAveragePool", "GlobalMaxPool")
def _global(im: _Importer, node: onnx.NodeProto) -> None:
    kind = "max" if node.op_type == "GlobalMaxPool" else "average"
    im.define(node, _global_pool(im, im.activation(node.input[0]), kind))


def _reduce_axes(im: _Importer, node: onnx.NodeProto, rank: int) -> list[int]:
    if im.opset >= 18:  # axes became an input
        axes = None
        if len(node.input) > 1 and node.input[1]:
            axes = [int(a) for a in im.constant(node.input[1], "axes").reshape(-1)]
    else:
        axes = im.attribute(node, "axes")
    return sorted(a % rank for a in (axes if axes else range(rank)))


@handles("ReduceMean", "ReduceMax")
def _reduce(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    rank = len(shape)
    axes = _reduce_axes(im, node, rank)
    if node.op_type == "ReduceMean" and _decomposed_layer_norm(im, node, axes, rank):
        return
    if not axes and int(im.attribute(node, "noop_with_empty_axes", 0)):
        im.alias(node, node.input[0])
        return
    if axes != list(range(2, rank)) or rank < 3:
        im.fail(
            f"reducing axes {axes} of a {list(shape)} tensor is not supported: only all "
            "spatial axes of [N, C, spatial...] (global pooling)"
        )
    y = _global_pool(im, x, "max" if node.op_type == "ReduceMax" else "average")
    if not int(im.attribute(node, "keepdims", 1)):
        y = im.reshape(y, shape[:2])
    im.define(node, y)


def _decomposed_layer_norm(im: _Importer, mean: onnx.NodeProto, axes: list[int], rank: int) -> bool:
    """LayerNorm as older exporters write it: ``d = x - ReduceMean(x)``,
    ``d / Sqrt(ReduceMean(Pow(d, 2)) + eps)`` over trailing axes. When ``mean`` starts that
    pattern, the pattern becomes one ``nn.layer_norm`` (scale 1, bias 0: a following Mul and
    Add by constants fold into it) and its nodes are marked imported."""
    if not axes or axes != list(range(axes[0], rank)) or not int(im.attribute(mean, "keepdims", 1)):
        return False
    outputs = {o.name for o in im.graph.output}

    def only_user(tensor: str, op_type: str) -> onnx.NodeProto | None:
        users = im.consumers.get(tensor, [])
        if len(users) == 1 and users[0].op_type == op_type and tensor not in outputs:
            return users[0]
        return None

    x = mean.input[0]
    sub = only_user(mean.output[0], "Sub")
    if sub is None or list(sub.input) != [x, mean.output[0]] or sub.output[0] in outputs:
        return False
    d = sub.output[0]
    users = im.consumers.get(d, [])
    square = next((u for u in users if u.op_type in ("Pow", "Mul")), None)
    divide = next((u for u in users if u.op_type == "Div"), None)
    if len(users) != 2 or square is None or divide is None or list(divide.input)[0] != d:
        return False
    if square.op_type == "Mul" and list(square.input) != [d, d]:
        return False
    if square.op_type == "Pow" and not (
        square.input[1] in im.constants and float(np.asarray(im.constants[square.input[1]])) == 2.0
    ):
        return False
    variance = only_user(square.output[0], "ReduceMean")
    if variance is None or _reduce_axes(im, variance, rank) != axes:
        return False
    if not int(im.attribute(variance, "keepdims", 1)):
        return False
    add = only_user(variance.output[0], "Add")
    if add is None:
        return False
    epsilon = [name for name in add.input if name in im.constants]
    if len(epsilon) != 1 or np.asarray(im.constants[epsilon[0]]).size != 1:
        return False
    root = only_user(add.output[0], "Sqrt")
    if root is None or only_user(root.output[0], "Div") is not divide:
        return False
    if list(divide.input) != [d, root.output[0]]:
        return False
    xv = im.activation(x)
    count = int(np.prod(nn.shape_of(xv)[axes[0] :]))
    op = nn.LayerNormOp(
        xv,
        xv.type,
        im.node_name,
        scale=dense_from_numpy(np.ones(count, np.float32)),
        bias=dense_from_numpy(np.zeros(count, np.float32)),
        epsilon=FloatAttr(float(np.asarray(im.constants[epsilon[0]]).reshape(-1)[0]), f64),
        axis=IntegerAttr(axes[0], i64),
    )
    op.output.name_hint = _name_hint(divide.output[0])
    im.values[divide.output[0]] = op.output
    im.fused |= {id(n) for n in (sub, square, variance, add, root, divide)}
    return True


@handles("BatchNormalization")
def _batch_norm(im: _Importer, node: onnx.NodeProto) -> None:
    if int(im.attribute(node, "training_mode", 0)) or len([o for o in node.output if o]) > 1:
        im.fail("BatchNormalization in training mode cannot be built as hardware")
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    gamma, beta, mean, var = (
        im.constant(name, "BatchNormalization's parameters").astype(np.float64)
        for name in node.input[1:5]
    )
    epsilon = float(im.attribute(node, "epsilon", 1e-5))
    scale = gamma / np.sqrt(var + epsilon)
    shift = beta - mean * scale
    per_channel = (1, shape[1]) + (1,) * (len(shape) - 2) if len(shape) > 1 else shape
    op = nn.ScaleShiftOp.from_arrays(x, scale.reshape(per_channel), shift.reshape(per_channel), im.node_name)
    im.define(node, op.output)


@handles("Pad")
def _pad(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    rank = len(nn.shape_of(x))
    mode = im.attribute(node, "mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if mode != "constant":
        im.fail(f"Pad mode '{mode}' is not supported (constant zero padding only)")
    if im.opset >= 11:
        pads = [int(p) for p in im.constant(node.input[1], "Pad's pads").reshape(-1)]
        value = 0.0
        if len(node.input) > 2 and node.input[2]:
            value = float(np.asarray(im.constant(node.input[2], "Pad's value")).reshape(-1)[0])
        if len(node.input) > 3 and node.input[3]:
            axes = [int(a) % rank for a in im.constant(node.input[3], "Pad's axes").reshape(-1)]
            full = [0] * 2 * rank
            for i, axis in enumerate(axes):
                full[axis], full[rank + axis] = pads[i], pads[len(axes) + i]
            pads = full
    else:
        pads = [int(p) for p in im.attribute(node, "pads", [])]
        value = float(im.attribute(node, "value", 0.0))
    if value != 0.0:
        im.fail(f"padding with {value} is not supported (zero padding only)")
    if min(pads) < 0:
        im.fail("negative pads (cropping) are not supported")
    shape = [d + pads[a] + pads[rank + a] for a, d in enumerate(nn.shape_of(x))]
    if not any(pads):
        im.alias(node, node.input[0])
        return
    op = nn.PadOp(x, im.float_tensor(shape), im.node_name, pads=int_array(pads))
    im.define(node, op.output)


@handles("Transpose")
def _transpose(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    perm = [int(p) for p in im.attribute(node, "perm", list(range(len(shape)))[::-1])]
    if sorted(perm) != list(range(len(shape))):
        im.fail(f"perm {perm} is not a permutation of {len(shape)} axes")
    if perm == list(range(len(shape))):
        im.alias(node, node.input[0])
        return
    result = im.float_tensor([shape[p] for p in perm])
    im.define(node, nn.TransposeOp(x, result, im.node_name, perm=int_array(perm)).output)


@handles("Concat")
def _concat(im: _Importer, node: onnx.NodeProto) -> None:
    values = [im.activation(name) for name in node.input if name]
    shapes = [nn.shape_of(v) for v in values]
    axis = int(im.attribute(node, "axis", 0)) % len(shapes[0])
    try:
        shape = np.concatenate([np.zeros(s, np.int8) for s in shapes], axis=axis).shape
    except ValueError as error:
        im.fail(f"cannot concatenate {[list(s) for s in shapes]}: {error}")
    if len(values) == 1:
        im.alias(node, node.input[0])
        return
    im.define(node, nn.ConcatOp(values, im.float_tensor(shape), axis, im.node_name).output)



# ---- graph networks: run-time indices ------------------------------------------------------


def _index_tensor(im: _Importer, name: str) -> SSAValue:
    value = im.activation(name)
    if not isinstance(value.type.element_type, IntegerType):  # type: ignore[attr-defined]
        im.fail(f"indices '{name}' must be an integer tensor")
    return value


@handles("Gather", "GatherElements")
def _gather(im: _Importer, node: onnx.NodeProto) -> None:
    data, indices = im.activation(node.input[0]), _index_tensor(im, node.input[1])
    rank = len(nn.shape_of(data))
    axis = int(im.attribute(node, "axis", 0))
    if not -rank <= axis < rank:
        im.fail(f"axis {axis} is outside a rank-{rank} tensor")
    kind = "gather" if node.op_type == "Gather" else "elements"
    if kind == "elements":
        shape, index_shape = nn.shape_of(data), nn.shape_of(indices)
        if len(index_shape) != rank or any(
            i > d for a, (i, d) in enumerate(zip(index_shape, shape)) if a != axis % rank
        ):
            im.fail(f"indices of shape {list(index_shape)} do not fit data of shape {list(shape)}")
    im.define(node, nn.GatherOp(data, indices, axis, kind, im.node_name).output)


@handles("ScatterND", "ScatterElements", "Scatter")
def _scatter(im: _Importer, node: onnx.NodeProto) -> None:
    data, indices = im.activation(node.input[0]), _index_tensor(im, node.input[1])
    updates = im.activation(node.input[2])
    reduction = _attribute_text(im, node, "reduction", "none").lower()
    if reduction not in SCATTER_REDUCTIONS:
        im.fail(
            f"reduction '{reduction}' is not supported (supported: "
            f"{', '.join(SCATTER_REDUCTIONS)})"
        )
    kind = "nd" if node.op_type == "ScatterND" else "elements"
    shape, index_shape = nn.shape_of(data), nn.shape_of(indices)
    if kind == "nd" and not (index_shape and 1 <= index_shape[-1] <= len(shape)):
        im.fail(f"indices of shape {list(index_shape)} do not index data of shape {list(shape)}")
    axis = int(im.attribute(node, "axis", 0))
    if not -len(shape) <= axis < len(shape):
        im.fail(f"axis {axis} is outside a rank-{len(shape)} tensor")
    if kind == "elements" and (len(index_shape) != len(shape) or any(
        i > d for a, (i, d) in enumerate(zip(index_shape, shape)) if a != axis % len(shape)
    )):
        im.fail(f"indices of shape {list(index_shape)} do not fit data of shape {list(shape)}")
    expected = scatter_updates_shape(shape, index_shape, kind)
    if nn.shape_of(updates) != expected:
        im.fail(f"updates have shape {list(nn.shape_of(updates))}, expected {list(expected)}")
    op = nn.ScatterOp(data, indices, updates, axis, kind, reduction, im.node_name)
    im.define(node, op.output)


@handles("LayerNormalization")
def _layer_norm(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    axis = int(im.attribute(node, "axis", -1))
    if not -len(shape) <= axis < len(shape):
        im.fail(f"axis {axis} is outside a rank-{len(shape)} tensor")
    axis %= len(shape)
    normalised = shape[axis:]
    if len(node.output) > 1 and any(node.output[1:]):
        im.fail("the Mean and InvStdDev outputs (training) are not supported")
    scale = np.broadcast_to(im.constant(node.input[1], "LayerNormalization's scale"), normalised)
    if len(node.input) > 2 and node.input[2]:
        bias = np.broadcast_to(im.constant(node.input[2], "LayerNormalization's bias"), normalised)
    else:
        bias = np.zeros(normalised)
    op = nn.LayerNormOp(
        x,
        x.type,
        im.node_name,
        scale=dense_from_numpy(np.asarray(scale, np.float32).reshape(-1)),
        bias=dense_from_numpy(np.asarray(bias, np.float32).reshape(-1)),
        epsilon=FloatAttr(float(im.attribute(node, "epsilon", 1e-5)), f64),
        axis=IntegerAttr(axis, i64),
    )
    im.define(node, op.output)


def _take(im: _Importer, x: SSAValue, axis: int, positions) -> SSAValue:
    """Elements ``positions`` (compile-time) of ``x`` along ``axis``: a gather by constants."""
    indices = np.asarray(list(positions), dtype=np.int64)
    if indices.size == 0:
        im.fail("the result would be empty")
    constant = nn.ConstantOp(indices, im.node_name).output
    return nn.GatherOp(x, constant, axis, "gather", im.node_name).output


@handles("Slice")
def _slice(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    if im.opset < 10:
        starts, ends = im.attribute(node, "starts"), im.attribute(node, "ends")
        axes = im.attribute(node, "axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        values = [
            [int(v) for v in np.asarray(im.constant(name, f"Slice's {what}")).reshape(-1)]
            if name else None
            for name, what in zip(list(node.input[1:5]) + [""] * 4,
                                  ("starts", "ends", "axes", "steps"))
        ]
        starts, ends, axes, steps = values
        axes = axes if axes is not None else list(range(len(starts)))
        steps = steps if steps is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        if step == 0:
            im.fail("a step of 0 is not allowed")
        axis %= len(shape)
        positions = range(*slice(start, end, step).indices(shape[axis]))
        if len(positions) != shape[axis] or step != 1:
            x = _take(im, x, axis, positions)
    im.define(node, x)


@handles("Split")
def _split(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    shape = nn.shape_of(x)
    axis = int(im.attribute(node, "axis", 0)) % len(shape)
    if len(node.input) > 1 and node.input[1]:
        sizes = [int(v) for v in np.asarray(im.constant(node.input[1], "Split's sizes")).reshape(-1)]
    elif im.attribute(node, "split") is not None:
        sizes = [int(v) for v in im.attribute(node, "split")]
    else:
        count = len(node.output)
        chunk = -(-shape[axis] // count)
        sizes = [min(chunk, shape[axis] - chunk * k) for k in range(count)]
    if sum(sizes) != shape[axis] or len(sizes) != len(node.output):
        im.fail(f"sizes {sizes} do not split an axis of {shape[axis]} into {len(node.output)}")
    start = 0
    for output, size in enumerate(sizes):
        im.define(node, _take(im, x, axis, range(start, start + size)), output)
        start += size


@handles("Einsum")
def _einsum(im: _Importer, node: onnx.NodeProto) -> None:
    """Two-operand contractions (``bqhc,bkhc->bhqk``) as transposes, reshapes and a MatMul."""
    equation = im.attribute(node, "equation", b"")
    equation = (equation.decode() if isinstance(equation, bytes) else str(equation)).replace(" ", "")
    if "->" not in equation or "." in equation or equation.count(",") != 1:
        im.fail(f"equation '{equation}': only two operands with an explicit output are supported")
    inputs, output = equation.split("->")
    left, right = inputs.split(",")
    a, b = im.activation(node.input[0]), im.activation(node.input[1])
    for letters in (left, right, output):
        if len(set(letters)) != len(letters):
            im.fail(f"equation '{equation}': repeated indices in one operand are not supported")
    if any(c not in left + right for c in output):
        im.fail(f"equation '{equation}': output index not in any operand")
    if len(left) != len(nn.shape_of(a)) or len(right) != len(nn.shape_of(b)):
        im.fail(f"equation '{equation}' does not match operand ranks "
                f"{len(nn.shape_of(a))} and {len(nn.shape_of(b))}")
    size = dict(zip(left, nn.shape_of(a), strict=True))
    for letter, extent in zip(right, nn.shape_of(b), strict=True):
        if size.setdefault(letter, extent) != extent:
            im.fail(f"equation '{equation}': index '{letter}' has sizes {size[letter]} and "
                    f"{extent} (broadcasting is not supported)")
    batch = [c for c in output if c in left and c in right]
    free_a = [c for c in output if c in left and c not in right]
    free_b = [c for c in output if c in right and c not in left]
    summed = [c for c in left if c in right and c not in output]
    if any(c not in output and c not in summed for c in left + right):
        im.fail(f"equation '{equation}': an index summed in one operand only is not supported")
    count = lambda letters: int(np.prod([size[c] for c in letters], dtype=np.int64))  # noqa: E731
    a = _transposed(im, a, [left.index(c) for c in batch + free_a + summed])
    a = im.reshape(a, (count(batch), count(free_a), count(summed)))
    b = _transposed(im, b, [right.index(c) for c in batch + summed + free_b])
    b = im.reshape(b, (count(batch), count(summed), count(free_b)))
    product = nn.MatMulOp(
        a, b, im.float_tensor((count(batch), count(free_a), count(free_b))), im.node_name
    ).output
    order = batch + free_a + free_b
    product = im.reshape(product, tuple(size[c] for c in order))
    im.define(node, _transposed(im, product, [order.index(c) for c in output]))


@handles("Expand")
def _expand(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    target = [int(v) for v in np.asarray(im.constant(node.input[1], "Expand's shape")).reshape(-1)]
    try:
        shape = np.broadcast_shapes(nn.shape_of(x), tuple(target))
    except ValueError as error:
        im.fail(f"cannot expand {list(nn.shape_of(x))} to {target}: {error}")
    if tuple(shape) == nn.shape_of(x):
        im.alias(node, node.input[0])
        return
    element = x.type.element_type  # type: ignore[attr-defined]
    im.define(node, nn.ExpandOp(x, TensorType(element, list(shape)), im.node_name).output)


# ---- quantization-aware exports -----------------------------------------------------------

#: domains under which exporters write QONNX quantizers
QUANT_DOMAINS = ("", "ai.onnx", "qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
_QUANTIZERS = ("Quant", "IntQuant", "BipolarQuant", "Trunc")


def _scalar(im: _Importer, name: str, what: str) -> float:
    value = np.asarray(im.constant(name, what), dtype=np.float64)
    if value.size != 1:
        im.fail(f"{what} must be a scalar, got shape {list(value.shape)}")
    return float(value.reshape(-1)[0])


def _attribute_text(im: _Importer, node: onnx.NodeProto, name: str, default: str) -> str:
    value = im.attribute(node, name, default)
    return (value.decode() if isinstance(value, bytes) else str(value)).upper()


def _quantizer(im: _Importer, node: onnx.NodeProto) -> None:
    """QONNX Quant / BipolarQuant / Trunc: folded on constants, ``nn.quant`` on activations."""
    inputs = [name for name in node.input if name]
    for name in inputs[1:]:
        im.constant(name, f"{node.op_type}'s quantization parameter '{name}'")
    if node.op_type == "BipolarQuant":
        scale = im.constants[inputs[1]]
        if np.any(np.asarray(scale) <= 0):
            im.fail("scales must be positive")
        if inputs[0] not in im.constants:
            _define_quant(im, node, im.activation(inputs[0]), scale, np.zeros(()), -1, 1, quantization.BIPOLAR)
            return
        im.constants[node.output[0]] = quantization.bipolar(im.constants[inputs[0]], scale).astype(np.float32)
        return
    rounding = _attribute_text(im, node, "rounding_mode", "ROUND" if node.op_type != "Trunc" else "FLOOR")
    if rounding not in quantization.ROUNDING or rounding == quantization.BIPOLAR:
        im.fail(f"rounding_mode '{rounding}' is unknown (known: {', '.join(quantization.ROUNDING)})")
    if node.op_type == "Trunc":
        if len(inputs) != 5:
            im.fail("only the five-input Trunc (input and output bit widths) is supported")
        bits_in, bits_out = (int(_scalar(im, n, "bit width")) for n in inputs[3:5])
        if bits_out > bits_in:
            im.fail(f"Trunc's output bit width {bits_out} exceeds its input bit width {bits_in}")
        if inputs[0] not in im.constants:  # unclamped: the input's range bounds the levels
            scale, zero_point = im.constants[inputs[1]], im.constants[inputs[2]]
            if np.any(np.asarray(scale) <= 0):
                im.fail("scales must be positive")
            x = im.activation(inputs[0])
            _define_quant(im, node, x, scale, zero_point, -(2**62), 2**62, rounding, bits_in - bits_out)
            return
        x, scale, zero_point = (im.constants[n] for n in inputs[:3])
        im.constants[node.output[0]] = quantization.trunc(
            x, scale, zero_point, bits_in, bits_out, rounding
        ).astype(np.float32)
        return
    bits = _scalar(im, inputs[3], "Quant's bit width")
    if bits != int(bits) or bits < 1:
        im.fail(f"bit width must be a positive integer, got {bits:g}")
    signed = bool(im.attribute(node, "signed", 1))
    narrow = bool(im.attribute(node, "narrow", 0))
    if signed and bits == 1:  # QONNX treats a signed 1-bit Quant as bipolar
        if np.any(np.asarray(im.constants[inputs[1]]) <= 0):
            im.fail("scales must be positive")
        if inputs[0] not in im.constants:
            scale, zero_point = im.constants[inputs[1]], im.constants[inputs[2]]
            x = im.activation(inputs[0])
            _define_quant(im, node, x, scale, zero_point, -1, 1, quantization.BIPOLAR)
            return
        value = im.constants[inputs[0]] / im.constants[inputs[1]] + im.constants[inputs[2]]
        bipolar = np.where(value >= 0, 1.0, -1.0)
        result = (bipolar - im.constants[inputs[2]]) * im.constants[inputs[1]]
        im.constants[node.output[0]] = np.asarray(result, dtype=np.float32)
        return
    low, high = quantization.integer_bounds(int(bits), signed, narrow)
    scale, zero_point = im.constants[inputs[1]], im.constants[inputs[2]]
    if np.any(np.asarray(scale) <= 0):
        im.fail("scales must be positive")
    if inputs[0] in im.constants:  # weights: quantized now
        value = quantization.quantize(im.constants[inputs[0]], scale, zero_point, low, high, rounding)
        im.constants[node.output[0]] = value.astype(np.float32)
        return
    _define_quant(im, node, im.activation(inputs[0]), scale, zero_point, low, high, rounding)


def _define_quant(
    im, node, x: SSAValue, scale, zero_point, low: int, high: int, rounding: str, shift: int = 0
) -> None:
    shape = nn.shape_of(x)
    try:
        np.broadcast_to(np.asarray(scale), shape)
        np.broadcast_to(np.asarray(zero_point), shape)
    except ValueError:
        im.fail(f"scale / zero point of shape {list(np.shape(scale))} do not broadcast to {list(shape)}")
    op = nn.QuantOp(
        x,
        x.type,
        im.node_name,
        scale=dense_from_numpy(np.asarray(scale, dtype=np.float32)),
        zero_point=dense_from_numpy(np.asarray(zero_point, dtype=np.float32)),
        low=IntegerAttr(low, i64),
        high=IntegerAttr(high, i64),
        rounding=StringAttr(rounding),
    )
    if shift:
        op.properties["shift"] = IntegerAttr(shift, i64)
    im.define(node, op.output)


_INTEGER_RANGES = {
    onnx.TensorProto.INT8: (-128, 127),
    onnx.TensorProto.UINT8: (0, 255),
    onnx.TensorProto.INT16: (-(2**15), 2**15 - 1),
    onnx.TensorProto.UINT16: (0, 2**16 - 1),
    onnx.TensorProto.INT4: (-8, 7),
    onnx.TensorProto.UINT4: (0, 15),
}


def _per_axis(value: np.ndarray, axis: int, rank: int) -> np.ndarray:
    """A per-axis (1-D) QDQ parameter reshaped to broadcast along ``axis``."""
    value = np.asarray(value)
    if value.ndim == 0 or value.size == 1:
        return value.reshape(())
    shape = [1] * rank
    shape[axis] = value.size
    return value.reshape(shape)


@handles("QuantizeLinear")
def _quantize_linear(im: _Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    rank = len(nn.shape_of(x))
    if im.attribute(node, "block_size", 0):
        im.fail("blocked quantization (block_size) is not supported")
    axis = int(im.attribute(node, "axis", 1)) % max(rank, 1)
    scale = im.constant(node.input[1], "QuantizeLinear's scale")
    if len(node.input) > 2 and node.input[2]:
        zero_point = im.constant(node.input[2], "QuantizeLinear's zero point")
        dtype = onnx.helper.np_dtype_to_tensor_dtype(zero_point.dtype) if zero_point.dtype != object else 0
    else:
        zero_point, dtype = np.zeros(()), int(im.attribute(node, "output_dtype", onnx.TensorProto.UINT8))
    if dtype not in _INTEGER_RANGES:
        im.fail(f"QuantizeLinear to {onnx.TensorProto.DataType.Name(dtype)} is not supported")
    low, high = _INTEGER_RANGES[dtype]
    im.integers[node.output[0]] = PendingQuantize(
        node.input[0],
        _per_axis(scale, axis, rank).astype(np.float64),
        _per_axis(zero_point, axis, rank).astype(np.float64),
        low,
        high,
        axis,
    )


@handles("DequantizeLinear")
def _dequantize_linear(im: _Importer, node: onnx.NodeProto) -> None:
    if node.input[0] not in im.integers:
        im.fail("DequantizeLinear of an activation must read a QuantizeLinear result")
    pending = im.integers[node.input[0]]
    x = im.activation(pending.source)
    rank = len(nn.shape_of(x))
    scale = _per_axis(im.constant(node.input[1], "DequantizeLinear's scale"), pending.axis, rank)
    zero_point = np.zeros(())
    if len(node.input) > 2 and node.input[2]:
        zero_point = _per_axis(im.constant(node.input[2], "zero point"), pending.axis, rank)
    if not (np.array_equal(scale, pending.scale) and np.array_equal(zero_point, pending.zero_point)):
        im.fail("DequantizeLinear must use its QuantizeLinear's scale and zero point")
    # QuantizeLinear rounds before it adds the zero point: (clamp(round(x / s) + z, lo, hi) - z) * s
    # is the quantizer with zero point 0 and the bounds moved by -z
    if np.unique(zero_point).size > 1:
        im.fail("per-axis zero points on activations are not supported (per-axis scales are)")
    shift = int(np.asarray(zero_point).reshape(-1)[0])
    _define_quant(im, node, x, scale, np.zeros(()), pending.low - shift, pending.high - shift, "ROUND")


def _clip_integers(im: _Importer, node: onnx.NodeProto) -> None:
    pending = im.integers[node.input[0]]
    bounds = [
        float(np.asarray(im.constant(name, "Clip's bound")).reshape(-1)[0]) if name else None
        for name in (list(node.input[1:3]) + ["", ""])[:2]
    ]
    low = pending.low if bounds[0] is None else max(pending.low, math.ceil(bounds[0]))
    high = pending.high if bounds[1] is None else min(pending.high, math.floor(bounds[1]))
    im.integers[node.output[0]] = replace(pending, low=low, high=high)


def supported_operators() -> list[str]:
    """ONNX operators rtlflow builds as hardware (any operator folds on constants)."""
    return sorted(_HANDLERS)

"""ONNX → nn: read an ONNX file into the tensor-level dialect.

Input: an ONNX ModelProto (file or object), any opset from 7 on, as written by the PyTorch
exporters (TorchScript and dynamo), Keras converters (MatMul + Add) and onnx.helper.
Output: a ``builtin.module`` holding one ``func.func`` of ``nn`` ops with static shapes.

Every node whose inputs are all compile-time constants (weights, Constant nodes, the Shape of a
static tensor) is evaluated here with ONNX's own reference implementation and becomes a constant:
shape subgraphs (Shape/Gather/Concat/Unsqueeze/Cast/...) disappear during import. That is also
what lets every result type be static. Nodes that compute on activations become one ``nn`` op each;
Identity and Dropout (inference) disappear. Anything else is reported with the node and operator.

A damaged model is refused in one line naming the node and operator, never built: NaN or infinite
constants, integer tensors where floats belong, tensors of more than MAX_ELEMENTS elements or none,
axes, indices and attributes out of range or of the wrong type (``tests/unit/hostile.py`` fuzzes
this).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
import onnx.version_converter
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator
from xdsl.builder import ImplicitBuilder
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue

from rtlflow.dialects import nn
from rtlflow.dialects.arrays import int_array, numpy_from_dense
from rtlflow.errors import RtlflowError, warn
from rtlflow.naming import verilog_identifier

if TYPE_CHECKING:
    from rtlflow.frontend.quantizers import PendingQuantize

MIN_OPSET = 7


FLOAT_TYPES = {
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.DOUBLE,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
}


INT_TYPES = {
    onnx.TensorProto.INT64,
    onnx.TensorProto.INT32,
    onnx.TensorProto.INT16,
    onnx.TensorProto.INT8,
    onnx.TensorProto.UINT8,
    onnx.TensorProto.UINT16,
    onnx.TensorProto.UINT32,
    onnx.TensorProto.BOOL,
}


#: domains under which exporters write QONNX quantizers
QUANT_DOMAINS = (
    "",
    "ai.onnx",
    "qonnx.custom_op.general",
    "finn.custom_op.general",
    "onnx.brevitas",
)


QUANTIZERS = ("Quant", "IntQuant", "BipolarQuant", "Trunc")


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
                f"{first_line(error)}"
            ) from None
    if not model.graph.node and not model.graph.output:
        raise RtlflowError("the ONNX model has an empty graph (truncated or damaged file?)")
    _check_opset_is_known(model)
    model = _declare_custom_domains(_quantizers_in_own_domain(model))
    try:
        onnx.checker.check_model(model)
    except Exception as error:  # its message names the node and operator on later lines
        raise RtlflowError(f"malformed ONNX model: {one_line(error)}") from None
    model = _upgrade_opset(model)
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    return model


def _check_opset_is_known(model: onnx.ModelProto) -> None:
    """An opset newer than the onnx package's: its operators' meaning is unknown here."""
    newest = onnx.defs.onnx_opset_version()
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version > newest:
            raise RtlflowError(
                f"ONNX opset {opset.version} is newer than the newest this onnx package knows "
                f"({newest}): export the model at opset {newest} or older, or update onnx"
            )


def _quantizers_in_own_domain(model: onnx.ModelProto) -> onnx.ModelProto:
    """Some exporters write QONNX quantizers into the default domain, where ONNX's checker
    knows no such operator: move them to the QONNX domain (a copy of the model)."""
    misplaced = [
        n for n in model.graph.node if n.domain in ("", "ai.onnx") and n.op_type in QUANTIZERS
    ]
    if not misplaced:
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for node in model.graph.node:
        if node.domain in ("", "ai.onnx") and node.op_type in QUANTIZERS:
            node.domain = QUANT_DOMAINS[2]
    if all(o.domain != QUANT_DOMAINS[2] for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(QUANT_DOMAINS[2], 1))
    return model


def _declare_custom_domains(model: onnx.ModelProto) -> onnx.ModelProto:
    """Custom-op domains the model uses without an opset import (QONNX model-zoo files do
    this; qonnx and FINN read them): declared at version 1, with a warning."""
    declared = {o.domain for o in model.opset_import}
    missing: dict[str, set[str]] = {}
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") and node.domain not in declared:
            missing.setdefault(node.domain, set()).add(node.op_type)
    if not missing:
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for domain, op_types in sorted(missing.items()):
        model.opset_import.append(onnx.helper.make_opsetid(domain, 1))
        warn(
            f"the model declares no opset for domain '{domain}' (its {', '.join(sorted(op_types))} "
            "nodes): assumed version 1"
        )
    return model


#: a leading size shared by every input and output from which on it is taken for the batch:
#: more rows than one inference per clock could compute on any part
BATCH_ROWS = 1024

#: the opset models older than MIN_OPSET are upgraded to
UPGRADE_OPSET = 13

#: the most elements of a tensor (2**24): far beyond what one FPGA design holds in parallel,
#: and a bound on what the importer allocates while it works out shapes
MAX_ELEMENTS = 1 << 24


def _upgrade_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """A model of opset 1-6 upgraded with ``onnx.version_converter``, with a warning."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or opset >= MIN_OPSET:
        return model
    try:
        upgraded = onnx.version_converter.convert_version(model, UPGRADE_OPSET)
    except Exception as error:
        raise RtlflowError(
            f"ONNX opset {opset} could not be upgraded to opset {UPGRADE_OPSET} with "
            f"onnx.version_converter: {first_line(error)}"
        ) from None
    warn(f"the model's ONNX opset {opset} was upgraded to opset {UPGRADE_OPSET}")
    return upgraded


def import_onnx(source: str | Path | onnx.ModelProto, name: str | None = None) -> ModuleOp:
    """Import an ONNX model as a module holding one ``func.func`` of ``nn`` ops."""
    model = load_model(source)
    if name is None:
        stem = Path(source).stem if not isinstance(source, onnx.ModelProto) else ""
        name = stem.removesuffix(".qonnx").removesuffix(".qcdq") or model.graph.name or "model"
    return Importer(model).run(verilog_identifier(name))


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def one_line(error: BaseException) -> str:
    """The whole message of ``error`` on one line."""
    return " ".join(str(error).split()) or type(error).__name__


class Importer:
    """Walks the graph in order, folding constants and emitting one nn op per activation node."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
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
        #: the batch size of the graph as written, where it is not 1 (``_find_batch``)
        self.batch: int | str | None = None
        #: the nodes reading each tensor, and nodes already imported as part of a fused pattern
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        self.fused: set[int] = set()

    # ---- entry point -----------------------------------------------------------------

    def run(self, func_name: str) -> ModuleOp:
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        for tensor in self.graph.initializer:
            self.constants[tensor.name] = numpy_helper.to_array(tensor)
            self._check_finite_constant(tensor.name)
        inputs = [i for i in self.graph.input if i.name not in self.constants]
        if not inputs:
            raise RtlflowError("the model has no inputs (every graph input is a constant)")
        outputs = [o.name for o in self.graph.output]
        if not outputs:
            raise RtlflowError("the model has no outputs (the graph lists none)")
        twice = sorted({name for name in outputs if outputs.count(name) > 1})
        if twice:
            raise RtlflowError(f"output '{twice[0]}' is listed more than once among the outputs")
        self.batch = self._find_batch(inputs)
        if self.batch is not None:
            if isinstance(self.batch, int):
                size = f"{self.batch}, taken for the batch"
            else:
                size = f"dynamic size '{self.batch}'" if self.batch else "dynamic size"
            warn(
                f"the inputs and outputs have a leading (batch) dimension of {size}: compiled "
                "as batch 1, one inference per clock"
            )
        input_types = [self._input_type(value) for value in inputs]
        block = self.block = Block(arg_types=input_types)
        for value, argument in zip(inputs, block.args, strict=True):
            argument.name_hint = name_hint(value.name)
            self.values[value.name] = argument
        with ImplicitBuilder(block):
            for index, node in enumerate(self.graph.node):
                if id(node) not in self.fused:
                    self._import_node(node, index)
            results = [self._output(output) for output in self.graph.output]
            func.ReturnOp(*results)
        function = func.FuncOp(
            func_name, (input_types, [r.type for r in results]), func.Region(block)
        )
        function.attributes["onnx.inputs"] = _string_array([v.name for v in inputs])
        function.attributes["onnx.outputs"] = _string_array([o.name for o in self.graph.output])
        module = ModuleOp([function])
        module.verify()
        return module

    def _check_finite_constant(self, name: str) -> None:
        """A NaN or an infinity in a weight, bias or other constant of the file (a damaged
        file, or a mask hardware cannot add): refused, naming the first node that reads it.
        Infinite Clip bounds are fine: they mean no bound."""
        array = self.constants[name]
        if not np.issubdtype(array.dtype, np.floating) or np.isfinite(array).all():
            return
        readers = self.consumers.get(name, [])
        if not np.isnan(array).any() and all(
            r.op_type == "Clip" and name not in r.input[:1] for r in readers
        ):
            return
        kind = "NaN (not a number)" if np.isnan(array).any() else "infinite"
        message = f"the constant '{name}' holds {kind} values"
        if readers:
            reader = readers[0]
            raise RtlflowError(message, node=reader.name or reader.output[0], op=reader.op_type)
        raise RtlflowError(message)

    def _input_type(self, value: onnx.ValueInfoProto) -> TensorType:
        tensor_type = value.type.tensor_type
        if not value.type.HasField("tensor_type"):
            raise RtlflowError(f"input '{value.name}' is not a tensor")
        if not tensor_type.HasField("shape"):
            raise RtlflowError(f"input '{value.name}' has no shape: export with static shapes")
        shape = []
        for axis, dim in enumerate(tensor_type.shape.dim):
            if axis == 0 and self.batch is not None:
                shape.append(1)
                continue
            if dim.HasField("dim_value") and dim.dim_value > 0:
                shape.append(dim.dim_value)
                continue
            if dim.HasField("dim_value"):
                raise RtlflowError(
                    f"input '{value.name}' is empty (size 0 at axis {axis}): there is nothing "
                    "to build"
                )
            label = f"'{dim.dim_param}'" if dim.dim_param else "of unknown size"
            raise RtlflowError(
                f"input '{value.name}' has a dynamic dimension {label} at axis {axis}: "
                "rtlflow builds fixed-size hardware, export the model with static shapes "
                "(batch size 1)"
            )
        if math.prod(shape) > MAX_ELEMENTS:
            raise RtlflowError(
                f"input '{value.name}' of shape {shape} has {math.prod(shape):,} elements, more "
                f"than the {MAX_ELEMENTS:,} of any tensor rtlflow builds hardware for"
            )
        return TensorType(self._element_type(tensor_type.elem_type, value.name), shape)

    def _find_batch(self, inputs: list[onnx.ValueInfoProto]) -> int | str | None:
        """The batch size, where the graph has one other than 1: a leading dimension that is
        dynamic on every input and output (of rank 2 and more), or static, the same on all
        and at least ``BATCH_ROWS``. The design is built for batch 1 (one inference per clock),
        with a warning. A smaller shared leading size stays a dimension (rows of a graph
        network, tokens), also with a warning in case it was meant as the batch."""
        dims = [
            list(v.type.tensor_type.shape.dim)
            for v in [*inputs, *self.graph.output]
            if v.type.tensor_type.HasField("shape")
        ]
        if not dims or any(len(d) < 2 for d in dims):
            return None
        leading = [
            d[0].dim_value if d[0].HasField("dim_value") and d[0].dim_value > 0 else d[0].dim_param
            for d in dims
        ]
        if all(isinstance(size, str) for size in leading):  # dynamic everywhere ("" unnamed)
            return leading[0]
        if len(set(leading)) != 1 or leading[0] == 1:
            return None
        size = leading[0]
        if size < BATCH_ROWS:
            warn(
                f"the inputs and outputs share a leading dimension of {size}: compiled as "
                f"{size} rows computed at once; if it is a batch, export the model with batch 1"
            )
            return None
        return size

    def _element_type(self, elem_type: int, what: str) -> Attribute:
        if elem_type in FLOAT_TYPES:
            return f32
        if elem_type in INT_TYPES:
            return i64
        raise RtlflowError(
            f"'{what}' has element type {onnx.TensorProto.DataType.Name(elem_type)}, "
            "which rtlflow does not support"
        )

    def _output(self, output: onnx.ValueInfoProto) -> SSAValue:
        name = output.name
        if name in self.constants:
            raise RtlflowError(f"output '{name}' does not depend on any input (it is constant)")
        if name not in self.values:
            raise RtlflowError(f"output '{name}' is not produced by any node")
        value = self.values[name]
        self._check_declared_shape(output, nn.shape_of(value))
        return value

    def _check_declared_shape(self, output: onnx.ValueInfoProto, shape: tuple[int, ...]) -> None:
        """A warning where the shape the graph computes for an output differs from the one the
        model declares (the sizes it gives, the batch axis left out): a sign of a damaged or
        misread model, though onnx's own shape inference errs at times (a ceil_mode pooling
        window that starts in the padding), so the computed shape is the one built."""
        dims = list(output.type.tensor_type.shape.dim)
        if not dims:
            return
        first = 1 if self.batch is not None else 0
        sizes = [d.dim_value if d.dim_value > 0 else None for d in dims]
        if len(sizes) == len(shape) and all(
            size is None or size == actual for size, actual in zip(sizes[first:], shape[first:])
        ):
            return
        declared = [size if size is not None else "?" for size in sizes]
        warn(
            f"output '{output.name}' is computed with shape {list(shape)}, but the model "
            f"declares {declared}"
        )

    # ---- nodes -------------------------------------------------------------------------

    def _import_node(self, node: onnx.NodeProto, index: int) -> None:
        self.node_name = node.name or (node.output[0] if node.output else f"{node.op_type}_{index}")
        self.op_type = node.op_type
        if node.domain in QUANT_DOMAINS and node.op_type in QUANTIZERS:
            self._check_float_inputs(node)
            last = self.block.last_op
            _QUANTIZER_HANDLERS[node.op_type](self, node)
            self._check_finite(last)
            return
        if node.domain not in ("", "ai.onnx"):
            self.fail(f"operator '{node.op_type}' of domain '{node.domain}' is not supported")
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
        self._check_float_inputs(node)
        last = self.block.last_op
        handler(self, node)
        self._check_finite(last)

    def _check_float_inputs(self, node: onnx.NodeProto) -> None:
        """Integer activations are indices: they may be moved (reshaped, sliced, gathered) and
        index a Gather or Scatter, but every other operator computes on floats."""
        index_slots = INDEX_SLOTS.get(node.op_type, ())
        if index_slots == "all":
            return
        for slot, name in enumerate(node.input):
            if slot in index_slots or name not in self.values:
                continue
            if isinstance(self.values[name].type.element_type, IntegerType):  # type: ignore
                self.fail(
                    f"input '{name}' is an integer tensor, where {node.op_type} computes on "
                    "floats (integer tensors are indices, for Gather and Scatter)"
                )

    def _check_finite(self, last: Operation | None) -> None:
        """The weights, biases and other constants of the ops built after ``last`` are
        finite: hardware computes with numbers, not infinities or NaN."""
        op = last.next_op if last is not None else self.block.first_op
        while op is not None:
            for name, attr in op.properties.items():
                if isinstance(attr, DenseIntOrFPElementsAttr):
                    finite = bool(np.isfinite(numpy_from_dense(attr)).all())
                elif isinstance(attr, FloatAttr):
                    finite = math.isfinite(attr.value.data)
                else:
                    continue
                if not finite:
                    what = "a constant it reads" if isinstance(op, nn.ConstantOp) else (
                        f"its {name} ({op.name})"
                    )
                    self.fail(
                        f"{what} holds infinite or NaN values: hardware computes with finite "
                        "numbers only"
                    )
            op = op.next_op

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
        for name, value in zip([n for n in node.output if n], self.evaluate(node, feeds)):
            self.constants[name] = np.asarray(value)

    def evaluate(self, node: onnx.NodeProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """``node`` on the given inputs, by ONNX's reference implementation."""
        if node.op_type == "Scatter":  # deprecated, ScatterElements under its old name
            node = onnx.NodeProto.FromString(node.SerializeToString())
            node.op_type = "ScatterElements"
        graph = onnx.helper.make_graph(
            [node],
            "fold",
            [onnx.helper.make_empty_tensor_value_info(name) for name in feeds],
            [onnx.helper.make_empty_tensor_value_info(name) for name in node.output if name],
        )
        opsets = list(self.model.opset_import)
        # the reference evaluator implements QuantizeLinear / DequantizeLinear from opset 19 on
        # (int8/uint8 semantics unchanged since 13), ScatterElements from its first, 11
        oldest = {"QuantizeLinear": 19, "DequantizeLinear": 19, "ScatterElements": 11}
        if self.opset < oldest.get(node.op_type, 0):
            opsets = [o for o in opsets if o.domain not in ("", "ai.onnx")]
            opsets.append(onnx.helper.make_opsetid("", oldest[node.op_type]))
        model = onnx.helper.make_model(graph, opset_imports=opsets)
        try:
            return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, feeds)]
        except Exception as error:
            self.fail(f"cannot evaluate this constant computation: {first_line(error)}")

    # ---- helpers used by the handlers -------------------------------------------------------

    def fail(self, message: str) -> None:
        raise RtlflowError(message, node=self.node_name, op=self.op_type)

    def attribute(self, node: onnx.NodeProto, name: str, default=None, kind: int | None = None):
        """The value of an attribute, or ``default``; with ``kind`` (an
        ``onnx.AttributeProto`` type) an attribute of another type is an error (the checker
        knows the types of the standard operators' attributes, not those of custom domains)."""
        for attr in node.attribute:
            if attr.name == name:
                if kind is not None and attr.type != kind:
                    names = onnx.AttributeProto.AttributeType
                    self.fail(
                        f"attribute '{name}' must be of type {names.Name(kind)}, not "
                        f"{names.Name(attr.type)}"
                    )
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
            op.output.name_hint = name_hint(name)
            self.materialized[name] = op.output
        return self.materialized[name]

    def constant(self, name: str, what: str) -> np.ndarray:
        if name not in self.constants:
            self.fail(f"{what} must be a compile-time constant")
        return self.constants[name]

    def axis(self, axis: int, rank: int) -> int:
        """``axis`` of a rank-``rank`` tensor counted from the front; outside it, an error."""
        if not -rank <= axis < rank:
            self.fail(f"axis {axis} is outside a rank-{rank} tensor")
        return axis % rank

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def float_tensor(self, shape: tuple[int, ...] | list[int]) -> TensorType:
        return TensorType(f32, list(shape))

    def define(self, node: onnx.NodeProto, value: SSAValue, output: int = 0) -> None:
        shape = nn.shape_of(value)
        if 0 in shape:
            self.fail(f"the result is empty (shape {list(shape)}): there is nothing to build")
        if math.prod(shape) > MAX_ELEMENTS:
            self.fail(
                f"the result of shape {list(shape)} has {math.prod(shape):,} elements, more than "
                f"the {MAX_ELEMENTS:,} of any tensor rtlflow builds hardware for"
            )
        value.name_hint = name_hint(node.output[output])
        self.values[node.output[output]] = value

    def alias(self, node: onnx.NodeProto, source: str) -> None:
        if source in self.constants:
            self.constants[node.output[0]] = self.constants[source]
        else:
            self.values[node.output[0]] = self.values[source]

    def transposed(self, x: SSAValue, perm: list[int]) -> SSAValue:
        """``x`` transposed by ``perm`` (wiring), or ``x`` for the identity."""
        if list(perm) == list(range(len(perm))):
            return x
        if isinstance(x.owner, nn.ConstantOp):  # a constant's, done here: a constant again
            return nn.ConstantOp(x.owner.array.transpose(perm), self.node_name).output
        shape = nn.shape_of(x)
        element = x.type.element_type  # type: ignore[attr-defined]
        result = TensorType(element, [shape[p] for p in perm])
        perm_attr = int_array([int(p) for p in perm])
        return nn.TransposeOp(x, result, self.node_name, perm=perm_attr).output

    def text(self, node: onnx.NodeProto, name: str, default: str) -> str:
        """A string attribute, in upper case."""
        value = self.attribute(node, name, default, kind=onnx.AttributeProto.STRING)
        return (value.decode() if isinstance(value, bytes) else str(value)).upper()

    def reshape(self, value: SSAValue, shape: tuple[int, ...]) -> SSAValue:
        if tuple(shape) == nn.shape_of(value):
            return value
        if isinstance(value.owner, nn.ConstantOp):
            return nn.ConstantOp(value.owner.array.reshape(shape), self.node_name).output
        element = value.type.element_type  # type: ignore[attr-defined]
        return nn.ReshapeOp(value, TensorType(element, list(shape)), self.node_name).output


def name_hint(name: str) -> str | None:
    """An SSA name hint from an ONNX name: its characters made valid, and every ``_<digits>``
    suffix dropped (xDSL drops one, as its printer's own uniquing suffix, when a value is named
    or parsed: tf2onnx's ``Conv1D__25:0`` must not print as ``Conv1D__25`` and parse back as
    ``Conv1D_``)."""
    hint = re.sub(r"(_\d+)+$", "", re.sub(r"[^A-Za-z0-9_.$-]", "_", name))
    return hint if hint and not hint[0].isdigit() else None


def _string_array(names: list[str]) -> ArrayAttr:
    return ArrayAttr([StringAttr(n) for n in names])


#: Ops whose result depends only on the static shape of their input, folded even on activations.
_STATIC_SHAPE_OPS = {"Shape", "Size"}

#: the operators that read integer activations (indices), and in which input slots
INDEX_SLOTS: dict[str, tuple[int, ...] | str] = {
    **dict.fromkeys(
        ("Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose",
         "Concat", "Slice", "Split", "Expand", "Tile", "Cast", "Gather", "GatherElements"),
        "all",
    ),
    **dict.fromkeys(("ScatterND", "ScatterElements", "Scatter"), (1,)),
}


# ---- the registry of handlers: the op-family modules (rtlflow.frontend.*) fill it ------------

Handler = Callable[[Importer, onnx.NodeProto], None]
_HANDLERS: dict[str, Handler] = {}
#: QONNX quantizers, in whichever domain the exporter wrote them (QUANT_DOMAINS)
_QUANTIZER_HANDLERS: dict[str, Handler] = {}


def handles(*op_types: str, quantizer: bool = False) -> Callable[[Handler], Handler]:
    """Register the decorated function as the importer of ``op_types`` on activations."""

    def register(handler: Handler) -> Handler:
        for op_type in op_types:
            (_QUANTIZER_HANDLERS if quantizer else _HANDLERS)[op_type] = handler
        return handler

    return register


def supported_operators() -> list[str]:
    """ONNX operators rtlflow builds as hardware (any operator folds on constants)."""
    return sorted(_HANDLERS)

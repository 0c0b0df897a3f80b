"""Hostile ONNX files: seeded mutations of valid models, and a runner that says what the compiler
made of each (the fuzz of ``test_hostile.py`` and ``bench/hostile.py``).

Every mutator takes a valid model and a ``np.random.Generator`` and returns the bytes of a damaged
file with a short description of the damage, or raises :class:`NotApplicable` when the model has
nothing it could damage (no attributes, one node). ``run_case`` compiles the bytes in this
process under a time bound and classifies the outcome: ``compiled``, ``refused`` (an
``RtlflowError``: the one line the user sees), ``traceback`` (any other exception: a bug) or
``hang`` (the time bound ran out: a bug too).
"""

from __future__ import annotations

import resource
import signal
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

DATA = Path(__file__).parents[1] / "data"

#: the small seed models of the test data (quick to compile), with the two built here
SEED_FILES = (
    "models/etx4velo_mlp.onnx",
    "models/muon_cnn_w4a4.qonnx.onnx",
    "models/jet_tagger_w6a6.qonnx.onnx",
    "models/muon_cnn_w4a4.qcdq.onnx",
    "onnx/keras_matmul_add.onnx",
    "onnx/old_opset7.onnx",
    "onnx/old_opset9.onnx",
    "onnx/torch_dynamo_opset18.onnx",
    "onnx/torch_legacy_view_opset17.onnx",
    "models/jet_transformer_hlf.onnx",
    "models/interaction_network.onnx",
)

OUTCOMES = ("compiled", "refused", "traceback", "hang")


class NotApplicable(Exception):
    """The model offers nothing this mutator could damage."""


# ---- seed models ----------------------------------------------------------------------------


def _weights(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)


def _model(nodes, inputs, outputs, constants, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "seed",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in constants.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model


def tiny_conv() -> onnx.ModelProto:
    """Conv 3x3 → BatchNormalization → Relu → MaxPool 2x2 → Flatten → Gemm on a 1x6x6 image."""
    rng = np.random.default_rng(11)
    node = helper.make_node
    nodes = [
        node("Conv", ["x", "k", "kb"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"], name="norm"),
        node("Relu", ["n"], ["r"], name="relu"),
        node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        node("Flatten", ["p"], ["f"], name="flatten", axis=1),
        node("Gemm", ["f", "w", "b"], ["y"], name="dense", transB=1),
    ]
    constants = {"k": _weights(rng, 2, 1, 3, 3), "kb": _weights(rng, 2),
                 "gamma": _weights(rng, 2), "beta": _weights(rng, 2), "mean": _weights(rng, 2),
                 "var": np.array([0.5, 2.0], np.float32), "w": _weights(rng, 3, 18),
                 "b": _weights(rng, 3)}
    return _model(nodes, {"x": [1, 1, 6, 6]}, {"y": [1, 3]}, constants)


def tiny_attention() -> onnx.ModelProto:
    """One self-attention head over 3 tokens of 4 features, a residual, LayerNormalization and
    a mean over the tokens."""
    rng = np.random.default_rng(12)
    node = helper.make_node
    nodes = [
        node("MatMul", ["x", "wq"], ["q"], name="query"),
        node("MatMul", ["x", "wk"], ["k"], name="key"),
        node("MatMul", ["x", "wv"], ["v"], name="value"),
        node("Transpose", ["k"], ["kt"], name="key_t", perm=[0, 2, 1]),
        node("MatMul", ["q", "kt"], ["s"], name="scores"),
        node("Mul", ["s", "scale"], ["ss"], name="scaled"),
        node("Softmax", ["ss"], ["a"], name="softmax", axis=-1),
        node("MatMul", ["a", "v"], ["o"], name="attend"),
        node("Add", ["o", "x"], ["h"], name="residual"),
        node("LayerNormalization", ["h", "gamma", "beta"], ["n"], name="norm", axis=-1),
        node("ReduceMean", ["n"], ["m"], name="mean", axes=[1], keepdims=0),
        node("Gemm", ["m", "w", "b"], ["y"], name="head", transB=1),
    ]
    constants = {
        "wq": _weights(rng, 4, 4), "wk": _weights(rng, 4, 4), "wv": _weights(rng, 4, 4),
        "scale": np.float32(0.5), "gamma": _weights(rng, 4), "beta": _weights(rng, 4),
        "w": _weights(rng, 2, 4), "b": _weights(rng, 2),
    }
    return _model(nodes, {"x": [1, 3, 4]}, {"y": [1, 2]}, constants)


def seed_models() -> dict[str, onnx.ModelProto]:
    """The valid models the mutators start from, by name."""
    models = {Path(file).name.removesuffix(".onnx"): onnx.load(DATA / file) for file in SEED_FILES}
    models["tiny_conv"] = tiny_conv()
    models["tiny_attention"] = tiny_attention()
    return models


# ---- the mutators ---------------------------------------------------------------------------


Mutator = Callable[[onnx.ModelProto, np.random.Generator], tuple[bytes, str]]


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    return onnx.ModelProto.FromString(model.SerializeToString())


def _pick(rng: np.random.Generator, items):
    items = list(items)
    if not items:
        raise NotApplicable
    return items[int(rng.integers(len(items)))]


def _inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph inputs that are not initializers (the model's real inputs)."""
    constants = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in constants]


def _float_initializers(model: onnx.ModelProto) -> list[TensorProto]:
    return [t for t in model.graph.initializer if t.data_type == TensorProto.FLOAT and t.dims]


def _replace_initializer(model: onnx.ModelProto, tensor: TensorProto, array: np.ndarray) -> None:
    tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))


def truncated(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    data = model.SerializeToString()
    size = int(rng.integers(0, len(data)))
    return data[:size], f"truncated to {size} of {len(data)} bytes"


def bit_flips(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    """1-8 bits flipped anywhere in the file, or (half the time) in the values of one weight
    (huge, tiny, negative, NaN or infinite numbers in a file that still parses)."""
    if rng.integers(2):
        model = _copy(model)
        tensor = _pick(rng, [t for t in _float_initializers(model) if t.raw_data])
        target, where = bytearray(tensor.raw_data), f"of '{tensor.name}' "
    else:
        target, where = bytearray(model.SerializeToString()), ""
    flips = []
    for _ in range(int(rng.integers(1, 9))):
        position, bit = int(rng.integers(len(target))), int(rng.integers(8))
        target[position] ^= 1 << bit
        flips.append(f"{position}:{bit}")
    if where:
        tensor.raw_data = bytes(target)
        target = bytearray(model.SerializeToString())
    return bytes(target), f"flipped bits {where}{', '.join(flips)}"


def missing_initializer(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    """An initializer removed; half the time it stays declared as a graph input (as older
    exporters list weights), so that the weight becomes an input known only at run time."""
    model = _copy(model)
    tensor = _pick(rng, model.graph.initializer)
    model.graph.initializer.remove(tensor)
    declared = any(i.name == tensor.name for i in model.graph.input)
    if not declared and rng.integers(2):
        elem_type = tensor.data_type
        model.graph.input.append(helper.make_tensor_value_info(tensor.name, elem_type, tensor.dims))
        declared = True
    kept = " (still a graph input)" if declared else ""
    return model.SerializeToString(), f"removed initializer '{tensor.name}'{kept}"


def dangling_edge(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    node = _pick(rng, [n for n in model.graph.node if any(n.input)])
    slot = _pick(rng, [i for i, name in enumerate(node.input) if name])
    old = node.input[slot]
    node.input[slot] = f"{old}__nowhere"
    return model.SerializeToString(), f"input {slot} of node '{node.name}' ({old}) dangles"


def cycle(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    """A node reads the output of itself or of a later node."""
    model = _copy(model)
    nodes = list(model.graph.node)
    index = _pick(rng, [i for i, n in enumerate(nodes) if any(n.input)])
    later = _pick(rng, [o for n in nodes[index:] for o in n.output if o])
    node = nodes[index]
    slot = _pick(rng, [i for i, name in enumerate(node.input) if name])
    node.input[slot] = later
    return model.SerializeToString(), f"input {slot} of node '{node.name}' reads later '{later}'"


def _change_rank(shape: list[int], rng: np.random.Generator) -> list[int]:
    if len(shape) > 1 and rng.integers(2):
        merged = shape[0] * shape[1]
        return [merged, *shape[2:]]
    position = int(rng.integers(len(shape) + 1))
    return [*shape[:position], 1, *shape[position:]]


def wrong_rank(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    """An initializer or a graph input gains or loses a dimension."""
    model = _copy(model)
    if rng.integers(2) and _inputs(model):
        value = _pick(rng, _inputs(model))
        dims = value.type.tensor_type.shape.dim
        shape = [d.dim_value for d in dims]
        new = _change_rank(shape, rng)
        del dims[:]
        for size in new:
            dims.add().dim_value = size
        return model.SerializeToString(), f"input '{value.name}' reshaped {shape} -> {new}"
    tensor = _pick(rng, [t for t in model.graph.initializer])
    array = numpy_helper.to_array(tensor)
    new = _change_rank(list(array.shape), rng)
    _replace_initializer(model, tensor, array.reshape(new))
    return model.SerializeToString(), f"initializer '{tensor.name}' reshaped {list(array.shape)} -> {new}"


def _set_input_dim(model: onnx.ModelProto, rng: np.random.Generator, size: int) -> str:
    value = _pick(rng, _inputs(model))
    dims = value.type.tensor_type.shape.dim
    axis = int(rng.integers(len(dims))) if dims else 0
    if not dims:
        raise NotApplicable
    dims[axis].Clear()
    dims[axis].dim_value = size
    return f"input '{value.name}' axis {axis} of size {size}"


def zero_dimension(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    if rng.integers(2):
        description = _set_input_dim(model, rng, 0)
        return model.SerializeToString(), description
    tensor = _pick(rng, _float_initializers(model))
    shape = list(tensor.dims)
    shape[int(rng.integers(len(shape)))] = 0
    _replace_initializer(model, tensor, np.zeros(shape, np.float32))
    return model.SerializeToString(), f"initializer '{tensor.name}' emptied to {shape}"


#: sizes no design can have (2**25: just past the importer's bound of 2**24 elements). Large
#: but possible sizes (5,000 rows of a dense network) compile, slowly: not damage, so not here
ENORMOUS = (2**25, 2**31, 10**9, 2**40, 2**63 - 1)


def enormous_dimension(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    description = _set_input_dim(model, rng, ENORMOUS[int(rng.integers(len(ENORMOUS)))])
    return model.SerializeToString(), description


def nan_weights(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    tensor = _pick(rng, _float_initializers(model))
    array = numpy_helper.to_array(tensor).copy()
    value = (np.nan, np.inf, -np.inf)[int(rng.integers(3))]
    count = int(rng.integers(1, min(4, array.size) + 1))
    flat = array.reshape(-1)
    flat[rng.choice(array.size, size=count, replace=False)] = value
    _replace_initializer(model, tensor, array)
    return model.SerializeToString(), f"{count} of '{tensor.name}' set to {value}"


def unknown_opset(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    version = (0, 99, 10**6, -1)[int(rng.integers(4))]
    default = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    for opset in default:
        opset.version = version
    return model.SerializeToString(), f"default opset version {version}"


def unknown_domain(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    node = _pick(rng, model.graph.node)
    node.domain = "org.hostile"
    if rng.integers(2):
        model.opset_import.append(helper.make_opsetid("org.hostile", 1))
    return model.SerializeToString(), f"node '{node.name}' ({node.op_type}) in domain org.hostile"


#: attribute values of the wrong type, for each expected type
_WRONG_VALUES = {
    AttributeProto.INT: (1.5, b"three", [1, 2]),
    AttributeProto.FLOAT: (b"half", [0.5, 0.5], 3),
    AttributeProto.INTS: (2, b"two", [1.5, 2.5]),
    AttributeProto.FLOATS: (1, b"one"),
    AttributeProto.STRING: (7, 0.25, [1, 2]),
    AttributeProto.STRINGS: (7,),
    AttributeProto.TENSOR: (3, b"tensor"),
}


def _expected_attributes(model: onnx.ModelProto, node: onnx.NodeProto) -> dict[str, int]:
    """The attributes ``node``'s schema declares (name → AttributeProto type); for nodes
    outside the default domain (QONNX), the ones it has."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except Exception:  # no schema: a custom domain
        return {a.name: a.type for a in node.attribute}
    return {name: int(a.type) for name, a in schema.attributes.items()}


def wrong_attribute_type(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    candidates = [
        (node, name, kind)
        for node in model.graph.node
        for name, kind in _expected_attributes(model, node).items()
        if kind in _WRONG_VALUES
    ]
    node, name, kind = _pick(rng, candidates)
    value = _pick(rng, _WRONG_VALUES[kind])
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend([*kept, helper.make_attribute(name, value)])
    return model.SerializeToString(), (
        f"attribute '{name}' of node '{node.name}' ({node.op_type}) is {value!r} instead of "
        f"{AttributeProto.AttributeType.Name(kind)}"
    )


_HOSTILE_INTS = (-1, 0, 3, 99, 2**31, -(2**40))
_HOSTILE_FLOATS = (float("nan"), float("inf"), -1.0, 0.0, 1e30)


def bad_attribute_value(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    """An attribute of the right type with a value out of its range: an axis of 99, a negative
    stride, a kernel of 2**31, a list one too long or empty, a NaN alpha."""
    model = _copy(model)
    kinds = (AttributeProto.INT, AttributeProto.INTS, AttributeProto.FLOAT)
    node, attr = _pick(
        rng, [(n, a) for n in model.graph.node for a in n.attribute if a.type in kinds]
    )
    if attr.type == AttributeProto.INT:
        value = _pick(rng, _HOSTILE_INTS)
    elif attr.type == AttributeProto.FLOAT:
        value = _pick(rng, _HOSTILE_FLOATS)
    else:
        value = list(attr.ints)
        how = int(rng.integers(3))
        if how == 0 and value:
            value[int(rng.integers(len(value)))] = _pick(rng, _HOSTILE_INTS)
        elif how == 1:
            value = [*value, _pick(rng, _HOSTILE_INTS)]
        else:
            value = value[:-1]
    attr.CopyFrom(helper.make_attribute(attr.name, value, attr_type=attr.type))
    return model.SerializeToString(), (
        f"attribute '{attr.name}' of node '{node.name}' ({node.op_type}) set to {value}"
    )


def bad_index_constant(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    """An integer constant (a Reshape's shape, a Slice's starts, Gather's indices, axes) with
    one value out of range."""
    model = _copy(model)
    integer_types = (TensorProto.INT64, TensorProto.INT32)
    tensor = _pick(rng, [t for t in model.graph.initializer if t.data_type in integer_types])
    array = numpy_helper.to_array(tensor).copy()
    value = _pick(rng, _HOSTILE_INTS)
    if array.size:
        array.reshape(-1)[int(rng.integers(array.size))] = np.asarray(value).astype(array.dtype)
    _replace_initializer(model, tensor, array)
    return model.SerializeToString(), f"a value of '{tensor.name}' set to {value}"


_INTEGER_TYPES = (TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL, TensorProto.UINT8)


def integer_input(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    value = _pick(rng, [v for v in _inputs(model) if v.type.tensor_type.elem_type == TensorProto.FLOAT])
    elem_type = _INTEGER_TYPES[int(rng.integers(len(_INTEGER_TYPES)))]
    value.type.tensor_type.elem_type = elem_type
    return model.SerializeToString(), (
        f"input '{value.name}' of type {TensorProto.DataType.Name(elem_type)}"
    )


def unknown_op(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    node = _pick(rng, model.graph.node)
    old, node.op_type = node.op_type, _pick(rng, ["Frobnicate", "Gemmm", "relu", ""])
    return model.SerializeToString(), f"node '{node.name}' ({old}) renamed {node.op_type!r}"


def duplicate_output(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    """Two nodes write one tensor, or the graph lists an output twice."""
    model = _copy(model)
    nodes = list(model.graph.node)
    if len(nodes) > 1 and rng.integers(2):
        first, second = sorted(rng.choice(len(nodes), size=2, replace=False))
        name = nodes[first].output[0]
        nodes[second].output[0] = name
        return model.SerializeToString(), (
            f"nodes '{nodes[first].name}' and '{nodes[second].name}' both write '{name}'"
        )
    output = _pick(rng, model.graph.output)
    model.graph.output.append(output)
    return model.SerializeToString(), f"graph output '{output.name}' listed twice"


def empty_graph(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    del model.graph.node[:]
    if rng.integers(2):
        del model.graph.output[:]
        return model.SerializeToString(), "no nodes, no outputs"
    return model.SerializeToString(), "no nodes"


def missing_outputs(model: onnx.ModelProto, rng: np.random.Generator) -> tuple[bytes, str]:
    model = _copy(model)
    if rng.integers(2):
        del model.graph.output[:]
        return model.SerializeToString(), "no graph outputs"
    output = _pick(rng, model.graph.output)
    output.name = f"{output.name}__nowhere"
    return model.SerializeToString(), f"graph output '{output.name}' is produced by no node"


#: every category of damage, by name
MUTATORS: dict[str, Mutator] = {
    "truncated": truncated,
    "bit_flips": bit_flips,
    "missing_initializer": missing_initializer,
    "dangling_edge": dangling_edge,
    "cycle": cycle,
    "wrong_rank": wrong_rank,
    "zero_dimension": zero_dimension,
    "enormous_dimension": enormous_dimension,
    "nan_weights": nan_weights,
    "unknown_opset": unknown_opset,
    "unknown_domain": unknown_domain,
    "wrong_attribute_type": wrong_attribute_type,
    "bad_attribute_value": bad_attribute_value,
    "bad_index_constant": bad_index_constant,
    "integer_input": integer_input,
    "unknown_op": unknown_op,
    "duplicate_output": duplicate_output,
    "empty_graph": empty_graph,
    "missing_outputs": missing_outputs,
}


@dataclass(frozen=True)
class Case:
    """One mutated file: its category, the seed model it came from, what was done, the bytes."""

    index: int
    category: str
    seed_model: str
    description: str
    data: bytes

    def __str__(self) -> str:
        return f"#{self.index} {self.category} of {self.seed_model}: {self.description}"


def cases(
    models: dict[str, onnx.ModelProto], count: int, seed: int = 0,
    categories: tuple[str, ...] | None = None,
) -> Iterator[Case]:
    """``count`` mutated files, the categories in turn, each from a seed model drawn at random
    (another one when the drawn model offers nothing to damage). Case ``i`` depends only on
    ``seed`` and ``i``."""
    categories = categories or tuple(MUTATORS)
    names = sorted(models)
    for index in range(count):
        category = categories[index % len(categories)]
        rng = np.random.default_rng([seed, index])
        for name in rng.permutation(names):
            try:
                data, description = MUTATORS[category](models[name], rng)
            except NotApplicable:
                continue
            yield Case(index, category, str(name), description, data)
            break


# ---- running a case -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the compiler did with a file: ``kind`` one of OUTCOMES; ``message`` the refusal or
    the exception (type: message); ``frames`` the last frames of a traceback."""

    kind: str
    message: str
    seconds: float
    frames: str = ""


class _OutOfTime(BaseException):
    """Raised by the alarm: a BaseException, so that no ``except Exception`` swallows it."""


@dataclass
class _Clock:
    expired: bool = False


@contextmanager
def _time_bound(seconds: float, clock: _Clock) -> Iterator[None]:
    """Raise _OutOfTime in the block after ``seconds`` (and mark ``clock`` expired), then
    again every half second: an exception raised where Python ignores it (in a ``__del__``)
    would else be lost."""

    def alarm(signum, frame):
        clock.expired = True
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def _memory_bound(size: int | None) -> Iterator[None]:
    """The address space limited to ``size`` bytes (a runaway allocation then raises
    MemoryError instead of taking the machine's memory); the old limit restored after."""
    if size is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size if hard == resource.RLIM_INFINITY else min(size, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


#: the address space a case may use (the compiler's own modules take about 1.5 GB)
MEMORY_BOUND = 8 * 2**30


def run_case(
    data: bytes,
    timeout_s: float = 60.0,
    stop_at: str = "fxp",
    write: bool = False,
    memory_bytes: int | None = MEMORY_BOUND,
) -> Outcome:
    """Compile ``data`` (written to a temporary .onnx file) up to ``stop_at``, and with
    ``write`` on to Verilog; in this process, bounded in time (SIGALRM) and memory."""
    import rtlflow
    from rtlflow.errors import RtlflowError

    with tempfile.TemporaryDirectory(prefix="hostile-") as work:
        path = Path(work) / "hostile.onnx"
        path.write_bytes(data)
        clock, start = _Clock(), time.perf_counter()

        def outcome(kind: str, message: str = "", frames: str = "") -> Outcome:
            if clock.expired:  # also where the alarm's exception was swallowed on the way
                return Outcome("hang", f"no answer within {timeout_s:g} s", timeout_s)
            return Outcome(kind, message, time.perf_counter() - start, frames)

        try:
            with _memory_bound(memory_bytes), _time_bound(timeout_s, clock):
                compiled = rtlflow.compile(path, stop_at=stop_at)
                if write:
                    compiled.write(Path(work) / "out", vectors=8, jobs=1)
        except _OutOfTime:
            return outcome("hang")
        except RtlflowError as error:
            return outcome("refused", str(error))
        except Exception as error:  # noqa: BLE001 - any other exception is the bug looked for
            frames = "".join(traceback.format_tb(error.__traceback__)[-3:])
            return outcome("traceback", f"{type(error).__name__}: {error}".strip(), frames)
        return outcome("compiled")


def refusal_problem(outcome: Outcome) -> str | None:
    """What is wrong with a refusal's message (empty, several lines), or None."""
    if outcome.kind != "refused":
        return None
    if not outcome.message.strip():
        return "empty message"
    if "\n" in outcome.message or "\r" in outcome.message:
        return f"message of several lines: {outcome.message!r}"
    return None

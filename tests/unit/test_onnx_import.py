"""ONNX import (rtlflow.frontend) checked through the float nn interpreter against onnxruntime.

The fixture models carry onnxruntime reference outputs; the small models built here are run in
onnxruntime sample by sample (batch 1, like the hardware) and compared with ``run_nn`` on the
stacked samples.
"""

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from rtlflow.errors import RtlflowError, collect_warnings
from rtlflow.frontend import import_onnx
from rtlflow.sim.nn_interpreter import run_nn

DATA = Path(__file__).parents[1] / "data"
ONNX_DIR = DATA / "onnx"
VALID_MODELS = sorted(p for p in ONNX_DIR.glob("*.onnx") if p.with_suffix(".npz").exists())
SAMPLES = 16


def graph_inputs(model):
    constants = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in constants]


def nn_ops(module):
    """Multiset of the nn ops in the module's function, constants left out."""
    (function,) = module.ops
    return Counter(
        op.name for op in function.body.block.ops if op.name not in ("nn.constant", "func.return")
    )


# ------------------------------------------------------------------------- fixture models


@pytest.mark.parametrize("path", VALID_MODELS, ids=lambda p: p.stem)
def test_fixture_models_match_onnxruntime(path):
    model = onnx.load(path)
    data = np.load(path.with_suffix(".npz"))
    inputs = [data[value.name] for value in graph_inputs(model)]
    outputs = run_nn(import_onnx(path), inputs)
    assert len(outputs) == len(model.graph.output)
    for value, result in zip(model.graph.output, outputs, strict=True):
        reference = data[f"ref_{value.name}"]
        assert result.shape == reference.shape
        np.testing.assert_allclose(result, reference, rtol=0, atol=1e-5)


def test_shape_subgraph_of_fixture_folds_away():
    module = import_onnx(ONNX_DIR / "torch_legacy_view_opset17.onnx")
    assert nn_ops(module) == Counter(
        {"nn.reshape": 1, "nn.gemm": 2, "nn.tanh": 1, "nn.softmax": 1}
    )


def test_function_name_and_onnx_names():
    module = import_onnx(ONNX_DIR / "torch_legacy_opset13.onnx")
    (function,) = module.ops
    assert function.sym_name.data == "torch_legacy_opset13"
    assert [a.data for a in function.attributes["onnx.inputs"]] == ["onnx::Flatten_0"]
    assert [a.data for a in function.attributes["onnx.outputs"]] == ["13"]
    renamed = import_onnx(ONNX_DIR / "torch_legacy_opset13.onnx", name="9 my-net")
    assert next(iter(renamed.ops)).sym_name.data == "m_9_my_net"


# ----------------------------------------------------------------- small models from code


def make_model(nodes, inputs, outputs, constants=None, opset=13):
    """A model with float inputs/outputs ``{name: shape}`` and initializers ``{name: array}``."""
    graph = helper.make_graph(
        nodes,
        "small",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in (constants or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model


def check_against_onnxruntime(model, seed=0):
    """Import ``model``, run it on random samples and compare with onnxruntime; the module."""
    rng = np.random.default_rng(seed)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    stacked = {
        value.name: (1.5 * rng.standard_normal(
            (SAMPLES, *[d.dim_value for d in value.type.tensor_type.shape.dim])
        )).astype(np.float32)
        for value in graph_inputs(model)
    }
    references = [
        session.run(None, {name: x[i] for name, x in stacked.items()}) for i in range(SAMPLES)
    ]
    module = import_onnx(model)
    outputs = run_nn(module, list(stacked.values()))
    assert len(outputs) == len(model.graph.output)
    for index, result in enumerate(outputs):
        reference = np.stack([r[index] for r in references])
        assert result.shape == reference.shape
        np.testing.assert_allclose(result, reference, rtol=1e-5, atol=1e-5)
    return module


def const(shape, seed=1, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


def node(op_type, inputs, outputs, **attributes):
    return helper.make_node(op_type, inputs, outputs, name=f"{op_type.lower()}_node", **attributes)


GEMM_CASES = {
    "plain": (dict(), {"x": [1, 4]}, {"w": const((4, 3))}, ["x", "w"]),
    "alpha_beta_transB_c_n": (
        dict(alpha=0.5, beta=2.0, transB=1), {"x": [1, 4]},
        {"w": const((3, 4)), "c": const((3,), 2)}, ["x", "w", "c"],
    ),
    "c_1n": (dict(beta=-1.5), {"x": [1, 4]}, {"w": const((4, 3)), "c": const((1, 3), 3)},
             ["x", "w", "c"]),
    "c_scalar": (dict(), {"x": [1, 4]}, {"w": const((4, 3)), "c": const((), 4)}, ["x", "w", "c"]),
    "transA_column": (
        dict(transA=1, alpha=-2.0), {"x": [4, 1]}, {"w": const((4, 3)), "c": const((3,), 5)},
        ["x", "w", "c"],
    ),
    "transA_transB": (
        dict(transA=1, transB=1), {"x": [4, 1]}, {"w": const((3, 4)), "c": const((1, 3), 6)},
        ["x", "w", "c"],
    ),
}


@pytest.mark.parametrize("case", GEMM_CASES)
def test_gemm(case):
    attributes, inputs, constants, operands = GEMM_CASES[case]
    model = make_model([node("Gemm", operands, ["y"], **attributes)], inputs, {"y": [1, 3]},
                       constants)
    module = check_against_onnxruntime(model)
    assert nn_ops(module) == Counter({"nn.gemm": 1})


@pytest.mark.parametrize(
    ("inputs", "operands", "constants", "output"),
    [
        ({"x": [1, 4]}, ["x", "w"], {"w": const((4, 3))}, [1, 3]),  # constant right operand
        ({"x": [4, 1]}, ["w", "x"], {"w": const((3, 4))}, [3, 1]),  # constant left, column
        ({"x": [1, 2, 4]}, ["x", "w"], {"w": const((4, 3))}, [1, 2, 3]),
        ({"x": [1, 4]}, ["x", "w"], {"w": const((4,))}, [1]),  # 1-D right operand
    ],
    ids=["right", "left_column", "rank3", "vector"],
)
def test_matmul(inputs, operands, constants, output):
    model = make_model([node("MatMul", operands, ["y"])], inputs, {"y": output}, constants)
    module = check_against_onnxruntime(model)
    assert nn_ops(module) == Counter({"nn.matmul": 1})


BROADCAST_CONSTANTS = {
    "vector": const((3,), 7, 0.5, 2.0),
    "column": const((2, 1), 8, 0.5, 2.0),
    "scalar": np.float32(1.75),
    "full": const((1, 2, 3), 9, -2.0, -0.5),
}


@pytest.mark.parametrize(
    ("op_type", "constant", "constant_first"),
    [
        (op_type, constant, first)
        for op_type in ("Add", "Sub", "Mul", "Div")
        for constant in BROADCAST_CONSTANTS
        for first in (False, True)
        if not (op_type == "Div" and first)  # 1 / random activation is ill-conditioned
    ],
)
def test_binary_with_constant(op_type, constant, constant_first):
    operands = ["c", "x"] if constant_first else ["x", "c"]
    model = make_model([node(op_type, operands, ["y"])], {"x": [1, 2, 3]}, {"y": [1, 2, 3]},
                       {"c": BROADCAST_CONSTANTS[constant]})
    module = check_against_onnxruntime(model)
    assert nn_ops(module) == Counter({f"nn.{op_type.lower()}": 1})


@pytest.mark.parametrize(
    ("op_type", "attributes", "nn_op"),
    [
        ("Relu", {}, "nn.relu"),
        ("LeakyRelu", {}, "nn.leaky_relu"),  # default alpha 0.01
        ("LeakyRelu", {"alpha": 0.3}, "nn.leaky_relu"),
        ("Sigmoid", {}, "nn.sigmoid"),
        ("Tanh", {}, "nn.tanh"),
    ],
)
def test_unary(op_type, attributes, nn_op):
    model = make_model([node(op_type, ["x"], ["y"], **attributes)], {"x": [1, 2, 5]},
                       {"y": [1, 2, 5]})
    module = check_against_onnxruntime(model)
    assert nn_ops(module) == Counter({nn_op: 1})


def test_leaky_relu_default_alpha_is_one_hundredth():
    model = make_model([node("LeakyRelu", ["x"], ["y"])], {"x": [1, 2]}, {"y": [1, 2]})
    outputs = run_nn(import_onnx(model), [np.array([[[-4.0, 3.0]]])])
    np.testing.assert_allclose(outputs[0], [[[-0.04, 3.0]]])


@pytest.mark.parametrize(
    ("opset", "inputs", "attributes", "constants"),
    [
        (9, ["x"], {"min": -0.5, "max": 1.5}, {}),
        (9, ["x"], {"min": -0.5}, {}),
        (9, ["x"], {"max": 0.25}, {}),
        (11, ["x", "lo", "hi"], {}, {"lo": np.float32(-1.0), "hi": np.float32(2.0)}),
        (13, ["x", "lo", "hi"], {}, {"lo": np.float32(-1.0), "hi": np.float32(2.0)}),
        (13, ["x", "lo"], {}, {"lo": np.float32(-0.75)}),
        (13, ["x", "", "hi"], {}, {"hi": np.float32(0.5)}),
        (13, ["x"], {}, {}),
    ],
    ids=["9_both", "9_min", "9_max", "11_both", "13_both", "13_min", "13_max", "13_none"],
)
def test_clip(opset, inputs, attributes, constants):
    model = make_model([node("Clip", inputs, ["y"], **attributes)], {"x": [1, 6]}, {"y": [1, 6]},
                       constants, opset=opset)
    module = check_against_onnxruntime(model)
    assert nn_ops(module) == Counter({"nn.clip": 1})


@pytest.mark.parametrize(
    ("opset", "axis", "shape", "reshapes"),
    [
        (11, 1, [1, 2, 3], 2),  # coerced to 2-D [1, 6]: normalised over both axes
        (11, None, [1, 2, 3], 2),  # default axis 1
        (11, -1, [1, 2, 3], 0),
        (11, 1, [1, 5], 0),
        (13, -1, [1, 2, 3], 0),
        (13, None, [1, 2, 3], 0),  # default axis -1
        (13, 1, [1, 2, 3], 0),  # a real single-axis softmax over axis 1: moved last and back
    ],
)
def test_softmax(opset, axis, shape, reshapes):
    attributes = {} if axis is None else {"axis": axis}
    model = make_model([node("Softmax", ["x"], ["y"], **attributes)], {"x": shape},
                       {"y": shape}, opset=opset)
    module = check_against_onnxruntime(model)
    expected = Counter({"nn.softmax": 1})
    if reshapes:
        expected["nn.reshape"] = reshapes
    if opset >= 13 and axis is not None and axis % len(shape) != len(shape) - 1:
        expected["nn.transpose"] = 2
    assert nn_ops(module) == expected


def test_softmax_opset11_axis1_normalises_over_trailing_axes():
    model = make_model([node("Softmax", ["x"], ["y"], axis=1)], {"x": [1, 2, 3]},
                       {"y": [1, 2, 3]}, opset=11)
    x = np.arange(6, dtype=np.float64).reshape(1, 1, 2, 3)
    (y,) = run_nn(import_onnx(model), [x])
    expected = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(y, expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("op_type", "inputs", "attributes", "constants", "shape_in", "shape_out", "opset"),
    [
        ("Flatten", ["x"], {"axis": 1}, {}, [1, 2, 3], [1, 6], 13),
        ("Flatten", ["x"], {"axis": 2}, {}, [1, 2, 3], [2, 3], 13),
        ("Flatten", ["x"], {}, {}, [1, 2, 3], [1, 6], 9),
        ("Reshape", ["x", "s"], {}, {"s": np.array([1, -1], np.int64)}, [1, 2, 3], [1, 6], 13),
        ("Reshape", ["x", "s"], {}, {"s": np.array([0, -1, 2], np.int64)}, [1, 2, 3], [1, 3, 2],
         13),
        ("Reshape", ["x", "s"], {}, {"s": np.array([0, 0, 3], np.int64)}, [2, 1, 3], [2, 1, 3],
         14),
        ("Reshape", ["x", "s"], {"allowzero": 0}, {"s": np.array([0, 3, 2], np.int64)},
         [1, 6], [1, 3, 2], 14),
        ("Reshape", ["x", "s"], {"allowzero": 1}, {"s": np.array([3, -1], np.int64)},
         [1, 2, 3], [3, 2], 14),
        ("Unsqueeze", ["x"], {"axes": [0, 3]}, {}, [2, 3], [1, 2, 3, 1], 11),
        ("Unsqueeze", ["x"], {"axes": [-1]}, {}, [2, 3], [2, 3, 1], 11),
        ("Unsqueeze", ["x", "a"], {}, {"a": np.array([1], np.int64)}, [2, 3], [2, 1, 3], 13),
        ("Squeeze", ["x"], {"axes": [2]}, {}, [1, 3, 1], [1, 3], 11),
        ("Squeeze", ["x", "a"], {}, {"a": np.array([0, -1], np.int64)}, [1, 3, 1], [3], 13),
        ("Squeeze", ["x"], {}, {}, [1, 3, 1, 2], [3, 2], 13),  # no axes: every 1
        ("Squeeze", ["x"], {}, {}, [1, 3, 1, 2], [3, 2], 11),
    ],
)
def test_reshapes(op_type, inputs, attributes, constants, shape_in, shape_out, opset):
    """Each reshape op followed by a Relu, so the output is computed."""
    model = make_model(
        [node(op_type, inputs, ["r"], **attributes), node("Relu", ["r"], ["y"])],
        {"x": shape_in}, {"y": shape_out}, constants, opset=opset,
    )
    module = check_against_onnxruntime(model)
    expected = Counter({"nn.relu": 1})
    if shape_in != shape_out:
        expected["nn.reshape"] = 1
    assert nn_ops(module) == expected


@pytest.mark.parametrize(
    ("nodes", "constants", "opset"),
    [
        ([node("Identity", ["x"], ["t"])], {}, 13),
        ([node("Dropout", ["x"], ["t", "mask"])], {}, 13),
        ([node("Dropout", ["x"], ["t", "mask"], ratio=0.3)], {}, 7),
        ([node("Dropout", ["x", "ratio"], ["t"])], {"ratio": np.float32(0.5)}, 13),
        ([node("Cast", ["x"], ["t"], to=TensorProto.FLOAT)], {}, 13),
        ([helper.make_node("Cast", ["x"], ["t"], name="c1", to=TensorProto.DOUBLE),
          helper.make_node("Cast", ["t"], ["t2"], name="c2", to=TensorProto.FLOAT),
          helper.make_node("Identity", ["t2"], ["t3"], name="i1"),
          helper.make_node("Identity", ["t3"], ["t4"], name="i2")], {}, 13),
    ],
    ids=["identity", "dropout_mask", "dropout_opset7", "dropout_ratio", "cast", "chain"],
)
def test_pass_through_ops_disappear(nodes, constants, opset):
    last = nodes[-1].output[0]
    model = make_model(nodes + [node("Tanh", [last], ["y"])], {"x": [1, 4]}, {"y": [1, 4]},
                       constants, opset=opset)
    module = check_against_onnxruntime(model)
    assert nn_ops(module) == Counter({"nn.tanh": 1})


def test_shape_subgraph_folds_away():
    """x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch_1d"], name="unsqueeze"),
        helper.make_node("Concat", ["batch_1d", "minus_one"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"], name="reshape"),
        helper.make_node("Relu", ["flat"], ["y"], name="relu"),
    ]
    constants = {
        "zero": np.array(0, np.int64),
        "axes": np.array([0], np.int64),
        "minus_one": np.array([-1], np.int64),
    }
    model = make_model(nodes, {"x": [1, 2, 4]}, {"y": [1, 8]}, constants, opset=13)
    module = check_against_onnxruntime(model)
    assert nn_ops(module) == Counter({"nn.reshape": 1, "nn.relu": 1})


def test_constant_nodes_fold_into_constants():
    nodes = [
        helper.make_node("Constant", [], ["c"], name="const",
                         value=numpy_helper.from_array(const((3,), 11))),
        helper.make_node("Mul", ["c", "c"], ["c2"], name="square"),  # constants only: folded
        helper.make_node("Add", ["x", "c2"], ["y"], name="add"),
    ]
    model = make_model(nodes, {"x": [1, 3]}, {"y": [1, 3]})
    module = check_against_onnxruntime(model)
    assert nn_ops(module) == Counter({"nn.add": 1})


def test_whole_network_of_mixed_ops():
    nodes = [
        node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Gemm", ["centred", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("LeakyRelu", ["h"], ["a"], name="act", alpha=0.2),
        helper.make_node("MatMul", ["a", "w2"], ["z"], name="fc2"),
        helper.make_node("Add", ["z", "b2"], ["logits"], name="bias2"),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=-1),
    ]
    constants = {"mean": const((5,), 12), "w1": const((8, 5), 13), "b1": const((8,), 14),
                 "w2": const((8, 3), 15), "b2": const((3,), 16)}
    check_against_onnxruntime(make_model(nodes, {"x": [1, 5]}, {"y": [1, 3]}, constants))


# --------------------------------------------------------------------------------- errors


def test_unsupported_op_names_node_and_operator():
    with pytest.raises(RtlflowError) as info:
        import_onnx(ONNX_DIR / "bad_unsupported_op.onnx")
    assert (info.value.node, info.value.op) == ("node_sin", "Sin")
    assert "node 'node_sin'" in str(info.value)
    assert "Sin" in str(info.value)


def test_dynamic_batch_is_compiled_as_batch_one_with_a_warning():
    with collect_warnings() as warnings:
        module = import_onnx(ONNX_DIR / "dynamic_batch.onnx")
    function = next(iter(module.ops))
    assert [tuple(a.type.get_shape()) for a in function.body.block.args] == [(1, 4)]
    assert warnings == [
        "the inputs and outputs have a leading (batch) dimension of dynamic size 'batch': "
        "compiled as batch 1, one inference per clock"
    ]


def batch_model(batch, reshape_to=None, feature="4"):
    """Gemm 4 -> 6 on inputs with a leading dimension ``batch``, optionally reshaped to
    ``reshape_to`` (a shape constant that repeats the batch, as exporters write it)."""
    rng = np.random.default_rng(5)
    constants = {"w": rng.normal(size=(6, 4)).astype(np.float32), "b": rng.normal(size=6).astype(np.float32)}
    nodes = [node("Gemm", ["x", "w", "b"], ["h"], transB=1)]
    out = [batch, 6]
    if reshape_to is not None:
        constants["s"] = np.array(reshape_to, dtype=np.int64)
        nodes.append(node("Reshape", ["h", "s"], ["y"]))
        out = reshape_to
    else:
        nodes[0].output[0] = "y"
    features = int(feature) if feature.isdigit() else feature
    return make_model(nodes, {"x": [batch, features]}, {"y": out}, constants)


def test_fixed_batch_other_than_one_is_compiled_as_batch_one():
    """A PyTorch export with a fixed batch of 789,444: batch 1, also where a Reshape's shape
    constant repeats the batch; the same model at batch 1 imports to the same IR."""
    with collect_warnings() as warnings:
        big = import_onnx(batch_model(789444, [789444, 2, 3]), name="m")
    assert warnings == [
        "the inputs and outputs have a leading (batch) dimension of 789444, taken for the "
        "batch: compiled as batch 1, one inference per clock"
    ]
    with collect_warnings() as none:
        one = import_onnx(batch_model(1, [1, 2, 3]), name="m")
    assert none == [] and str(big) == str(one)


def test_dynamic_feature_axis_is_rejected():
    with pytest.raises(RtlflowError) as info:
        import_onnx(batch_model(1, feature="features"))
    assert "input 'x' has a dynamic dimension 'features' at axis 1" in str(info.value)


def test_small_shared_leading_size_stays_a_dimension_with_a_warning():
    """Rows of a graph network or tokens: a shared leading size below BATCH_ROWS is computed
    as it is, with a warning in case it was meant as the batch."""
    with collect_warnings() as warnings:
        module = check_against_onnxruntime(batch_model(8))
    function = next(iter(module.ops))
    assert tuple(function.body.block.args[0].type.get_shape()) == (8, 4)
    assert warnings == [
        "the inputs and outputs share a leading dimension of 8: compiled as 8 rows computed "
        "at once; if it is a batch, export the model with batch 1"
    ]


def test_leading_axes_that_differ_are_not_taken_for_a_batch():
    """Inputs and outputs whose leading sizes differ (here 3 rows in, 4 out) have no batch."""
    model = make_model(
        [node("Transpose", ["x"], ["t"], perm=[1, 0]), node("Relu", ["t"], ["y"])],
        {"x": [3, 4]}, {"y": [4, 3]}, opset=13,
    )
    with collect_warnings() as warnings:
        module = import_onnx(model)
    function = next(iter(module.ops))
    assert warnings == [] and tuple(function.body.block.args[0].type.get_shape()) == (3, 4)


def test_truncated_file_is_rejected():
    with pytest.raises(RtlflowError, match="bad_truncated.onnx"):
        import_onnx(ONNX_DIR / "bad_truncated.onnx")


def test_text_file_is_rejected(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("This is a text file, not a protobuf model.\n")
    with pytest.raises(RtlflowError, match="notes.onnx"):
        import_onnx(path)


def test_missing_file_is_rejected(tmp_path):
    with pytest.raises(RtlflowError, match="no such ONNX file"):
        import_onnx(tmp_path / "missing.onnx")


def test_custom_domain_op_is_rejected():
    graph = helper.make_graph(
        [helper.make_node("FancyAct", ["x"], ["y"], name="fancy", domain="com.example")],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)],
        ir_version=8,
    )
    with pytest.raises(RtlflowError) as info:
        import_onnx(model)
    assert (info.value.node, info.value.op) == ("fancy", "FancyAct")
    assert "com.example" in str(info.value) and "node 'fancy' (FancyAct)" in str(info.value)


def test_old_opset_is_upgraded():
    """Opsets 1-6 go through onnx.version_converter; the model still computes as onnxruntime
    says (checked on the upgraded model: onnxruntime reads opset 7 on)."""
    rng = np.random.default_rng(7)
    w, b = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    graph = helper.make_graph(
        [node("Gemm", ["x", "w", "b"], ["h"], broadcast=1), node("Relu", ["h"], ["y"])],
        "old",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
         for n, s in (("x", [1, 3]), ("w", [3, 5]), ("b", [5]))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 6)], ir_version=3)
    with collect_warnings() as warnings:
        module = import_onnx(model)
    assert warnings == ["the model's ONNX opset 6 was upgraded to opset 13"]
    x = rng.normal(size=(1, 3)).astype(np.float32)
    (ours,) = run_nn(module, [x])
    np.testing.assert_allclose(ours[0], np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-6)


def test_custom_domain_without_an_opset_import_is_assumed_version_one():
    """QONNX model-zoo files use their quantizers' domain without importing an opset for it."""
    model = onnx.load(DATA / "models" / "jet_tagger_w6a6.qonnx.onnx")
    declared = onnx.load(DATA / "models" / "jet_tagger_w6a6.qonnx.onnx")
    kept = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    with collect_warnings() as warnings:
        module = import_onnx(model, name="m")
    assert warnings == [
        "the model declares no opset for domain 'qonnx.custom_op.general' (its Quant nodes): "
        "assumed version 1"
    ]
    assert str(module) == str(import_onnx(declared, name="m"))


@pytest.mark.parametrize(
    ("nodes", "constants", "node_name"),
    [
        ([node("Cast", ["x"], ["y"], to=TensorProto.INT32)], {}, "cast_node"),
        ([node("Dropout", ["x", "ratio", "training"], ["y"])],
         {"ratio": np.float32(0.5), "training": np.array(True)}, "dropout_node"),
        ([node("Squeeze", ["x", "a"], ["y"])], {"a": np.array([1], np.int64)}, "squeeze_node"),
    ],
    ids=["cast_to_int", "dropout_training", "squeeze_non_unit_axis"],
)
def test_unbuildable_nodes_are_rejected(nodes, constants, node_name):
    graph = helper.make_graph(
        nodes, "bad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in constants.items()],
    )
    graph.output[0].type.tensor_type.shape.SetInParent()  # rank unknown, shape field present
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    with pytest.raises(RtlflowError) as info:
        import_onnx(model)
    assert info.value.node == node_name


@pytest.mark.parametrize(
    ("op_type", "constant"),
    [("Reshape", np.array([0, 3, 0], np.int64)), ("Squeeze", np.array([3], np.int64))],
)
def test_out_of_range_reshape_is_an_rtlflow_error(op_type, constant):
    graph = helper.make_graph(
        [node(op_type, ["x", "c"], ["y"])], "bad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 2])],
        [numpy_helper.from_array(constant, "c")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    with pytest.raises(RtlflowError):
        import_onnx(model)

"""Hostile ONNX files (``hostile.py``): every damaged model is compiled or refused in one line
naming the node and operator (or the file), never a traceback, never a hang; on the command line
the refusal is one ``rtlflow: error:`` line and exit status 2. Then the bugs the fuzz found, each
as a model built here."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import rtlflow
from rtlflow.cli import main
from rtlflow.errors import RtlflowError
from tests.unit.hostile import (
    DATA,
    MUTATORS,
    cases,
    refusal_problem,
    run_case,
    seed_models,
    tiny_attention,
)

#: mutated files per category (up to the fixed-point level)
PER_CATEGORY = 32

#: categories whose every file must be refused: the damage leaves no model to build
ALWAYS_REFUSED = {
    "truncated", "dangling_edge", "cycle", "zero_dimension", "enormous_dimension",
    "nan_weights", "unknown_opset", "unknown_domain", "wrong_attribute_type", "integer_input",
    "unknown_op", "duplicate_output", "empty_graph", "missing_outputs",
}  # fmt: skip

#: seed models quick enough to lower to the hardware level and write as Verilog
QUICK = ("old_opset7", "old_opset9", "keras_matmul_add", "torch_dynamo_opset18", "tiny_attention")


@pytest.fixture(scope="module")
def models() -> dict[str, onnx.ModelProto]:
    return seed_models()


def check_outcomes(outcomes) -> Counter:
    """No traceback, no hang, one-line refusals; the count of each kind."""
    bugs = [
        f"{case}: {outcome.kind} {outcome.message}\n{outcome.frames}"
        for case, outcome in outcomes
        if outcome.kind in ("traceback", "hang") or refusal_problem(outcome) is not None
    ]
    assert not bugs, "\n".join(bugs)
    return Counter(outcome.kind for _, outcome in outcomes)


@pytest.mark.parametrize("category", list(MUTATORS))
def test_hostile_files_compile_or_are_refused_in_one_line(category, models):
    outcomes = [
        (case, run_case(case.data, timeout_s=60, stop_at="fxp"))
        for case in cases(models, PER_CATEGORY, seed=0, categories=(category,))
    ]
    assert len(outcomes) == PER_CATEGORY  # the mutator found something to damage every time
    kinds = check_outcomes(outcomes)
    if category in ALWAYS_REFUSED:
        assert kinds == {"refused": PER_CATEGORY}, kinds
    else:  # damage that may leave a valid model (a weight's value, a broadcastable shape)
        assert kinds["refused"] > 0, kinds


@pytest.mark.parametrize(
    "category", ["bit_flips", "wrong_rank", "bad_attribute_value", "bad_index_constant"]
)
def test_hostile_files_to_the_hardware_level(category, models):
    """The categories that leave some models valid, lowered to the hardware level (the passes
    after the fixed-point one see what the importer let through)."""
    quick = {name: models[name] for name in QUICK}
    outcomes = [
        (case, run_case(case.data, timeout_s=60, stop_at="verilog"))
        for case in cases(quick, 12, seed=1, categories=(category,))
    ]
    kinds = check_outcomes(outcomes)
    assert kinds["compiled"] + kinds["refused"] == 12


def test_accepted_hostile_files_still_write_verilog(models):
    """A few mutated models that compile: their Verilog, testbench and report are written."""
    quick = {name: models[name] for name in ("old_opset7", "old_opset9", "keras_matmul_add")}
    written = 0
    for case in cases(quick, 30, seed=2, categories=("bit_flips", "wrong_rank")):
        if run_case(case.data, stop_at="fxp").kind != "compiled":
            continue
        outcome = run_case(case.data, timeout_s=120, stop_at="verilog", write=True)
        check_outcomes([(case, outcome)])
        written += outcome.kind == "compiled"
        if written == 3:
            break
    assert written == 3


def test_the_time_bound_reports_a_hang(monkeypatch):
    import time

    monkeypatch.setattr(rtlflow, "compile", lambda *args, **kwargs: time.sleep(5))
    outcome = run_case(b"", timeout_s=0.2)
    assert outcome.kind == "hang"


# ---- the command line -------------------------------------------------------------------------


def hostile_file(models, category: str, tmp_path):
    case = next(iter(cases(models, 1, seed=3, categories=(category,))))
    path = tmp_path / f"{category}.onnx"
    path.write_bytes(case.data)
    return path


@pytest.mark.parametrize("category", ["truncated", "nan_weights", "integer_input"])
def test_command_line_refuses_in_one_line_with_status_2(category, models, tmp_path):
    path = hostile_file(models, category, tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "rtlflow.cli", "compile", str(path), "-o", str(tmp_path / "out")],
        capture_output=True, text=True, check=False, timeout=120,
    )
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr
    assert len(lines) == 1 and lines[0].startswith("rtlflow: error: "), run.stderr
    assert "Traceback" not in run.stderr + run.stdout


@pytest.mark.parametrize(
    "category", ["cycle", "enormous_dimension", "wrong_rank", "unknown_opset", "missing_outputs"]
)
def test_main_refuses_in_one_line_with_status_2(category, models, tmp_path, capsys):
    path = hostile_file(models, category, tmp_path)
    status = main(["compile", str(path), "-o", str(tmp_path / "out"), "--stop-at", "fxp"])
    err = capsys.readouterr().err.strip().splitlines()
    if category == "wrong_rank" and status == 0:  # this damage can leave a valid model
        return
    assert status == 2 and len(err) == 1 and err[0].startswith("rtlflow: error: "), err


# ---- the bugs the fuzz found, each built explicitly ---------------------------------------------


def graph_model(nodes, inputs, outputs, constants=None, opset=13, input_type=TensorProto.FLOAT):
    """A model with inputs and outputs ``{name: shape}`` (unchecked: it is meant to be bad); an
    output shape None leaves the output's rank unknown."""
    graph = helper.make_graph(
        nodes,
        "bad",
        [helper.make_tensor_value_info(n, input_type, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in (constants or {}).items()],
    )
    for output in graph.output:
        output.type.tensor_type.shape.SetInParent()
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def gemm(weight, bias=None, name="dense", **attributes):
    """x [1, 3] → Gemm with weight ``w`` (and bias ``b``) → y."""
    inputs = ["x", "w"] + (["b"] if bias is not None else [])
    constants = {"w": np.asarray(weight, np.float32)}
    if bias is not None:
        constants["b"] = np.asarray(bias, np.float32)
    node = helper.make_node("Gemm", inputs, ["y"], name=name, **attributes)
    return graph_model([node], {"x": [1, 3]}, {"y": None}, constants)


def refusal(model, stop_at="fxp") -> RtlflowError:
    with pytest.raises(RtlflowError) as info:
        rtlflow.compile(model, stop_at=stop_at)
    assert "\n" not in str(info.value)
    return info.value


W = np.ones((3, 2), np.float32)


@pytest.mark.parametrize(
    ("model", "node", "message"),
    [
        # NaN weights reached the fixed-point conversion: ValueError "cannot quantize NaN"
        (gemm(np.where(np.eye(3, 2) > 0, np.nan, 1.0)), "dense",
         "the constant 'w' holds NaN (not a number) values"),
        # an infinite bias
        (gemm(W, [1.0, np.inf]), "dense", "the constant 'b' holds infinite values"),
        # Gemm's C emptied to [0] or given rank 2 the wrong way round: numpy broadcast errors
        # in nn-form-dense
        (gemm(W, np.zeros(0)), "dense", "C of shape [0] does not broadcast to [1, 2]"),
        (gemm(W, np.zeros((2, 1))), "dense", "C of shape [2, 1] does not broadcast to [1, 2]"),
        # the inner dimensions differ: a VerifyException of nn.dense
        (gemm(np.ones((2, 0)), transB=1), "dense", "do not match: 3 against 0"),
        (gemm(np.ones((4, 2))), "dense", "do not match: 3 against 4"),
    ],
    ids=["nan_weight", "inf_bias", "empty_bias", "bias_2x1", "empty_weight", "inner_mismatch"],
)
def test_bad_gemm_constants_are_refused_by_node(model, node, message):
    error = refusal(model)
    assert (error.node, error.op) == (node, "Gemm") and message in str(error)


def test_infinite_clip_bounds_still_mean_no_bound():
    model = graph_model(
        [helper.make_node("Clip", ["x", "low", "high"], ["y"], name="clip")],
        {"x": [1, 3]}, {"y": [1, 3]}, {"low": np.float32(-1.0), "high": np.float32(np.inf)},
    )
    compiled = rtlflow.compile(model, stop_at="fxp")
    y = compiled.predict(np.array([[-3.0, 0.5, 9.0]]))
    np.testing.assert_array_equal(y.reshape(-1), [-1.0, 0.5, 9.0])


@pytest.mark.parametrize(
    ("bounds", "message"),
    [((np.nan, 1.0), "a bound is NaN"), ((np.inf, np.inf), "leave no finite result")],
)
def test_nan_or_impossible_clip_bounds_are_refused(bounds, message):
    """A NaN bound was dropped as if it were no bound: silently not what ONNX computes."""
    low, high = (helper.make_tensor(n, TensorProto.FLOAT, [], [v]) for n, v in zip("lh", bounds))
    nodes = [
        helper.make_node("Constant", [], ["low"], value=low),
        helper.make_node("Constant", [], ["high"], value=high),
        helper.make_node("Clip", ["x", "low", "high"], ["y"], name="clip"),
    ]
    error = refusal(graph_model(nodes, {"x": [1, 3]}, {"y": [1, 3]}))
    assert (error.node, error.op) == ("clip", "Clip") and message in str(error)


def qdq_clip(low: float, high: float) -> onnx.ModelProto:
    """QuantizeLinear → Clip → DequantizeLinear on x [1, 4]."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="quantize"),
        helper.make_node("Clip", ["q", "low", "high"], ["c"], name="clip"),
        helper.make_node("DequantizeLinear", ["c", "s", "z"], ["y"], name="dequantize"),
    ]
    constants = {"s": np.float32(0.5), "z": np.int8(0), "low": np.float32(low),
                 "high": np.float32(high)}
    return graph_model(nodes, {"x": [1, 4]}, {"y": [1, 4]}, constants)


def test_infinite_clip_bound_between_quantize_and_dequantize():
    """math.floor(inf) raised OverflowError: an infinite bound is no bound there too."""
    compiled = rtlflow.compile(qdq_clip(-2.0, np.inf), stop_at="fxp")
    y = compiled.predict(np.array([[-9.0, -0.5, 0.5, 9.0]]))
    np.testing.assert_array_equal(y.reshape(-1), [-1.0, -0.5, 0.5, 9.0])  # int8 levels from -2


@pytest.mark.parametrize(
    ("shape", "size"),
    [([1, 2**31], "2,147,483,648"), ([3, 10**9], "3,000,000,000"), ([1, 2**62], None)],
)
def test_enormous_inputs_are_refused_before_anything_is_allocated(shape, size):
    """Shapes of 2**31 and more made the importer allocate terabytes (MemoryError)."""
    model = graph_model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": shape}, {"y": shape}
    )
    message = str(refusal(model))
    assert "input 'x'" in message and "more than the 16,777,216" in message
    assert size is None or f"has {size} elements" in message


def test_enormous_results_are_refused_by_node():
    model = graph_model(
        [helper.make_node("Expand", ["x", "shape"], ["y"], name="expand")],
        {"x": [1, 1]}, {"y": None}, {"shape": np.array([2**13, 2**13], np.int64)},
    )
    error = refusal(model)
    assert error.node == "expand" and "67,108,864 elements" in str(error)


def test_attention_over_a_million_tokens_is_refused_without_computing_its_shape():
    """The shape of a MatMul was computed by multiplying zeros: the scores of 10**6 tokens
    asked for 3.6 TiB (MemoryError)."""
    model = tiny_attention()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 10**6
    error = refusal(model, stop_at="nn")
    assert (error.node, error.op) == ("scores", "MatMul")
    assert "1,000,000,000,000 elements" in str(error)


def test_integer_input_to_arithmetic_is_refused():
    """An INT64 input into a Gemm compiled, read as if it were a float; ONNX forbids it."""
    model = gemm(W)
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64
    error = refusal(model)
    assert (error.node, error.op) == ("dense", "Gemm")
    assert "input 'x' is an integer tensor" in str(error)


def test_cast_of_an_integer_input_to_float_is_refused():
    """The Cast aliased the integer tensor, and the Gemm after it failed nn verification."""
    nodes = [
        helper.make_node("Cast", ["x"], ["f"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["f", "w"], ["y"], name="product"),
    ]
    model = graph_model(nodes, {"x": [1, 3]}, {"y": [1, 2]}, {"w": W}, input_type=TensorProto.INT64)
    error = refusal(model)
    assert (error.node, error.op) == ("cast", "Cast") and "to a float type" in str(error)


def test_integer_input_to_a_quantizer_is_refused():
    model = onnx.load(DATA / "models" / "jet_tagger_w6a6.qonnx.onnx")
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.INT32
    error = refusal(model)
    assert error.op == "Quant" and "is an integer tensor" in str(error)


@pytest.mark.parametrize(
    ("name", "value", "type_name"),
    [("signed", b"yes", "STRING"), ("narrow", [1, 2], "INTS"), ("rounding_mode", 3, "INT")],
)
def test_quant_attribute_of_the_wrong_type_is_refused(name, value, type_name):
    """The checker knows no QONNX schema: signed=[1, 2] was taken as true."""
    model = onnx.load(DATA / "models" / "jet_tagger_w6a6.qonnx.onnx")
    quant = next(n for n in model.graph.node if n.op_type == "Quant")
    kept = [a for a in quant.attribute if a.name != name]
    del quant.attribute[:]
    quant.attribute.extend([*kept, helper.make_attribute(name, value)])
    error = refusal(model)
    assert error.node == quant.name and error.op == "Quant"
    assert f"attribute '{name}' must be of type" in str(error) and type_name in str(error)


def test_opset_newer_than_onnx_knows_is_refused():
    """Opset 99 compiled with the newest schemas onnx knows."""
    model = gemm(W)
    model.opset_import[0].version = 99
    assert "ONNX opset 99 is newer than" in str(refusal(model))


def test_no_outputs_or_an_output_listed_twice_is_refused():
    model = gemm(W)
    del model.graph.output[:]
    assert "the model has no outputs" in str(refusal(model))
    model = gemm(W)
    model.graph.output.append(model.graph.output[0])
    assert "output 'y' is listed more than once" in str(refusal(model))


def conv_model(**changes) -> onnx.ModelProto:
    """x [1, 1, 6, 6] → Conv 3x3 (2 channels, bias) → BatchNormalization → MaxPool 2x2."""
    constants = {"k": np.ones((2, 1, 3, 3), np.float32), "kb": np.zeros(2, np.float32),
                 "g": np.ones(2, np.float32), "be": np.zeros(2, np.float32),
                 "m": np.zeros(2, np.float32), "v": np.ones(2, np.float32)}
    conv = {"kernel_shape": [3, 3]}
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    for key, value in changes.items():
        target = constants if key in constants else conv if key.startswith("conv_") else pool
        target[key.removeprefix("conv_").removeprefix("pool_")] = value
    nodes = [
        helper.make_node("Conv", ["x", "k", "kb"], ["c"], name="conv", **conv),
        helper.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["n"], name="norm"),
        helper.make_node("MaxPool", ["n"], ["y"], name="pool", **pool),
    ]
    return graph_model(nodes, {"x": [1, 1, 6, 6]}, {"y": None}, constants)


@pytest.mark.parametrize(
    ("changes", "node", "message"),
    [
        # a VerifyException of nn.conv
        ({"kb": np.zeros(3, np.float32)}, "conv", "bias of 3 values for 2 output channels"),
        # kernel_shape against a weight with an empty axis: NaN in the conv-style estimate
        ({"k": np.ones((2, 1, 3, 0), np.float32)}, "conv", "does not fit kernel_shape [3, 3]"),
        # numpy reshape errors
        ({"v": np.ones(3, np.float32)}, "norm", "parameters of [2, 2, 2, 3] values for 2"),
        # IndexError in Window.create, VerifyException of nn.pool
        ({"pool_strides": [2]}, "pool", "invalid strides [2]"),
        ({"pool_strides": [2, 2, 3]}, "pool", "invalid strides [2, 2, 3]"),
    ],
    ids=["conv_bias", "conv_kernel", "batch_norm", "pool_strides_short", "pool_strides_long"],
)
def test_bad_conv_network_constants_are_refused_by_node(changes, node, message):
    error = refusal(conv_model(**changes))
    assert error.node == node and message in str(error)


def test_layer_norm_scale_of_the_wrong_size_is_refused():
    model = tiny_attention()
    gamma = next(t for t in model.graph.initializer if t.name == "gamma")
    gamma.CopyFrom(numpy_helper.from_array(np.ones(0, np.float32), "gamma"))
    error = refusal(model)
    assert (error.node, error.op) == ("norm", "LayerNormalization")
    assert "does not broadcast to the normalised axes [4]" in str(error)


def test_operands_that_do_not_broadcast_are_refused():
    model = graph_model(
        [helper.make_node("Add", ["x", "c"], ["y"], name="add")],
        {"x": [1, 3]}, {"y": [1, 3]}, {"c": np.zeros(0, np.float32)},
    )
    error = refusal(model)
    assert (error.node, error.op) == ("add", "Add") and "do not broadcast" in str(error)


@pytest.mark.parametrize(
    ("nodes", "constants", "message"),
    [
        ([helper.make_node("Flatten", ["x"], ["y"], name="op", axis=-99)], {},
         "axis -99 is outside a rank-2 tensor"),
        ([helper.make_node("Concat", ["x", "x"], ["y"], name="op", axis=3)], {},
         "axis 3 is outside a rank-2 tensor"),
        ([helper.make_node("ReduceMean", ["x"], ["y"], name="op", axes=[99])], {},
         "axis 99 is outside a rank-2 tensor"),
        ([helper.make_node("Split", ["x"], ["y"], name="op", axis=-5)], {},
         "axis -5 is outside a rank-2 tensor"),
        ([helper.make_node("Reshape", ["x", "s"], ["y"], name="op")],
         {"s": np.array([-5, 3], np.int64)}, "has a size below -1"),
        ([helper.make_node("Gather", ["x", "i"], ["y"], name="op", axis=1)],
         {"i": np.array([0, 5], np.int64)}, "indices from 0 to 5 for an axis of 3"),
        ([helper.make_node("Pad", ["x", "p"], ["y"], name="op")],
         {"p": np.array([0, 1, 0], np.int64)}, "two sizes per axis"),
    ],
    ids=["flatten", "concat", "reduce", "split", "reshape", "gather", "pad"],
)
def test_axes_and_index_constants_out_of_range_are_refused(nodes, constants, message):
    """Axes wrapped around (axis % rank), a Reshape size of -5 was taken for -1, a constant
    Gather index outside the axis read zero: all compiled silently."""
    model = graph_model(nodes, {"x": [1, 3]}, {"y": None}, constants)
    error = refusal(model)
    assert error.node == "op" and message in str(error)


def test_bias_wider_than_64_bits_is_refused_by_node():
    """Gemm beta 1e30 in a quantization-aware model: its exact bias needs more than 64 bits
    (ValueError from dense_from_numpy)."""
    model = onnx.load(DATA / "models" / "jet_tagger_w6a6.qonnx.onnx")
    dense = next(n for n in model.graph.node if n.op_type == "Gemm")
    kept = [a for a in dense.attribute if a.name != "beta"]
    del dense.attribute[:]
    dense.attribute.extend([*kept, helper.make_attribute("beta", 1e30)])
    error = refusal(model)
    assert error.node == dense.name and "wider than the 64 bits" in str(error)


def test_checker_messages_name_the_node_on_one_line():
    model = gemm(W, [0.0, 0.0])
    model.graph.node[0].input[2] = "nowhere"
    message = str(refusal(model))
    assert message.startswith("malformed ONNX model: ") and "name: dense OpType: Gemm" in message


def test_declared_output_shape_that_differs_is_a_warning():
    model = graph_model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": [1, 3]}, {"y": [3]}
    )
    warnings = rtlflow.compile(model, stop_at="nn").warnings
    assert warnings == ["output 'y' is computed with shape [1, 3], but the model declares [3]"]

"""The nn, fxp and circuit dialects: FixedType syntax, print/parse round trips, op verifiers."""

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from xdsl.parser import Parser
from xdsl.utils.exceptions import ParseError, VerifyException

from rtlflow.dialects import context
from rtlflow.dialects.fxp import FixedType
from rtlflow.frontend import import_onnx
from rtlflow.pipeline import Options, lower
from rtlflow.numerics.fixed_point import FixedFormat

ONNX_DIR = Path(__file__).parents[1] / "data" / "onnx"
VALID_MODELS = sorted(p for p in ONNX_DIR.glob("*.onnx") if not p.name.startswith("bad_"))


def parse(text):
    return Parser(context(), text).parse_module()


def assert_round_trip(module):
    text = str(module)
    parsed = parse(text)
    parsed.verify()
    assert str(parsed) == text


# ------------------------------------------------------------------------------- FixedType


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        (FixedFormat(16, 6), "!fxp.fixed<16, 6>"),
        (FixedFormat(8, 2, signed=False), "!fxp.fixed<8, 2, unsigned>"),
        (FixedFormat(8, 2, False, "RND", "SAT"), "!fxp.fixed<8, 2, unsigned, RND, SAT>"),
        (FixedFormat(12, 4, True, "RND", "WRAP"), "!fxp.fixed<12, 4, RND, WRAP>"),
        (FixedFormat(12, 4, True, "TRN", "SAT"), "!fxp.fixed<12, 4, TRN, SAT>"),
        (FixedFormat(8, -2), "!fxp.fixed<8, -2>"),
        (FixedFormat(70, 75, signed=False), "!fxp.fixed<70, 75, unsigned>"),
    ],
)
def test_fixed_type_print_parse(fmt, text):
    attr = FixedType.from_format(fmt)
    assert str(attr) == text
    parsed = Parser(context(), text).parse_attribute()
    assert parsed == attr
    assert parsed.format == fmt


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("!fxp.fixed<8, 2, SAT>", FixedFormat(8, 2, True, "TRN", "SAT")),
        ("!fxp.fixed<8, 2, RND>", FixedFormat(8, 2, True, "RND", "WRAP")),
        ("!fxp.fixed<8, 2, SAT, unsigned, RND>", FixedFormat(8, 2, False, "RND", "SAT")),
    ],
)
def test_fixed_type_parses_modes_in_any_order(text, fmt):
    assert Parser(context(), text).parse_attribute().format == fmt


def test_fixed_type_rejects_unknown_mode():
    with pytest.raises(ParseError, match="unknown fixed-point mode"):
        Parser(context(), "!fxp.fixed<8, 2, FLOOR>").parse_attribute()


def test_fixed_type_rejects_zero_width():
    with pytest.raises(VerifyException, match="at least 1 bit"):
        Parser(context(), "!fxp.fixed<0, 0>").parse_attribute()


# ------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("path", VALID_MODELS, ids=lambda p: p.stem)
def test_imported_nn_module_round_trips(path):
    assert_round_trip(import_onnx(path))


@pytest.fixture(scope="module", params=VALID_MODELS, ids=lambda p: p.stem)
def lowered(request):
    """Every exporter's file lowered with the IR verified after every pass (a compile verifies
    it at the end of each level; ``rtlflow opt``, behind the FileCheck tests, after every pass)."""
    return lower(import_onnx(request.param), Options(), stop_at="circuit", verify_each=True)


@pytest.mark.parametrize("level", ["fxp", "circuit"])
def test_lowered_levels_round_trip(lowered, level):
    assert set(lowered) == {"nn", "fxp", "circuit"}
    assert_round_trip(lowered[level])


def test_nn_level_with_dense_round_trips(lowered):
    assert "nn.dense" in str(lowered["nn"])
    assert_round_trip(lowered["nn"])


def two_output_model():
    """h = x @ W.T feeds a sigmoid table and is also an output: the circuit delays h."""
    weight = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["h"], name="gemm", transB=1),
         helper.make_node("Sigmoid", ["h"], ["y"], name="sigmoid")],
        "two_outputs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(weight, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def test_circuit_delay_round_trips():
    levels = lower(import_onnx(two_output_model()), Options(), stop_at="circuit")
    assert "circuit.delay" in str(levels["circuit"])
    for level in ("fxp", "circuit"):
        assert_round_trip(levels[level])


def test_stop_at_fxp_returns_levels_up_to_fxp():
    levels = lower(import_onnx(ONNX_DIR / "old_opset7.onnx"), Options(), stop_at="fxp")
    assert list(levels) == ["nn", "fxp"]
    assert "circuit." not in str(levels["fxp"])


# -------------------------------------------------------------------------------- verifiers

T5 = "tensor<1x5x!fxp.fixed<16, 6>>"
T3 = "tensor<1x3x!fxp.fixed<16, 6>>"
T2 = "tensor<1x2x!fxp.fixed<16, 6>>"


def module_text(arg_type, result_type, body):
    return (
        "builtin.module {\n"
        f"  func.func @f(%x: {arg_type}) -> {result_type} {{\n"
        f"    {body}\n"
        f"    func.return %y : {result_type}\n"
        "  }\n"
        "}\n"
    )


def dense(weight="[[1, 2, 3], [4, 5, 6]]", weight_shape="2x3", bias="[7, 8]", bias_shape="2",
          reuse="1", arg=T3, result=T2):
    body = (
        f'%y = fxp.dense %x {{node = "d", weight = dense<{weight}> : tensor<{weight_shape}xi64>, '
        f"weight_type = !fxp.fixed<16, 6>, bias = dense<{bias}> : tensor<{bias_shape}xi64>, "
        f"bias_type = !fxp.fixed<16, 6>, accumulator = !fxp.fixed<32, 12>, "
        f"reuse_factor = {reuse} : i64}} : {arg} -> {result}"
    )
    return module_text(arg, result, body)


def softmax(exp_type="!fxp.fixed<18, 1, unsigned>", inv_type="!fxp.fixed<18, 1, unsigned>"):
    body = (
        '%y = fxp.softmax %x {node = "s", exp_index_bits = 10 : i64, exp_step_log2 = -6 : i64, '
        f"exp_type = {exp_type}, inv_start = 0.000000e+00 : f64, inv_index_bits = 10 : i64, "
        f"inv_step_log2 = -7 : i64, inv_type = {inv_type}}} : {T5} -> {T5}"
    )
    return module_text(T5, T5, body)


def table(function="tanh", start="-4.000000e+00"):
    body = (
        f'%y = fxp.table %x {{node = "t", function = "{function}", start = {start} : f64, '
        f"index_bits = 10 : i64, step_log2 = -7 : i64}} : {T5} -> {T5}"
    )
    return module_text(T5, T5, body)


def scale_shift(shape="1x3"):
    body = (
        f'%y = fxp.scale_shift %x {{node = "a", scale = dense<1> : tensor<{shape}xi64>, '
        f"scale_type = !fxp.fixed<8, 2>, offset = dense<0> : tensor<{shape}xi64>, "
        f"offset_type = !fxp.fixed<8, 2>}} : {T3} -> {T3}"
    )
    return module_text(T3, T3, body)


def fxp_reshape(result="tensor<5x1x!fxp.fixed<16, 6>>"):
    return module_text(T5, result, f'%y = fxp.reshape %x {{node = "r"}} : {T5} -> {result}')


def delay(cycles="2"):
    return module_text(T5, T5, f"%y = circuit.delay %x {{cycles = {cycles} : i64}} : {T5}")


def unit(latency="1", ii="1", extra=""):
    return module_text(
        T5,
        T5,
        f'%y = circuit.unit %x {{node = "r", module = "relu_5", registers = array<i64: 0>, '
        f"latency = {latency} : i64, ii = {ii} : i64}} : ({T5}) -> {T5} {{\n"
        f"    ^bb0(%0: {T5}):\n"
        f'      %r = fxp.relu %0 {{node = "r"}} : {T5} -> {T5}\n{extra}'
        f"      circuit.yield %r : {T5}\n"
        "    }",
    )


def nn_reshape(result="tensor<1x8xf32>"):
    arg = "tensor<1x2x4xf32>"
    return module_text(arg, result, f'%y = nn.reshape %x {{node = "r"}} : {arg} -> {result}')


def nn_add(result="tensor<2x3xf32>", rhs="tensor<3xf32>"):
    body = (
        f'%c = nn.constant {{value = dense<1.0> : {rhs}, node = "c"}} : {rhs}\n'
        f'    %y = nn.add %x, %c {{node = "a"}} : tensor<2x3xf32>, {rhs} -> {result}'
    )
    return module_text("tensor<2x3xf32>", result, body)


def nn_constant(value_type="tensor<3xf32>"):
    body = (
        f'%c = nn.constant {{value = dense<1.0> : {value_type}, node = "c"}} : tensor<3xf32>\n'
        '    %y = nn.add %x, %c {node = "a"} : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>'
    )
    return module_text("tensor<3xf32>", "tensor<3xf32>", body)


VALID = [dense(), softmax(), table(), scale_shift(), fxp_reshape(), delay(), unit(),
         nn_reshape(), nn_add(), nn_constant()]


@pytest.mark.parametrize("text", VALID, ids=range(len(VALID)))
def test_well_formed_ops_verify(text):
    module = parse(text)
    module.verify()
    assert str(parse(str(module))) == str(module)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (dense(weight="[[1, 2], [3, 4]]", weight_shape="2x2"), "weight shape"),
        (dense(result=T3, weight="[[1, 2, 3]]", weight_shape="1x3", bias="[1]", bias_shape="1"),
         "weight shape"),
        (dense(bias="[7, 8, 9]", bias_shape="3"), "bias must have shape"),
        (dense(reuse="0"), "reuse_factor"),
        (dense(arg="tensor<1x3xf32>"), "fxp.fixed"),
        (softmax(exp_type="!fxp.fixed<18, 1>"), "unsigned"),
        (softmax(inv_type="!fxp.fixed<18, 1, RND, SAT>"), "unsigned"),
        (table(start="-4.100000e+00"), "multiple of the input LSB"),
        (table(function="sine"), "no table function"),
        (scale_shift(shape="3"), "constant shape"),
        (fxp_reshape(result="tensor<1x4x!fxp.fixed<16, 6>>"), "number of elements"),
        (fxp_reshape(result="tensor<5x1x!fxp.fixed<16, 7>>"), "number format"),
        (delay(cycles="0"), "at least one cycle"),
        (delay(cycles="-3"), "at least one cycle"),
        (unit(latency="-1"), "latency"),
        (unit(ii="0"), "ii"),
        (unit(extra=f'      %q = fxp.relu %r {{node = "q"}} : {T5} -> {T5}\n'), "a chain"),
        (unit(extra=f'      %q = fxp.relu %0 {{node = "q"}} : {T5} -> {T5}\n'), "a chain"),
        (nn_reshape(result="tensor<1x6xf32>"), "number of elements"),
        (nn_add(rhs="tensor<2xf32>"), "broadcast"),
        (nn_add(result="tensor<1x3xf32>"), "broadcast shape"),
        (nn_constant(value_type="tensor<3xf64>"), "types differ"),
    ],
)
def test_malformed_ops_are_rejected(text, message):
    module = parse(text)
    with pytest.raises(VerifyException, match=message):
        module.verify()


def test_imported_module_is_a_single_function_of_nn_ops():
    module = import_onnx(ONNX_DIR / "keras_matmul_add.onnx")
    (function,) = module.ops
    names = {op.name for op in function.body.block.ops}
    assert names <= {"nn.constant", "nn.matmul", "nn.add", "nn.relu", "nn.softmax", "func.return"}
    graph = onnx.load(ONNX_DIR / "keras_matmul_add.onnx").graph
    weights = {t.name for t in graph.initializer}
    inputs = [v.name for v in graph.input if v.name not in weights]
    assert [a.data for a in function.attributes["onnx.inputs"]] == inputs
    assert [a.data for a in function.attributes["onnx.outputs"]] == [v.name for v in graph.output]

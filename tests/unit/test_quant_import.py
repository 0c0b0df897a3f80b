"""QONNX and QDQ quantizers built in code, imported and lowered, against the reference
semantics in ``tests/unit/quant_reference.py`` (written from the QONNX and ONNX documents)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import rtlflow
from rtlflow.errors import RtlflowError
from rtlflow.sim.nn_interpreter import run_nn
from tests.unit import quant_reference as ref

DOMAINS = ["qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", ""]


def quant_model(x_shape, nodes, initializers, output, domain="qonnx.custom_op.general", y_shape=None):
    graph = helper.make_graph(
        nodes,
        "quant",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, y_shape or x_shape)],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in initializers.items()],
    )
    opsets = [helper.make_opsetid("", 17)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def activation_quant(bits, signed, narrow, rounding, scale=0.25, domain="qonnx.custom_op.general"):
    node = helper.make_node(
        "Quant", ["x", "s", "z", "b"], ["y"], domain=domain,
        signed=signed, narrow=narrow, rounding_mode=rounding,
    )
    return quant_model([1, 64], [node], {"s": scale, "z": 0.0, "b": float(bits)}, "y", domain)


def ties_and_range(scale, bits, count=64):
    """Inputs on every half step of the scale (ties), beyond the range on both sides."""
    steps = np.arange(-count // 2, count // 2) * 0.5
    return (steps * scale * (2 ** (bits + 1)) / count)[np.newaxis, np.newaxis, :].astype(np.float32)


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize(
    ("bits", "signed", "narrow", "rounding"),
    [(6, 1, 0, "ROUND"), (4, 1, 1, "ROUND"), (5, 0, 0, "ROUND"), (3, 1, 0, "FLOOR"), (8, 0, 0, "FLOOR")],
)
def test_activation_quant_is_exact_in_fixed_point(domain, bits, signed, narrow, rounding):
    model = activation_quant(bits, signed, narrow, rounding, domain=domain)
    x = ties_and_range(0.25, bits)
    expected = ref.quant(x, np.float32(0.25), np.float32(0), bits, signed, narrow, rounding)
    compiled = rtlflow.compile(model, stop_at="fxp")
    assert np.array_equal(run_nn(compiled.levels["nn"], [x])[0], expected)
    assert np.array_equal(compiled.predict(x), expected.reshape(1, 1, 64))


@pytest.mark.parametrize("rounding", ["ROUND", "FLOOR", "CEIL", "UP", "DOWN", "HALF_UP", "HALF_DOWN"])
@pytest.mark.parametrize(("scale", "zero_point"), [(0.3, 0.0), (0.125, 2.0), (np.array([[0.5], [0.1], [1 / 3]]), 0.0)])
def test_weight_quant_folds_with_any_scale_and_rounding(rounding, scale, zero_point):
    rng = np.random.default_rng(1)
    w = rng.normal(0, 1, (3, 8)).astype(np.float32)
    w[0, :4] = np.array([0.5, 1.5, -0.5, -1.5]) * np.asarray(scale).reshape(-1)[0]  # ties
    nodes = [
        helper.make_node("Quant", ["w", "s", "z", "b"], ["wq"], domain="qonnx.custom_op.general",
                         signed=1, narrow=1, rounding_mode=rounding),
        helper.make_node("Transpose", ["wq"], ["wq_t"]),
        helper.make_node("MatMul", ["x", "wq_t"], ["y"]),
    ]
    model = quant_model([1, 8], nodes, {"w": w, "s": scale, "z": zero_point, "b": 4.0}, "y", y_shape=[1, 3])
    expected = ref.quant(w, np.asarray(scale, np.float32), np.float32(zero_point), 4, 1, 1, rounding)
    nn_ir = rtlflow.compile(model, stop_at="nn").levels["nn"]
    dense = next(op for op in nn_ir.walk() if op.name == "nn.dense")
    assert np.array_equal(dense.weights, expected)


def test_bipolar_and_trunc_fold_on_constants():
    w = np.array([[0.0, -0.0, 0.3, -0.2]], dtype=np.float32)
    nodes = [
        helper.make_node("BipolarQuant", ["w", "s"], ["wb"], domain="qonnx.custom_op.general"),
        helper.make_node("Trunc", ["wb", "s", "z", "b8", "b4"], ["wt"], domain="qonnx.custom_op.general",
                         rounding_mode="FLOOR"),
        helper.make_node("Transpose", ["wt"], ["wt_t"]),
        helper.make_node("MatMul", ["x", "wt_t"], ["y"]),
    ]
    inits = {"w": w, "s": 0.5, "z": 0.0, "b8": 8.0, "b4": 4.0}
    model = quant_model([1, 4], nodes, inits, "y", y_shape=[1, 1])
    bipolar = ref.bipolar_quant(w, np.float32(0.5))
    expected = ref.trunc(bipolar, np.float32(0.5), np.float32(0), 8, 4, "FLOOR")
    nn_ir = rtlflow.compile(model, stop_at="nn").levels["nn"]
    dense = next(op for op in nn_ir.walk() if op.name == "nn.dense")
    assert np.array_equal(dense.weights.reshape(-1), np.asarray(expected).reshape(-1))


@pytest.mark.parametrize(("low", "high", "dtype"), [(-32, 31, np.int8), (-31, 31, np.int8), (0, 255, np.uint8)])
def test_qdq_chain_on_activations_matches_onnxruntime(low, high, dtype):
    import onnxruntime

    zero = np.zeros((), dtype=dtype)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"]),
        helper.make_node("Clip", ["q", "lo", "hi"], ["c"]),
        helper.make_node("DequantizeLinear", ["c", "s", "zp"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [
            numpy_helper.from_array(np.float32(0.125), "s"),
            numpy_helper.from_array(zero, "zp"),
            numpy_helper.from_array(np.asarray(low, dtype=dtype), "lo"),
            numpy_helper.from_array(np.asarray(high, dtype=dtype), "hi"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = ties_and_range(0.125, 8)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": x[0]})[0]
    compiled = rtlflow.compile(model, stop_at="fxp")
    assert np.array_equal(compiled.predict(x).reshape(expected.shape), expected)


def float32_inputs(count=400, frac=14, seed=0):
    """Inputs on the grid of ``fixed<24,10>`` (so float32 numbers, as a framework holds them)
    plus every half step of 0.3 and 1/3, where division in float32 and in exact arithmetic can
    round differently."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0, 4, (count, 1, 64)) * 2.0**frac) / 2.0**frac
    x[0, 0] = np.arange(-32, 32) * 0.5 * np.float32(0.3)
    x[1, 0] = np.arange(-32, 32) * 0.5 * np.float32(1 / 3)
    return (np.floor(x * 2.0**frac) / 2.0**frac).astype(np.float32)


@pytest.mark.parametrize("rounding", ["ROUND", "FLOOR", "CEIL", "UP", "DOWN", "HALF_UP", "HALF_DOWN"])
@pytest.mark.parametrize(
    ("scale", "zero_point", "bits", "signed", "narrow"),
    [(0.3, 0.0, 6, 1, 0), (1 / 3, 0.0, 4, 1, 1), (0.0173, 3.0, 8, 0, 0), (0.25, -2.0, 5, 1, 0),
     (0.25, 0.0, 3, 1, 0), (0.125, 0.5, 4, 0, 1)],
)
def test_any_activation_quant_is_exact_by_thresholds(rounding, scale, zero_point, bits, signed, narrow):
    """Scales that are not powers of two (thresholds), zero points (even fractional), every
    rounding mode (by thresholds, or an offset and a cast for a power-of-two scale): the emulator
    equals the spec's float32 computation on every input, near-ties included."""
    node = helper.make_node(
        "Quant", ["x", "s", "z", "b"], ["y"], domain="qonnx.custom_op.general",
        signed=signed, narrow=narrow, rounding_mode=rounding,
    )
    model = quant_model([1, 64], [node], {"s": scale, "z": zero_point, "b": float(bits)}, "y")
    x = float32_inputs()
    expected = ref.quant(x, np.float32(scale), np.float32(zero_point), bits, signed, narrow, rounding)
    compiled = rtlflow.compile(model, stop_at="fxp", config={"inputs": {"x": "fixed<24,10>"}})
    # a power-of-two scale: a cast (after an exact offset for modes other than ROUND and FLOOR)
    on_grid = scale == 0.25 and zero_point == 0
    assert ("fxp.threshold" in compiled.ir("fxp")) != on_grid
    assert np.array_equal(compiled.predict(x).astype(np.float32), expected)
    assert np.array_equal(run_nn(compiled.levels["nn"], [x])[0].astype(np.float32), expected)


def test_per_channel_scales_and_bipolar_on_activations():
    scale = np.linspace(0.01, 0.3, 8).astype(np.float32).reshape(1, 8, 1)
    nodes = [
        helper.make_node("Quant", ["x", "s", "z", "b"], ["q"], domain="qonnx.custom_op.general",
                         signed=1, narrow=0, rounding_mode="ROUND"),
        helper.make_node("BipolarQuant", ["x", "s2"], ["p"], domain="qonnx.custom_op.general"),
        helper.make_node("Quant", ["x", "s2", "z", "one"], ["p1"], domain="qonnx.custom_op.general",
                         signed=1, narrow=0, rounding_mode="ROUND"),
    ]
    inits = {"s": scale, "z": 0.0, "b": 4.0, "s2": 0.7, "one": 1.0}
    model = quant_model([1, 8, 8], nodes, inits, "q")
    model.graph.output.extend(
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 8, 8]) for name in ("p", "p1")]
    )
    x = float32_inputs(frac=12).reshape(-1, 1, 8, 8)
    x[0, 0, 0, :] = [0.0, -0.0, 2.0**-12, -(2.0**-12), 1.0, -1.0, 0.0, 0.0]
    expected = [
        ref.quant(x, scale, np.float32(0), 4, 1, 0, "ROUND"),
        ref.bipolar_quant(x, np.float32(0.7)),
        ref.quant(x, np.float32(0.7), np.float32(0), 1, 1, 0, "ROUND"),
    ]
    compiled = rtlflow.compile(model, stop_at="fxp", config={"inputs": {"x": "fixed<24,12>"}})
    for got, want in zip(compiled.predict(x), expected, strict=True):
        assert np.array_equal(got.astype(np.float32), want)


@pytest.mark.parametrize(
    ("scale", "zero_point", "dtype", "axis"),
    [(0.0173, 37, np.uint8, None), (0.05, -3, np.int8, None), (0.2, 128, np.uint8, None),
     (np.linspace(0.01, 0.2, 16), np.zeros(16), np.int8, 1)],
)
def test_qdq_with_zero_points_and_per_axis_scales_matches_onnxruntime(scale, zero_point, dtype, axis):
    """QuantizeLinear rounds ``x / scale`` (in float32) before it adds the zero point."""
    import onnxruntime

    kwargs = {} if axis is None else {"axis": axis}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], **kwargs),
             helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"], **kwargs)]
    graph = helper.make_graph(
        nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
        [numpy_helper.from_array(np.asarray(scale, np.float32), "s"),
         numpy_helper.from_array(np.asarray(zero_point, dtype=dtype), "zp")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    x = float32_inputs()[:, :, :16]
    x[2, 0] = np.arange(16) * 0.125 - 1  # x / 0.05 just below a half in exact arithmetic
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = np.stack([session.run(None, {"x": sample})[0] for sample in x])
    compiled = rtlflow.compile(model, stop_at="fxp", config={"inputs": {"x": "fixed<24,10>"}})
    assert np.array_equal(compiled.predict(x).astype(np.float32).reshape(expected.shape), expected)


@pytest.mark.parametrize("rounding", ["FLOOR", "ROUND", "CEIL"])
@pytest.mark.parametrize(("scale", "zero_point"), [(0.25, 0.0), (0.3, 2.0)])
def test_trunc_on_activations(rounding, scale, zero_point):
    """Trunc (v1): the input's integer rounded half to even, 3 bits dropped by the rounding mode,
    on the input scale; unclamped, so the input's range bounds the levels."""
    node = helper.make_node(
        "Trunc", ["x", "s", "z", "b8", "b5"], ["y"], domain="qonnx.custom_op.general",
        rounding_mode=rounding,
    )
    model = quant_model([1, 64], [node], {"s": scale, "z": zero_point, "b8": 8.0, "b5": 5.0}, "y")
    x = float32_inputs()
    expected = ref.trunc(x, np.float32(scale), np.float32(zero_point), 8, 5, rounding)
    compiled = rtlflow.compile(model, stop_at="fxp", config={"inputs": {"x": "fixed<24,10>"}})
    assert np.array_equal(compiled.predict(x).astype(np.float32), expected)


def test_unsupported_quantizers_name_the_node():
    node = helper.make_node("Trunc", ["x", "s", "z", "b4", "b8"], ["y"], domain="qonnx.custom_op.general")
    model = quant_model([1, 4], [node], {"s": 1.0, "z": 0.0, "b4": 4.0, "b8": 8.0}, "y")
    with pytest.raises(RtlflowError, match="exceeds its input bit width"):
        rtlflow.compile(model)
    node = helper.make_node("Trunc", ["x", "s", "z", "b8", "b4"], ["y"], domain="qonnx.custom_op.general")
    model = quant_model([1, 4], [node], {"s": 2.0**-20, "z": 0.0, "b8": 8.0, "b4": 4.0}, "y")
    with pytest.raises(RtlflowError, match="levels over its input's range") as error:
        rtlflow.compile(model)  # the default input fixed<16,6> spans 2^26 / 2^4 levels
    assert "'y' (quant)" in str(error.value)
    model = activation_quant(6, 1, 0, "ROUND", scale=-0.5)
    with pytest.raises(RtlflowError, match="scales must be positive"):
        rtlflow.compile(model)


def test_input_format_covers_an_input_quantizer_whose_scale_is_not_a_power_of_two():
    """Brevitas' 8-bit input quantizer over ±105 (scale 105/127): the input format keeps the
    default width and takes the integer bits of the levels' range, so ±105 is not cut at ±32;
    the quantized values are those of the float model."""
    scale = np.float32(105 / 127)
    model = activation_quant(8, 1, 0, "ROUND", scale=scale)
    compiled = rtlflow.compile(model, stop_at="fxp")
    fmt = compiled.emulator.input_formats[0]
    assert (fmt.width, fmt.int_bits, fmt.overflow) == (16, 8, "SAT")
    x = np.linspace(-104, 104, 64).reshape(1, 1, 64)
    expected = np.clip(np.round(x / scale), -128, 127) * scale
    np.testing.assert_allclose(compiled.predict(x), expected, atol=1e-9)

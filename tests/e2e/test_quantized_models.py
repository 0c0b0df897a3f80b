"""Quantization-aware seed models (Brevitas exports as QONNX and as QCDQ): the emulator
reproduces the framework's quantized outputs exactly, the RTL the emulator bit for bit."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import rtlflow
from rtlflow.sim.runner import run_testbench
from tests.conftest import DATA

MODELS = DATA / "models"
FILES = [
    "jet_tagger_w6a6.qonnx",
    "jet_tagger_w6a6.qcdq",
    "muon_cnn_w4a4.qonnx",
    "muon_cnn_w4a4.qcdq",
]


def rtl_bit_exact(compiled, inputs: dict, directory, samples: int) -> dict:
    """Write the design with ``inputs`` as test vectors and run it under Verilator: every output
    equals the emulator's, at the reported latency. Returns the report."""
    report = compiled.write(directory, inputs=inputs)
    result = run_testbench(directory)
    assert result.samples == samples and result.mismatches == 0 and result.missing == 0
    assert result.latency_cycles == [report["latency_cycles"]]
    return report


def load(file: str):
    data = np.load(MODELS / f"{file.split('.')[0]}.npz")
    return MODELS / f"{file}.onnx", {"x": data["x"]}, data


@pytest.mark.parametrize("file", FILES)
def test_emulator_reproduces_the_quantized_forward_exactly(file):
    """``ref_out`` is Brevitas' quantized forward in float32: every product and sum of quantized
    values is exact there, the float bias is added once; rtlflow's exact fixed point, rounded to
    float32 once, must give the same numbers. The QCDQ graph, evaluated by the ONNX spec, is the
    same computation (``ref_qcdq`` is onnxruntime with its bias-quantizing optimisation)."""
    path, inputs, data = load(file)
    emulated = rtlflow.compile(path, stop_at="fxp").predict(inputs)
    reference = data["ref_out"].reshape(emulated.shape)
    assert np.array_equal(emulated.astype(np.float32), reference)


@pytest.mark.parametrize("name", ["jet_tagger_w6a6", "muon_cnn_w4a4"])
def test_qcdq_with_onnxruntimes_bias_rounding_reproduces_ref_qcdq(name):
    """``ref_qcdq`` is onnxruntime with its default optimisations, which round some float biases
    to int32 on the accumulator grid: stated as those layers' bias formats (the ``.ort.yaml``
    beside the model), the emulator gives ``ref_qcdq`` on every sample."""
    path, inputs, data = load(f"{name}.qcdq")
    compiled = rtlflow.compile(path, stop_at="fxp", config=MODELS / f"{name}.qcdq.ort.yaml")
    emulated = compiled.predict(inputs).astype(np.float32)
    assert np.array_equal(emulated, data["ref_qcdq"].reshape(emulated.shape))


@pytest.mark.parametrize(
    "name", ["jet_tagger_w6a6", pytest.param("muon_cnn_w4a4", marks=pytest.mark.slow)]
)
def test_rtl_bit_exact_with_onnxruntimes_bias_rounding(name, tmp_path):
    path, inputs, data = load(f"{name}.qcdq")
    compiled = rtlflow.compile(path, part="xcvu13p", config=MODELS / f"{name}.qcdq.ort.yaml")
    rtl_bit_exact(compiled, inputs, tmp_path, samples=2000)
    expected = data["ref_qcdq"].reshape(len(data["x"]), -1)
    assert np.array_equal(compiled.predict(inputs).astype(np.float32).reshape(expected.shape), expected)


def test_quantizers_become_exact_fixed_point_formats():
    path, _, _ = load("jet_tagger_w6a6.qonnx")
    fxp = rtlflow.compile(path, stop_at="fxp").ir("fxp")
    # the input quantizer (6 bits, scale 2^-2) is the input format itself; hidden quantizers
    # are casts with ties to even and saturation; weights 6-bit narrow are exact constants
    assert "%x: tensor<1x16x!fxp.fixed<6, 4, RND_CONV, SAT>>" in fxp
    assert fxp.count("fxp.cast") == 3
    assert "weight_type = !fxp.fixed<6," in fxp


@pytest.mark.parametrize(
    "file",
    ["jet_tagger_w6a6.qonnx", pytest.param("muon_cnn_w4a4.qcdq", marks=pytest.mark.slow)],
)
def test_rtl_bit_exact_on_all_samples(file, tmp_path):
    path, inputs, data = load(file)
    compiled = rtlflow.compile(path, part="xcvu13p")
    report = rtl_bit_exact(compiled, inputs, tmp_path, samples=2000)
    assert report["warnings"] == []  # quantizers saturate by design: no overflow warnings


#: QKeras models as qonnx's converter writes them (``tests/data/make_qkeras_fixtures.py``): its
#: Quant nodes in a domain the files declare no opset for, NHWC images viewed channels-first
QKERAS = DATA / "qonnx"


def qkeras(name: str) -> tuple[onnx.ModelProto, dict, np.lib.npyio.NpzFile]:
    data = np.load(QKERAS / f"{name}.npz")
    return onnx.load(QKERAS / f"{name}.onnx"), {"global_in": data["input"]}, data


def only_the_opset_warning(compiled) -> None:
    assert len(compiled.warnings) == 1
    assert "no opset for domain 'qonnx.custom_op.general'" in compiled.warnings[0]


def test_qkeras_cnn_compiles_with_defaults_to_qkeras_own_outputs(tmp_path):
    """A QKeras CNN (QConv2D, quantized_relu, max pooling, QDense; NHWC) from qonnx's converter,
    compiled with defaults: the emulator gives QKeras' float32 outputs exactly (every weight,
    bias and activation on its quantizer's grid, inputs on an 8-bit grid the default input
    format holds); no warning but the assumed opset."""
    model, inputs, data = qkeras("qkeras_conv")
    compiled = rtlflow.compile(model)
    only_the_opset_warning(compiled)
    emulated = compiled.predict(inputs)
    assert np.array_equal(emulated.astype(np.float32), data["ref_global_out"].reshape(emulated.shape))


def test_qkeras_jet_tagger_compiles_with_defaults_to_qkeras_own_outputs():
    """hls4ml's QKeras jet tagger (6-bit QDense, quantized_relu(6), softmax) from qonnx's
    converter, compiled with defaults: its logits (the file with the softmax dropped) are
    QKeras' exactly; the softmax, a table at the default fixed<16,6>, within 2^-7 of Keras'."""
    model, inputs, data = qkeras("qkeras_jet_mlp")
    compiled = rtlflow.compile(model)
    only_the_opset_warning(compiled)
    emulated = compiled.predict(inputs)
    assert np.max(np.abs(emulated - data["ref_global_out"].reshape(emulated.shape))) < 2.0**-7
    (softmax,) = [node for node in model.graph.node if node.op_type == "Softmax"]
    model.graph.node.remove(softmax)
    for node in model.graph.node:  # the Identity after it reads the logits instead
        node.input[:] = [softmax.input[0] if name == softmax.output[0] else name for name in node.input]
    logits = rtlflow.compile(model).predict(inputs)
    assert np.array_equal(logits.astype(np.float32), data["logits"].reshape(logits.shape))


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) for n in ("qkeras_jet_mlp", "qkeras_conv")]
)
def test_qkeras_rtl_bit_exact(name, tmp_path):
    model, inputs, _ = qkeras(name)
    rtl_bit_exact(rtlflow.compile(model), inputs, tmp_path, samples=64)


def test_qcdq_graph_by_the_spec_is_the_quantized_forward():
    """onnxruntime without its graph optimisations (one of which rounds hidden-layer biases to
    the accumulator grid) computes the QCDQ graph as the spec says: the same as ``ref_out``,
    and so does rtlflow; ``ref_qcdq`` (onnxruntime, optimised) differs."""
    import onnxruntime

    path, inputs, data = load("muon_cnn_w4a4.qcdq")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = data["x"][:300].astype(np.float32)
    plain = np.stack([session.run(None, {"x": sample})[0] for sample in x])
    assert np.array_equal(plain.reshape(-1), data["ref_out"][:300].reshape(-1))
    assert not np.array_equal(data["ref_qcdq"], data["ref_out"])


def test_hidden_biases_take_the_sticky_grid_not_float_precision():
    """A float bias before a quantizer needs only the grid of the decisions after it (plus a
    sticky bit): hidden accumulators stay narrow, the output layer keeps the float bias."""
    path, inputs, data = load("muon_cnn_w4a4.qonnx")
    compiled = rtlflow.compile(path, stop_at="fxp")
    fxp = compiled.ir("fxp")
    assert "accumulator = !fxp.fixed<10, 4>" in fxp  # conv1: 4-bit x 4-bit, 9 taps, bias
    emulated = compiled.predict(inputs)
    assert np.array_equal(emulated.astype(np.float32), data["ref_out"].reshape(emulated.shape))


def qdq_mlp() -> tuple:
    """What onnxruntime's static quantization emits, with scales that are not powers of two and
    zero points: x → Q/DQ (int8, 0.05) → Gemm (int8 weights, scale 0.0127, float bias) → Relu →
    Q/DQ (uint8, 0.031) → Gemm (int8 weights, one scale per output) → Q/DQ (int8, 0.07, zero
    point 5)."""
    rng = np.random.default_rng(0)
    constants = {
        "s_in": np.float32(0.05), "z_in": np.int8(0),
        "w1": rng.integers(-127, 128, (12, 16)).astype(np.int8), "s_w1": np.float32(0.0127),
        "z_w1": np.int8(0), "b1": rng.normal(0, 0.5, 12).astype(np.float32),
        "s_a": np.float32(0.031), "z_a": np.uint8(0),
        "w2": rng.integers(-127, 128, (5, 12)).astype(np.int8),
        "s_w2": np.linspace(0.002, 0.009, 5).astype(np.float32), "z_w2": np.zeros(5, np.int8),
        "b2": rng.normal(0, 0.5, 5).astype(np.float32), "s_o": np.float32(0.07), "z_o": np.int8(5),
    }
    node = helper.make_node
    nodes = [
        node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"]),
        node("DequantizeLinear", ["xq", "s_in", "z_in"], ["xd"]),
        node("DequantizeLinear", ["w1", "s_w1", "z_w1"], ["w1d"]),
        node("Gemm", ["xd", "w1d", "b1"], ["h"], transB=1, name="fc1"),
        node("Relu", ["h"], ["hr"]),
        node("QuantizeLinear", ["hr", "s_a", "z_a"], ["hq"]),
        node("DequantizeLinear", ["hq", "s_a", "z_a"], ["hd"]),
        node("DequantizeLinear", ["w2", "s_w2", "z_w2"], ["w2d"], axis=0),
        node("Gemm", ["hd", "w2d", "b2"], ["o"], transB=1, name="fc2"),
        node("QuantizeLinear", ["o", "s_o", "z_o"], ["oq"]),
        node("DequantizeLinear", ["oq", "s_o", "z_o"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "qdq_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    x = np.floor(np.random.default_rng(1).normal(0, 2, (300, 1, 16)) * 1024) / 1024
    return model, x.astype(np.float32)  # on the grid of the default input format fixed<16,6>


#: the layers' results configured (rounded to 22 fractional bits): the scales are then applied
#: before each layer instead of carried to the next quantizer
QDQ_MLP_CONFIG = {"layers": {name: {"result": "fixed<32,10,RND,SAT>"} for name in ("fc1", "fc2")}}


def qdq_reference(model, x: np.ndarray) -> np.ndarray:
    """onnxruntime on the graph as the spec says (graph optimisations off)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    outputs = np.stack([session.run(None, {"x": sample})[0] for sample in x])
    del session
    return outputs


def test_qdq_model_with_arbitrary_scales_and_zero_points(tmp_path):
    """Every quantizer becomes thresholds; each scale is carried, through the next layer's
    integer weights, into the next quantizer's thresholds (no multiplier applies it); the
    emulator equals onnxruntime on every output, the RTL the emulator bit for bit."""
    model, x = qdq_mlp()
    expected = qdq_reference(model, x)
    compiled = rtlflow.compile(model, part="xcvu13p")
    fxp_ir = compiled.ir("fxp")
    assert fxp_ir.count("fxp.threshold") == 3 and fxp_ir.count("fxp.scale_shift") == 1  # the output
    assert "bias = dense<0>" in fxp_ir  # the biases went into the thresholds
    emulated = compiled.predict(x).astype(np.float32)
    assert np.array_equal(emulated.reshape(expected.shape), expected)
    configured = rtlflow.compile(model, stop_at="fxp", config=QDQ_MLP_CONFIG)
    assert configured.ir("fxp").count("fxp.scale_shift") == 3
    assert np.array_equal(configured.predict(x).astype(np.float32).reshape(expected.shape), expected)
    rtl_bit_exact(compiled, {"x": x}, tmp_path, samples=300)


def conv_with_channel_scales() -> tuple:
    """A 4-bit input quantizer (power of two: a cast), a 3x3 conv, ReLU, then an unsigned
    3-bit quantizer with one scale per channel, none a power of two."""
    rng = np.random.default_rng(3)
    constants = {
        "s0": np.float32(0.25), "z": np.float32(0), "b4": np.float32(4),
        "w": (rng.integers(-7, 8, (3, 1, 3, 3)) * 0.125).astype(np.float32),
        "bias": np.array([0.1, -0.3, 0.05], np.float32),
        "s1": np.array([0.3, 0.17, 0.41], np.float32).reshape(1, 3, 1, 1), "b3": np.float32(3),
    }
    domain = "qonnx.custom_op.general"
    node = helper.make_node
    nodes = [
        node("Quant", ["x", "s0", "z", "b4"], ["xq"], domain=domain, signed=1, rounding_mode="ROUND"),
        node("Conv", ["xq", "w", "bias"], ["c"], name="conv", kernel_shape=[3, 3]),
        node("Relu", ["c"], ["r"]),
        node("Quant", ["r", "s1", "z", "b3"], ["y"], domain=domain, signed=0, rounding_mode="ROUND"),
    ]
    graph = helper.make_graph(
        nodes, "conv_scales", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 6, 6])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)]
    )
    model.ir_version = 8
    return model, rng.normal(0, 1, (200, 1, 1, 8, 8)).astype(np.float32)


@pytest.mark.parametrize("style", ["parallel", pytest.param("stream", marks=pytest.mark.slow)])
def test_per_channel_threshold_quantizer_in_rtl(style, tmp_path):
    """Per-channel thresholds, on the whole tensor or per pixel beat of a stream: the emulator
    equals the reference semantics (float32 quantizer, tests/unit/quant_reference.py) on the
    exact conv sums, the RTL the emulator."""
    from tests.unit import quant_reference as ref

    model, x = conv_with_channel_scales()
    compiled = rtlflow.compile(model, part="xcvu13p", config={"conv_style": style})
    assert "fxp.threshold" in compiled.ir("fxp") and (style == "stream") == ("stream" in compiled.ir("fxp"))
    xq = ref.quant(x, np.float32(0.25), np.float32(0), 4, 1, 0, "ROUND").astype(np.float64)
    w = numpy_helper.to_array(model.graph.initializer[3]).astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(xq[:, 0, 0], (3, 3), axis=(1, 2))
    sums = np.einsum("nhwij,cij->nchw", windows, w[:, 0]) + np.array([0.1, -0.3, 0.05], np.float32)[:, None, None]
    scales = np.array([0.3, 0.17, 0.41], np.float32).reshape(1, 3, 1, 1)
    expected = ref.quant(np.maximum(sums, 0).astype(np.float32), scales, np.float32(0), 3, 0, 0, "ROUND")
    assert np.array_equal(compiled.predict(x).astype(np.float32).reshape(expected.shape), expected)
    rtl_bit_exact(compiled, {"x": x}, tmp_path, samples=200)


def conv_pool_dense_with_float_scales() -> tuple:
    """Scales that are not powers of two everywhere: a 4-bit input quantizer (0.07), a conv with
    weights on 0.0371, ReLU, an unsigned 3-bit quantizer per channel (0.3, 0.17, 0.41), max
    pooling, a flatten, a dense layer on 0.013 and a 4-bit output quantizer (0.09)."""
    rng = np.random.default_rng(5)
    domain = "qonnx.custom_op.general"
    constants = {
        "s0": np.float32(0.07), "z": np.float32(0), "b4": np.float32(4), "b3": np.float32(3),
        "w": (rng.integers(-7, 8, (3, 1, 3, 3)) * np.float32(0.0371)).astype(np.float32),
        "bias": np.array([0.1, -0.3, 0.05], np.float32),
        "s1": np.array([0.3, 0.17, 0.41], np.float32).reshape(1, 3, 1, 1),
        "w2": (rng.integers(-7, 8, (4, 27)) * np.float32(0.013)).astype(np.float32),
        "b2": rng.normal(0, 0.3, 4).astype(np.float32), "s2": np.float32(0.09),
        "shape": np.array([1, 27], np.int64),
    }
    node = helper.make_node
    nodes = [
        node("Quant", ["x", "s0", "z", "b4"], ["xq"], domain=domain, signed=1, rounding_mode="ROUND"),
        node("Conv", ["xq", "w", "bias"], ["c"], name="conv", kernel_shape=[3, 3]),
        node("Relu", ["c"], ["r"]),
        node("Quant", ["r", "s1", "z", "b3"], ["q1"], domain=domain, signed=0, rounding_mode="ROUND"),
        node("MaxPool", ["q1"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        node("Reshape", ["p", "shape"], ["f"]),
        node("Gemm", ["f", "w2", "b2"], ["g"], transB=1, name="fc"),
        node("Quant", ["g", "s2", "z", "b4"], ["y"], domain=domain, signed=1, rounding_mode="ROUND"),
    ]
    graph = helper.make_graph(
        nodes, "float_scales", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)]
    )
    model.ir_version = 8
    x = np.floor(rng.normal(0, 0.5, (300, 1, 1, 8, 8)) * 1024) / 1024  # on the input's grid
    return model, x.astype(np.float32)


@pytest.mark.parametrize("style", ["parallel", pytest.param("stream", marks=pytest.mark.slow)])
def test_scales_carried_through_conv_pool_and_dense(style, tmp_path):
    """Each scale rides on the integer levels through the next conv or dense layer (weights
    times the scale, divided by their common factor), max pooling and the flatten, into the
    next quantizer's thresholds, bias and ReLU included: the emulator equals the model
    evaluated op by op (rtlflow's float interpreter), the RTL the emulator."""
    from rtlflow.sim.nn_interpreter import run_nn

    model, x = conv_pool_dense_with_float_scales()
    compiled = rtlflow.compile(model, part="xcvu13p", config={"conv_style": style})
    fxp_ir = compiled.ir("fxp")
    assert fxp_ir.count("fxp.threshold") == 3 and fxp_ir.count("fxp.scale_shift") == 1
    expected = run_nn(compiled.levels["nn"], [x])[0].astype(np.float32)
    assert np.array_equal(compiled.predict(x).astype(np.float32).reshape(expected.shape), expected)
    rtl_bit_exact(compiled, {"x": x}, tmp_path, samples=300)

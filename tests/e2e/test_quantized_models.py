"""Quantization-aware seed models (Brevitas exports as QONNX and as QCDQ): the emulator
reproduces the framework's quantized outputs exactly, the RTL the emulator bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

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
    report = compiled.write(tmp_path, inputs=inputs)
    result = run_testbench(tmp_path)
    assert result.samples == 2000 and result.mismatches == 0 and result.missing == 0
    assert result.latency_cycles == [report["latency_cycles"]]
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
    report = compiled.write(tmp_path, inputs=inputs)
    result = run_testbench(tmp_path)
    assert result.samples == 2000 and result.mismatches == 0 and result.missing == 0
    assert result.latency_cycles == [report["latency_cycles"]]
    assert report["warnings"] == []  # quantizers saturate by design: no overflow warnings


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

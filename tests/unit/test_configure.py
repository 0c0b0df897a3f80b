"""config_from_onnx: the configuration a model compiles with, as hls4ml users edit it. Compiling
with the returned dictionary (or the YAML file ``rtlflow config`` writes) gives the hardware
compiling without it gives, on float, quantized, convolutional, attention and graph models and
with command-line options; edited entries take effect."""

from __future__ import annotations

import pytest
import yaml

import rtlflow
from rtlflow.cli import main
from rtlflow.config import load_config
from rtlflow.errors import RtlflowError
from tests.conftest import DATA

MODELS = DATA / "models"

CASES = [
    ("jet_tagger_mlp.onnx", {}),
    ("jet_tagger_mlp.onnx", {"precision": "auto"}),
    ("jet_tagger_mlp.onnx", {"precision": "fixed<12,5,RND,SAT>", "reuse_factor": 2}),
    ("jet_tagger_w6a6.qcdq.onnx", {}),
    ("muon_cnn_w4a4.qonnx.onnx", {}),
    ("muon_cnn.onnx", {"conv_style": "stream"}),
    ("jet_transformer_hlf.onnx", {}),
    ("interaction_network.onnx", {"reuse_factor": 4}),
]


def circuit(model, **options) -> str:
    return rtlflow.compile(MODELS / model, stop_at="circuit", **options).ir("circuit")


@pytest.mark.parametrize(("model", "options"), CASES, ids=lambda c: str(c))
def test_compiling_with_the_returned_config_equals_compiling_without(model, options):
    config = rtlflow.config_from_onnx(MODELS / model, **options)
    assert set(config) == {"precision", "reuse_factor", "dsp_budget", "conv_style", "inputs", "layers"}
    assert config["layers"], "every layer has an entry"
    assert circuit(model, config=config) == circuit(model, **options)


def test_the_yaml_file_round_trips_through_the_command_line(tmp_path, capsys):
    path = tmp_path / "jet.yaml"
    model = MODELS / "jet_transformer_hlf.onnx"
    assert main(["config", str(model), "-o", str(path)]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    data = yaml.safe_load(path.read_text())
    assert data == rtlflow.config_from_onnx(model)
    load_config(path)  # valid as a configuration file
    assert rtlflow.compile(model, config=path, stop_at="circuit").ir("circuit") == circuit(
        "jet_transformer_hlf.onnx"
    )
    assert main(["config", str(model)]) == 0  # without -o: the YAML on stdout
    assert yaml.safe_load(capsys.readouterr().out) == data


def test_what_the_settings_are():
    config = rtlflow.config_from_onnx(MODELS / "jet_tagger_mlp.onnx")
    assert config["precision"] == "fixed<16,6>" and config["inputs"] == {"x": "fixed<16,6>"}
    dense = config["layers"]["node_linear"]
    # constants round to nearest by default; the accumulator is exact
    assert dense == {
        "result": "fixed<16,6>", "weight": "fixed<16,6,RND,WRAP>", "bias": "fixed<16,6,RND,WRAP>",
        "accumulator": "auto", "reuse_factor": 1,
    }  # fmt: skip
    quantized = rtlflow.config_from_onnx(MODELS / "muon_cnn_w4a4.qonnx.onnx")
    conv = quantized["layers"]["node_conv2d"]
    # a quantized model's results and constants are exact: derived, not the default precision
    assert conv["result"] == conv["weight"] == "auto" and conv["conv_style"] == "auto"
    # the input format is the input quantizer's (4 bits, round half to even, saturating)
    assert quantized["inputs"]["x"] == "fixed<4,2,RND_CONV,SAT>"
    model_only = rtlflow.config_from_onnx(MODELS / "jet_tagger_mlp.onnx", granularity="model")
    assert "layers" not in model_only and model_only["reuse_factor"] == 1


def test_an_edited_entry_takes_effect():
    model = MODELS / "jet_tagger_mlp.onnx"
    config = rtlflow.config_from_onnx(model)
    config["layers"]["node_linear"]["result"] = "fixed<10,4>"
    config["layers"]["node_linear_1"]["reuse_factor"] = 2
    edited = rtlflow.compile(model, config=config, stop_at="fxp").ir("fxp")
    assert "!fxp.fixed<10, 4>" in edited or "fixed<10,4>" in edited.replace(" ", "")
    assert "reuse_factor = 2" in edited


def test_a_config_given_to_it_is_resolved_into_the_result():
    model = MODELS / "jet_tagger_mlp.onnx"
    given = {"precision": "fixed<12,4>", "layers": {"node_linear": {"result": "fixed<18,8>"}}}
    config = rtlflow.config_from_onnx(model, config=given)
    assert config["precision"] == "fixed<12,4>"
    assert config["layers"]["node_linear"]["result"] == "fixed<18,8>"
    assert config["layers"]["node_linear_1"]["result"] == "fixed<12,4>"


def test_unknown_granularity_is_refused():
    with pytest.raises(RtlflowError, match="granularity must be one of model, name"):
        rtlflow.config_from_onnx(MODELS / "jet_tagger_mlp.onnx", granularity="type")

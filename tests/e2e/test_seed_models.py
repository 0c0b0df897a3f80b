"""The seed networks (dense and the muon CNN): all samples bit-exact in Verilator, fidelity
against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

import rtlflow
from rtlflow.sim.runner import run_testbench
from tests.conftest import DATA

MODELS = DATA / "models"


def load(name: str):
    data = np.load(MODELS / f"{name}.npz")
    return MODELS / f"{name}.onnx", {"x": data["x"]}, data


@pytest.mark.parametrize(
    ("name", "reuse"),
    [
        ("etx4velo_mlp", 1),
        ("etx4velo_mlp", 4),
        ("jet_tagger_mlp", 4),
        pytest.param("jet_tagger_mlp", 1, marks=pytest.mark.slow),
        ("muon_cnn", 1),
    ],
)
def test_seed_model_all_samples_bit_exact(name, reuse, tmp_path):
    path, inputs, _ = load(name)
    compiled = rtlflow.compile(path, part="xcvu13p", reuse_factor=reuse)
    report = compiled.write(tmp_path, inputs=inputs)
    result = run_testbench(tmp_path)
    assert result.samples == 2000
    assert result.mismatches == 0 and result.missing == 0
    assert result.latency_cycles == [report["latency_cycles"]]
    assert result.initiation_interval == reuse == report["initiation_interval"]


def test_etx4velo_emulator_fidelity():
    path, inputs, data = load("etx4velo_mlp")
    emulated = rtlflow.compile(path).predict(inputs)
    error = np.abs(emulated - data["ref_embedding"])
    # fixed<16,6> everywhere (LSB 2^-10), truncating: within 64 LSBs of the float network
    assert error.max() < 64 * 2.0**-10


def test_jet_tagger_argmax_agreement():
    path, inputs, data = load("jet_tagger_mlp")
    probabilities = rtlflow.compile(path).predict(inputs)
    agreement = np.mean(probabilities.argmax(-1) == data["ref_probs"].argmax(-1))
    assert agreement >= 0.99
    assert np.abs(probabilities - data["ref_probs"]).max() < 0.05


def test_muon_cnn_emulator_fidelity_and_parallel_style():
    path, inputs, data = load("muon_cnn")
    compiled = rtlflow.compile(path)
    emulated = compiled.predict(inputs)
    error = np.abs(emulated - data["ref_pt_eta"].reshape(emulated.shape))
    assert error.max() < 64 * 2.0**-10  # fixed<16,6> throughout, truncating
    assert compiled.ir("fxp").count('style = "parallel"') == 3  # two convs and the pool


@pytest.mark.slow
def test_muon_cnn_hit_map_input_bit_exact(tmp_path):
    """The hits are 0/1: a one-bit unsigned input format is exact and much smaller."""
    path, inputs, data = load("muon_cnn")
    compiled = rtlflow.compile(path, config={"inputs": {"x": "ufixed<1,1>"}})
    report = compiled.write(tmp_path, inputs=inputs)
    result = run_testbench(tmp_path)
    assert result.samples == 2000 and result.mismatches == 0 and result.missing == 0
    assert result.latency_cycles == [report["latency_cycles"]]
    emulated = compiled.predict(inputs)
    assert np.abs(emulated - data["ref_pt_eta"].reshape(emulated.shape)).max() < 64 * 2.0**-10

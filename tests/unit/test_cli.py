"""The command line: exit codes, one-line errors naming node and operator, IR output, report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from xdsl.parser import Parser

from rtlflow.errors import RtlflowError
from rtlflow.pipeline import Options, passes
from rtlflow.cli import main
from rtlflow.dialects import context
from tests.conftest import DATA

BAD = DATA / "onnx"
GOOD = DATA / "onnx" / "keras_matmul_add.onnx"


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("bad_unsupported_op.onnx", "node 'node_sin' (Sin): operator 'Sin' is not supported"),
        ("bad_truncated.onnx", "not a valid ONNX file"),
        ("bad_dynamic_features.onnx", "input 'x' has a dynamic dimension 'features' at axis 1"),
        ("no_such_file.onnx", "no such ONNX file"),
    ],
)
def test_bad_models_give_one_line_and_exit_2(model, message, tmp_path, capsys):
    assert main(["compile", str(BAD / model), "-o", str(tmp_path)]) == 2
    line = error_line(capsys)
    assert line.startswith("rtlflow: error: ") and message in line


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--part", "xc9000"], "unknown part 'xc9000'"),
        (["--precision", "fixed<16>"], "cannot read the precision"),
        (["--reuse-factor", "0"], "reuse factor must be at least 1"),
        (["--clock-mhz", "-5"], "positive frequency"),
    ],
)
def test_bad_options_exit_2(options, message, tmp_path, capsys):
    assert main(["compile", str(GOOD), "-o", str(tmp_path), *options]) == 2
    assert message in error_line(capsys)


def test_inputs_outside_the_input_format_exit_2(tmp_path, capsys):
    data = tmp_path / "big.npz"
    np.savez(data, dense_input=np.full((3, 1, 7), 100.0))
    assert main(["compile", str(GOOD), "-o", str(tmp_path / "out"), "--inputs", str(data)]) == 2
    line = error_line(capsys)
    assert "input 'dense_input': 3 of 3 samples lie outside fixed<16,6>" in line


def test_predict_refuses_inputs_outside_the_input_format_as_write_does():
    import rtlflow

    compiled = rtlflow.compile(GOOD, stop_at="fxp")
    with pytest.raises(RtlflowError, match="input 'dense_input': 3 of 3 samples lie outside"):
        compiled.predict({"dense_input": np.full((3, 1, 7), 100.0)})


def test_inputs_missing_an_array_exit_2(tmp_path, capsys):
    data = tmp_path / "wrong.npz"
    np.savez(data, other=np.zeros((2, 1, 7)))
    assert main(["compile", str(GOOD), "-o", str(tmp_path / "out"), "--inputs", str(data)]) == 2
    assert "no array for input(s) ['dense_input']" in error_line(capsys)


@pytest.mark.parametrize("level", ["nn", "fxp", "circuit"])
def test_stop_at_writes_ir_that_parses_back(level, tmp_path):
    assert main(["compile", str(GOOD), "-o", str(tmp_path), "--stop-at", level]) == 0
    (written,) = tmp_path.glob(f"*.{level}.mlir")
    text = written.read_text().strip()
    assert str(Parser(context(), text).parse_module()) == text
    assert f"{level}." in text


def test_dump_ir_writes_every_pass(tmp_path):
    assert main(["compile", str(GOOD), "-o", str(tmp_path / "out"), "--dump-ir", str(tmp_path / "ir")]) == 0
    names = sorted(p.stem for p in (tmp_path / "ir").glob("*.mlir"))
    assert names[0] == "00-import" and names[-1].endswith("circuit-balance-latency")
    assert len(names) == 1 + sum(len(level) for level in passes(Options()).values())
    for path in (tmp_path / "ir").glob("*.mlir"):
        text = path.read_text().strip()
        assert str(Parser(context(), text).parse_module()) == text


def test_compile_then_report(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compile", str(GOOD), "-o", str(out), "--part", "xcvu13p-flga2577-2-e"]) == 0
    assert "latency" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["part"]["name"] == "xcvu13p-flga2577-2-e"
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert text == (out / "report.txt").read_text()
    assert f"{report['latency_cycles']} cycles" in text


def test_commands_that_do_not_compile_import_no_compiler(tmp_path):
    """``--help``, ``report`` and ``sim`` start without onnx, xDSL or Amaranth (the simulation
    runs the testbench in its own process)."""
    assert main(["compile", str(GOOD), "-o", str(tmp_path)]) == 0
    script = f"""
import sys
from rtlflow.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
import rtlflow.report_text, rtlflow.sim.runner
assert main(["report", {str(tmp_path)!r}]) == 0
print(sorted(m for m in ("onnx", "xdsl", "amaranth", "onnxruntime") if m in sys.modules))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "latency" in run.stdout and run.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        # the input port itself: 4,200 elements of 16 bits
        ([1, 4200], "input 'x' is 67,200 bits wide, more than the 65,536 a port can carry"),
        # a unit's input: the concatenation reads both halves, 2 x 2,050 elements of 16 bits
        ([1, 2050], "node 'both' (concat): the unit's input is 65,600 bits wide"),
    ],
)
def test_a_tensor_wider_than_a_port_exits_2(shape, message, tmp_path, capsys):
    from tests.e2e.models import Graph

    g = Graph("wide", {"x": shape})
    relu = g.node("Relu", ["x"])
    g.nodes.append(onnx.helper.make_node("Concat", [relu, relu], ["both"], name="both", axis=1))
    onnx.save(g.model({"y": "both"}), tmp_path / "wide.onnx")
    assert main(["compile", str(tmp_path / "wide.onnx"), "-o", str(tmp_path / "out")]) == 2
    assert message in error_line(capsys)


def test_a_design_several_times_the_part_is_refused_unless_forced(tmp_path, capsys):
    from tests.e2e.models import Graph

    g = Graph("big", {"x": [1, 64]})
    onnx.save(g.model({"y": g.dense("x", 64, 64)}), tmp_path / "big.onnx")
    # R = 2: every neuron owns 32 multipliers, 2,048 DSPs against the xc7z020's 220
    command = ["compile", str(tmp_path / "big.onnx"), "--part", "xc7z020", "--reuse-factor", "2"]
    assert main([*command, "-o", str(tmp_path / "out")]) == 2
    line = error_line(capsys)
    assert "the design needs more than 3 times what xc7z020 has (estimate: 2,048 DSP (9.3x its 220))" in line
    assert "try --reuse-factor 32" in line and not (tmp_path / "out" / "rtl").exists()
    assert main([*command, "-o", str(tmp_path / "out"), "--force"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["resources"]["dsp"] == 2048 and (tmp_path / "out" / "rtl").is_dir()
    assert "the design needs more than xc7z020 has" in capsys.readouterr().out


def test_overflow_on_the_inputs_counted_per_layer_or_an_error(tmp_path, capsys):
    from tests.e2e.models import Graph

    g = Graph("sum4", {"x": [1, 4]})
    total = g.node("Gemm", ["x", g.constant(np.ones((1, 4))), g.constant(np.zeros(1))], transB=1)
    onnx.save(g.model({"y": total}), tmp_path / "sum4.onnx")
    values = np.array([1.0, 5.0, 7.5, 9.0, -9.0, 2.0])
    np.savez(tmp_path / "x.npz", x=np.repeat(values[:, None, None], 4, axis=2))
    # y = 4v: fixed<16,6> holds [-32, 32), so |4v| >= 32 overflows
    overflowing = int((np.abs(4 * values) >= 32).sum())
    command = ["compile", str(tmp_path / "sum4.onnx"), "--inputs", str(tmp_path / "x.npz")]
    assert main([*command, "-o", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["overflow"] == {"samples": 6, "layers": {"n3_Gemm": overflowing}}
    (layer,) = [entry for entry in report["layers"] if entry["name"] == "n3_Gemm"]
    assert layer["overflow_samples"] == overflowing
    assert f"n3_Gemm in {overflowing}" in (tmp_path / "out" / "report.txt").read_text()
    capsys.readouterr()
    assert main([*command, "-o", str(tmp_path / "strict"), "--overflow", "error"]) == 2
    assert f"layer 'n3_Gemm' in {overflowing} of 6 samples" in error_line(capsys)
    assert not (tmp_path / "strict" / "rtl").exists()


def test_sim_of_a_directory_without_a_design_exits_2(tmp_path, capsys):
    assert main(["sim", str(tmp_path)]) == 2
    assert "not an rtlflow output directory" in error_line(capsys)


def test_console_script(tmp_path):
    beside = Path(sys.executable).parent / "rtlflow"
    script = str(beside) if beside.exists() else shutil.which("rtlflow")
    if script is None:
        pytest.skip("the rtlflow script is not installed")
    bad = subprocess.run(
        [script, "compile", str(BAD / "bad_unsupported_op.onnx"), "-o", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    module = subprocess.run(
        [sys.executable, "-m", "rtlflow.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert module.returncode == 0 and "compile" in module.stdout

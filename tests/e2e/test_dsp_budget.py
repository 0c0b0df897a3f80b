"""The DSP budget in the emitted Verilog: none at 0, at most the budget otherwise, the costliest
products first; LUTs fall as the budget grows; bit-exact under Verilator with DSP products."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rtlflow
from rtlflow.errors import RtlflowError
from rtlflow.rtl.primitives import TERNARY_MODULE
from rtlflow.scan import estimate_report
from rtlflow.sim.runner import run_testbench

MODELS = Path(__file__).resolve().parents[1] / "data" / "models"


def multiplications(outdir: Path) -> int:
    """``*`` operators in the units' Verilog (comments, attributes and ``@*`` aside; the
    ternary adder cell multiplies only its parameters)."""
    count = 0
    for path in (outdir / "rtl").glob("*.v"):
        if path.stem == TERNARY_MODULE:
            continue
        text = re.sub(r"/\*.*?\*/|//[^\n]*|\(\*.*?\*\)|@\*", "", path.read_text(), flags=re.S)
        count += len(re.findall(r"[^*]\*[^*)]", text))
    return count


def test_budget_zero_builds_no_multiplier(tmp_path):
    compiled = rtlflow.compile(MODELS / "etx4velo_mlp.onnx", dsp_budget=0)
    report = compiled.write(tmp_path, vectors=20)
    assert report["resources"]["dsp"] == 0
    assert multiplications(tmp_path) == 0


@pytest.mark.parametrize("budget", [3, 40])
def test_budget_is_honoured_and_used(budget, tmp_path):
    compiled = rtlflow.compile(MODELS / "etx4velo_mlp.onnx", dsp_budget=budget)
    report = compiled.write(tmp_path, vectors=20)
    products = len(re.findall(r"shiftadd\.multiply", compiled.ir("circuit")))
    assert 0 < products <= budget
    assert report["resources"]["dsp"] <= budget
    assert multiplications(tmp_path) == products  # one Verilog product per DSP product (rows 1)
    using = [layer for layer in report["layers"] if layer["resources"]["dsp"]]
    assert using and all("constant product" in layer["dsp_use"] for layer in using)


def test_luts_fall_as_the_budget_grows():
    luts = []
    for budget in (0, 8, 32, 128, "100%"):
        compiled = rtlflow.compile(MODELS / "etx4velo_mlp.onnx", dsp_budget=budget)
        luts.append(estimate_report(compiled)["resources"]["lut"])
    assert luts == sorted(luts, reverse=True) and luts[0] > luts[-1]


def test_budget_products_bit_exact_under_verilator(tmp_path):
    compiled = rtlflow.compile(MODELS / "etx4velo_mlp.onnx", precision="fixed<12,4>", dsp_budget=10)
    compiled.write(tmp_path, vectors=100)
    result = run_testbench(tmp_path)
    assert result.passed and result.mismatches == 0
    assert set(result.latency_cycles) == {result.reported_latency_cycles}


@pytest.mark.parametrize("bad", ["-1", "12.5", "200%", "lots"])
def test_bad_budgets_are_refused(bad):
    with pytest.raises(RtlflowError, match="DSP slices"):
        rtlflow.compile(MODELS / "etx4velo_mlp.onnx", dsp_budget=bad, stop_at="fxp")

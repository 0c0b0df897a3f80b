"""The Vivado project of every output directory and ``rtlflow build``: the script and constraints
are well formed and name the design's sources, top, part and clock; Vivado's utilization and
timing reports (hand-written fixtures in tests/data/vivado/, shaped like Vivado's output for an
UltraScale+ and a 7-series part) are read into report.json; without Vivado on PATH the command
says so in one line. No test runs Vivado: a fake ``vivado`` copies the fixtures into place."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rtlflow
from rtlflow.cli import main
from rtlflow.errors import RtlflowError
from rtlflow.parts import _DEFAULT_SPEED, PARTS, find_part
from rtlflow.vivado import (
    clock_period,
    constraints_text,
    measurement,
    parse_timing_summary,
    parse_utilization,
    vivado_part,
    write_project,
)
from tests.conftest import DATA
from tests.e2e.models import wide_mlp

FIXTURES = DATA / "vivado"

#: the commands build.tcl may use
VIVADO_COMMANDS = (
    "read_verilog", "read_xdc", "synth_design", "opt_design", "place_design", "phys_opt_design",
    "route_design", "report_utilization", "report_timing_summary", "write_checkpoint",
)  # fmt: skip


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# ---- the reports -------------------------------------------------------------------------------


def test_ultrascale_plus_utilization():
    used = parse_utilization(fixture("ultrascale_plus_utilization.rpt"))
    assert (used.lut, used.lut_memory, used.ff, used.dsp) == (1467, 46, 1302, 4)
    # 1.5 Block RAM Tiles: one RAMB36 and one RAMB18, three 18 Kb blocks
    assert (used.bram18, used.uram) == (3, 2)
    assert used.tool == "Vivado v.2023.2"


def test_seven_series_utilization():
    """7-series reports say Slice, not CLB, and older versions have no Prohibited column."""
    used = parse_utilization(fixture("seven_series_utilization.rpt"))
    assert (used.lut, used.lut_memory, used.ff, used.dsp) == (2913, 42, 2210, 12)
    assert (used.bram18, used.uram) == (5, 0)
    assert used.tool == "Vivado v.2019.1"


def test_the_used_column_is_found_by_its_name():
    """Estimates before placement carry a *; pblock reports put columns before Used."""
    text = """
+-----------------+----------+----------+------+-------+-----------+-------+
|    Site Type    | Assigned | External | Used | Fixed | Available | Util% |
+-----------------+----------+----------+------+-------+-----------+-------+
| CLB LUTs*       |       10 |        5 |   15 |     0 |      1000 |  1.50 |
| CLB Registers   |        7 |        1 |    8 |     0 |      2000 |  0.40 |
+-----------------+----------+----------+------+-------+-----------+-------+
"""
    used = parse_utilization(text)
    assert (used.lut, used.ff, used.dsp, used.bram18, used.tool) == (15, 8, 0, 0, "")


def test_ultrascale_plus_timing_summary():
    timing = parse_timing_summary(fixture("ultrascale_plus_timing_summary.rpt"))
    assert (timing.wns_ns, timing.tns_ns, timing.whs_ns) == (0.412, 0.0, 0.021)
    assert (timing.failing_endpoints, timing.total_endpoints) == (0, 2431)
    assert timing.clock_periods_ns == {"clk": 5.0}


def test_seven_series_timing_summary_that_fails():
    timing = parse_timing_summary(fixture("seven_series_timing_summary.rpt"))
    assert (timing.wns_ns, timing.tns_ns, timing.whs_ns) == (-0.734, -12.518, 0.047)
    assert (timing.failing_endpoints, timing.total_endpoints) == (31, 3402)
    assert timing.clock_periods_ns == {"clk": 10.0}


def manifest(target_mhz: float = 200.0, latency: int = 7, part: str = "xcvu13p") -> dict:
    return {
        "top": "wide_mlp",
        "sources": ["rtl/dense.v", "rtl/wide_mlp.v"],
        "clock": {"port": "clk", "target_mhz": target_mhz},
        "latency_cycles": latency,
        "part": {"name": part},
        "resources": {"lut": 1400, "ff": 1300, "dsp": 0, "bram18": 0},
    }


def test_measurement_gives_fmax_and_latency_at_it():
    result = measurement(
        manifest(latency=7),
        parse_utilization(fixture("ultrascale_plus_utilization.rpt")),
        parse_timing_summary(fixture("ultrascale_plus_timing_summary.rpt")),
    )
    # 1000 / (5.000 - 0.412) MHz; 7 cycles of 4.588 ns
    assert result["achieved_fmax_mhz"] == round(1000 / 4.588, 1) == 218.0
    assert result["latency_ns"] == pytest.approx(7 * 4.588)
    assert result["timing_met"] and result["wns_ns"] == 0.412 and result["period_ns"] == 5.0
    assert (result["lut"], result["ff"], result["dsp"], result["bram18"]) == (1467, 1302, 4, 3)
    assert result["part"] == "xcvu13p-flga2577-2-e"
    assert result["method"].startswith("Vivado v.2023.2 out-of-context")


def test_measurement_of_a_failing_design():
    result = measurement(
        manifest(target_mhz=100.0, latency=3, part="xc7z020"),
        parse_utilization(fixture("seven_series_utilization.rpt")),
        parse_timing_summary(fixture("seven_series_timing_summary.rpt")),
    )
    assert result["achieved_fmax_mhz"] == round(1000 / 10.734, 1) == 93.2
    assert result["latency_ns"] == pytest.approx(3 * 10.734)
    assert not result["timing_met"] and result["part"] == "xc7z020clg400-1"


def test_no_constrained_path_gives_no_fmax():
    summary = fixture("ultrascale_plus_timing_summary.rpt")
    numbers = re.search(r"\n( +0\.412 .*)\n", summary).group(1)
    unconstrained = summary.replace(numbers, "        inf        0.000      0      0        inf")
    timing = parse_timing_summary(unconstrained)
    assert timing.wns_ns is None and timing.whs_ns is None
    utilization = parse_utilization(fixture("seven_series_utilization.rpt"))
    result = measurement(manifest(), utilization, timing)
    assert result["achieved_fmax_mhz"] is None and result["latency_ns"] is None


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_utilization, "Vivado% report_power\n", "no 'CLB LUTs / Slice LUTs' row"),
        (parse_timing_summary, "| Clock Summary\n", "no Design Timing Summary"),
    ],
)
def test_what_is_not_a_report_is_an_error(parse, text, message):
    with pytest.raises(RtlflowError, match=message):
        parse(text)


# ---- the project -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "full", "assumed"),
    [
        ("xcvu13p", "xcvu13p-flga2577-2-e", True),
        ("XCVU9P", "xcvu9p-flga2104-2L-e", True),
        ("xcvu13p-flga2577-1-e", "xcvu13p-flga2577-1-e", False),
        ("xcu250-figd2104-2L-e", "xcu250-figd2104-2L-e", False),
        ("xc7z020", "xc7z020clg400-1", True),
        ("xc7z020clg484-2", "xc7z020clg484-2", False),
        ("xc7z020-clg400-1", "xc7z020clg400-1", False),  # AMD writes the package attached
    ],
)
def test_vivado_part(name, full, assumed):
    assert vivado_part(name) == (full, assumed)


@pytest.mark.parametrize("part", sorted(PARTS))
def test_default_vivado_names_are_the_part_at_its_usual_grade(part):
    """The full name assumed for a device name is the device at the speed grade the delay model
    assumes for it."""
    target = find_part(PARTS[part].vivado_name)
    assert target.part.name == part
    assert target.speed_grade == _DEFAULT_SPEED[target.part.family]


@pytest.mark.parametrize(("mhz", "period"), [(200, "5.000"), (240, "4.167"), (40, "25.000")])
def test_clock_period(mhz, period):
    assert clock_period(mhz) == period
    assert f"create_clock -period {period} -name clk [get_ports clk]" in constraints_text(
        manifest(target_mhz=mhz)
    )


def test_a_changed_project_removes_the_reports_of_an_earlier_run(tmp_path):
    write_project(tmp_path, manifest())
    report = tmp_path / "vivado" / "utilization.rpt"
    report.write_text("an earlier run")
    write_project(tmp_path, manifest(), design_changed=False)
    assert report.is_file()
    write_project(tmp_path, manifest(target_mhz=250.0), design_changed=False)
    assert not report.exists()


@pytest.fixture(scope="session")  # once per worker (xdist interleaves modules)
def compiled(tmp_path_factory) -> Path:
    """A small design written as ``rtlflow compile`` writes it (no Verilator needed)."""
    outdir = tmp_path_factory.mktemp("compiled")
    rtlflow.compile(wide_mlp(n_in=4, hidden=6, n_out=2)).write(outdir, vectors=4)
    return outdir


@pytest.fixture
def outdir(compiled, tmp_path) -> Path:
    """A copy of the compiled design, for a test that changes it."""
    return Path(shutil.copytree(compiled, tmp_path / "out"))


def commands(text: str) -> list[list[str]]:
    """The commands of a Tcl file written one per line, as words (comments skipped)."""
    return [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_every_output_directory_has_the_project(compiled):
    report = json.loads((compiled / "report.json").read_text())
    assert report["vendor"] == {
        "vivado": {
            "part": "xcvu13p-flga2577-2-e",
            "files": ["vivado/build.tcl", "vivado/constraints.xdc"],
        }
    }
    assert all((compiled / name).is_file() for name in report["vendor"]["vivado"]["files"])
    assert "project    vivado/build.tcl" in (compiled / "report.txt").read_text()


def test_the_script_is_well_formed(compiled):
    report = json.loads((compiled / "report.json").read_text())
    text = (compiled / "vivado" / "build.tcl").read_text()
    for line in text.splitlines():
        if not line.startswith("#"):
            assert line.count("[") == line.count("]") and line.count("{") == line.count("}"), line
    script = commands(text)
    assert script[0] == ["cd", "[file", "dirname", "[file", "normalize", "[info", "script]]]"]
    assert {words[0] for words in script[1:]} <= set(VIVADO_COMMANDS)
    sources = [words[1] for words in script if words[0] == "read_verilog"]
    assert sources == ["../" + source for source in report["sources"]]
    assert all((compiled / "vivado" / source).is_file() for source in sources)
    (synth,) = [words for words in script if words[0] == "synth_design"]
    part = ["-part", "xcvu13p-flga2577-2-e"]
    assert synth[1:] == ["-top", report["top"], *part, "-mode", "out_of_context"]
    order = [words[0] for words in script]
    assert order.index("read_xdc") < order.index("synth_design") < order.index("route_design")
    assert order.index("route_design") < order.index("report_utilization")
    assert ["read_xdc", "constraints.xdc"] in script
    assert ["report_utilization", "-file", "utilization.rpt"] in script
    assert script[order.index("report_timing_summary")][-2:] == ["-file", "timing_summary.rpt"]


def test_the_script_runs_in_a_tcl_interpreter(compiled):
    """Sourced by a real Tcl interpreter with Vivado's commands stubbed: it parses, and reads the
    design's files relative to its own directory."""
    tkinter = pytest.importorskip("tkinter")
    tcl = tkinter.Tcl()
    tcl.eval("set ::calls {}")
    for command in (*VIVADO_COMMANDS, "cd"):
        tcl.eval(f"proc {command} args {{ lappend ::calls [linsert $args 0 {command}] }}")
    tcl.eval(f"source {{{compiled / 'vivado' / 'build.tcl'}}}")
    calls = [tcl.splitlist(call) for call in tcl.splitlist(tcl.eval("set ::calls"))]
    directory = Path(calls[0][1])
    assert calls[0][0] == "cd" and directory == (compiled / "vivado").resolve()
    files = [call[1] for call in calls if call[0] in ("read_verilog", "read_xdc")]
    assert files[-1] == "constraints.xdc" and len(files) > 2
    assert all((directory / name).is_file() for name in files)


def test_the_constraints_hold_the_clock_of_the_compile(compiled):
    report = json.loads((compiled / "report.json").read_text())
    (constraint,) = commands((compiled / "vivado" / "constraints.xdc").read_text())
    assert constraint[:5] == ["create_clock", "-period", "5.000", "-name", "clk"]
    assert float(constraint[2]) == 1000 / report["clock"]["target_mhz"]
    assert constraint[5:] == ["[get_ports", f"{report['clock']['port']}]"]


# ---- rtlflow build -----------------------------------------------------------------------------


def test_build_without_vivado_is_one_line_and_exit_2(compiled, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["build", str(compiled), "--vivado"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("rtlflow: error: Vivado is not on PATH")
    assert f"{compiled / 'vivado' / 'build.tcl'}" in line and "vivado -mode batch -source" in line


def test_build_imports_no_compiler(compiled, tmp_path):
    """Like report and sim, build starts without onnx, xDSL or Amaranth."""
    script = f"""
import sys
from rtlflow.cli import main
assert main(["build", {str(compiled)!r}]) == 2
print(sorted(m for m in ("onnx", "xdsl", "amaranth", "onnxruntime") if m in sys.modules))
"""
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={"PATH": str(tmp_path)}
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


FAKE_VIVADO = """#!{python}
# A stand-in for vivado -mode batch -source SCRIPT: writes the reports SCRIPT names from fixtures.
import json, pathlib, shutil, sys, time
arguments = sys.argv[1:]
call = {{"argv": arguments, "cwd": str(pathlib.Path.cwd())}}
pathlib.Path("fake_vivado.json").write_text(json.dumps(call))
if {fail}:
    print("ERROR: [Synth 8-439] module 'missing' not found")
    sys.exit(1)
time.sleep({sleep})
script = pathlib.Path(arguments[arguments.index("-source") + 1])
fixtures = {{"report_utilization": {utilization!r}, "report_timing_summary": {timing!r}}}
for line in script.read_text().splitlines():
    words = line.split()
    if words and words[0] in fixtures:
        shutil.copyfile(fixtures[words[0]], words[words.index("-file") + 1])
"""


def fake_vivado(bin_dir: Path, fail: bool = False, sleep: float = 0) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / "vivado"
    path.write_text(
        FAKE_VIVADO.format(
            python=sys.executable,
            fail=fail,
            sleep=sleep,
            utilization=str(FIXTURES / "ultrascale_plus_utilization.rpt"),
            timing=str(FIXTURES / "ultrascale_plus_timing_summary.rpt"),
        )
    )
    path.chmod(0o755)


def test_build_runs_vivado_and_reads_its_reports(outdir, tmp_path, monkeypatch, capsys):
    fake_vivado(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert main(["build", str(outdir)]) == 0
    call = json.loads((outdir / "vivado" / "fake_vivado.json").read_text())
    assert Path(call["cwd"]) == (outdir / "vivado").resolve()
    assert call["argv"][:2] == ["-mode", "batch"] and call["argv"][-2:] == ["-source", "build.tcl"]
    report = json.loads((outdir / "report.json").read_text())
    measured = report["vivado"]
    resources = (measured["lut"], measured["ff"], measured["dsp"], measured["bram18"])
    assert resources == (1467, 1302, 4, 3)
    assert measured["uram"] == 2 and measured["part"] == "xcvu13p-flga2577-2-e"
    assert measured["wns_ns"] == 0.412 and measured["achieved_fmax_mhz"] == 218.0
    assert measured["latency_ns"] == pytest.approx(report["latency_cycles"] * 4.588)
    assert measured["reports"] == ["vivado/utilization.rpt", "vivado/timing_summary.rpt"]
    printed = capsys.readouterr().out
    assert "vivado     LUT 1467 (46 as memory), FF 1302, DSP 4, BRAM18 3, URAM 2" in printed
    assert "fmax 218 MHz" in printed
    assert printed.strip() in (outdir / "report.txt").read_text()


def test_a_failing_vivado_run_is_one_line_and_exit_2(outdir, tmp_path, monkeypatch, capsys):
    fake_vivado(tmp_path / "bin", fail=True)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert main(["build", str(outdir)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "Vivado failed (exit 1): ERROR: [Synth 8-439] module 'missing' not found" in line
    assert "vivado" not in json.loads((outdir / "report.json").read_text())


def test_build_gives_up_after_the_timeout(outdir, tmp_path, monkeypatch, capsys):
    fake_vivado(tmp_path / "bin", sleep=60)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert main(["build", str(outdir), "--timeout", "1"]) == 2
    assert "Vivado did not finish within 1 s" in capsys.readouterr().err


def test_build_writes_the_project_an_older_directory_lacks(outdir, tmp_path, monkeypatch, capsys):
    shutil.rmtree(outdir / "vivado")
    report = json.loads((outdir / "report.json").read_text())
    del report["vendor"]
    (outdir / "report.json").write_text(json.dumps(report))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["build", str(outdir)]) == 2
    assert "Vivado is not on PATH" in capsys.readouterr().err
    assert (outdir / "vivado" / "build.tcl").is_file()
    assert "vivado" in json.loads((outdir / "report.json").read_text())["vendor"]


def test_build_of_a_directory_without_a_design_exits_2(tmp_path, capsys):
    assert main(["build", str(tmp_path)]) == 2
    assert "not an rtlflow output directory" in capsys.readouterr().err

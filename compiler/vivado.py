"""Vendor projects: a Vivado script in every output directory, and its reports read back.

Every compile writes ``OUTDIR/vivado/build.tcl`` and ``OUTDIR/vivado/constraints.xdc``
(``write_project``): Vivado's non-project batch flow on the manifest's sources, out-of-context
synthesis for the part (no I/O buffers: the design is a block of a larger firmware), opt, place,
phys_opt and route, then ``report_utilization`` and ``report_timing_summary`` written beside the
script. The XDC holds one constraint, the clock of ``--clock-mhz`` on the clock port. The ports are
left without input and output delays, so the timing is that of the paths between registers.

``rtlflow build OUTDIR`` runs the script (``run_vivado``) and reads the two reports
(``parse_utilization``, ``parse_timing_summary``) into report.json's ``vivado`` section
(``measurement``): LUT, FF, DSP and BRAM as placed, the worst negative slack, the fmax it allows
and the latency in ns at that fmax.

The part database holds AMD parts only, so there is no Quartus project (nor SDC) yet. This module
imports nothing of the compiler: ``rtlflow build`` starts without onnx or xDSL.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rtlflow.errors import RtlflowError
from rtlflow.parts import find_part

#: the folder of OUTDIR that holds the project, and the files in it
VIVADO_DIR = "vivado"
SCRIPT = "build.tcl"
CONSTRAINTS = "constraints.xdc"
UTILIZATION_REPORT = "utilization.rpt"
TIMING_REPORT = "timing_summary.rpt"
CHECKPOINT = "post_route.dcp"
LOG = "vivado.log"
#: what a run of the script leaves (stale once the design or the script changes)
RUN_OUTPUTS = (UTILIZATION_REPORT, TIMING_REPORT, CHECKPOINT, LOG)


# ---- the project ---------------------------------------------------------------------------------


def vivado_part(name: str) -> tuple[str, bool]:
    """The full part name Vivado is given for ``--part name``, and whether it was assumed: a name
    with a package is used as written (a 7-series package joined to the device, as AMD writes
    ``xc7z020clg400-1``); a device name alone stands for the database's ``vivado_name``."""
    target = find_part(name)
    part, text = target.part, target.full_name
    base, *rest = text.split("-")
    if len(base) > len(part.name):  # xc7z020clg400-1: the package attached
        return text, False
    if rest and re.fullmatch(r"[A-Za-z]+\d+", rest[0]):
        if part.family == "7series":
            return "-".join([base + rest[0], *rest[1:]]), False
        return text, False
    return part.vivado_name, True


def clock_period(mhz: float) -> str:
    """The clock period in ns as the XDC writes it: three decimals (200 MHz: ``5.000``)."""
    return f"{1000.0 / mhz:.3f}"


def _tcl_word(text: str) -> str:
    """``text`` as one Tcl word: bare when it is a plain name or path, else in braces."""
    if re.fullmatch(r"[\w./+-]+", text):
        return text
    if re.search(r"[{}\\]", text):
        raise RtlflowError(f"cannot write '{text}' into a Tcl script (braces or backslashes)")
    return "{" + text + "}"


def constraints_text(report: dict[str, Any]) -> str:
    """The XDC: the clock of the compile on the clock port, named ``clk``."""
    clock = report["clock"]
    return (
        f"# {report['top']}: the clock the registers were placed for "
        f"(rtlflow compile --clock-mhz {clock['target_mhz']:g})\n"
        f"create_clock -period {clock_period(clock['target_mhz'])} -name clk "
        f"[get_ports {_tcl_word(clock['port'])}]\n"
    )


def script_text(report: dict[str, Any]) -> str:
    """The Tcl script of Vivado's non-project flow for the design of a manifest."""
    part, assumed = vivado_part(report["part"]["name"])
    top = _tcl_word(report["top"])
    lines = [
        f"# {report['top']} on {part}: Vivado's non-project flow, out-of-context synthesis and",
        "# implementation, the reports beside this script. Written by rtlflow compile; run it",
        "# from any directory with  vivado -mode batch -source <this file>,  or with",
        "# rtlflow build OUTDIR,  which reads the reports into report.json.",
    ]
    if assumed:
        lines += [
            f"# --part {report['part']['name']} names no package: {part} is assumed (give",
            "# rtlflow compile --part the full name to choose another).",
        ]
    lines += [
        "cd [file dirname [file normalize [info script]]]",
        *(f"read_verilog {_tcl_word('../' + source)}" for source in report["sources"]),
        f"read_xdc {CONSTRAINTS}",
        f"synth_design -top {top} -part {_tcl_word(part)} -mode out_of_context",
        "opt_design",
        "place_design",
        "phys_opt_design",
        "route_design",
        f"report_utilization -file {UTILIZATION_REPORT}",
        f"report_timing_summary -max_paths 10 -file {TIMING_REPORT}",
        f"write_checkpoint -force {CHECKPOINT}",
    ]
    return "\n".join(lines) + "\n"


def write_project(
    outdir: str | Path, report: dict[str, Any], *, design_changed: bool = True
) -> dict[str, Any]:
    """Write ``vivado/build.tcl`` and ``vivado/constraints.xdc`` for the design of ``report``
    (the manifest) into ``outdir``, and return its manifest entry: the Vivado part and the files.
    When the design or a file changed, what an earlier run left (reports, checkpoint, log) is
    removed: it describes another design. Unchanged files are not rewritten."""
    directory = Path(outdir) / VIVADO_DIR
    directory.mkdir(parents=True, exist_ok=True)
    files = {SCRIPT: script_text(report), CONSTRAINTS: constraints_text(report)}
    changed = design_changed
    for name, text in files.items():
        path = directory / name
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            changed = True
    if changed:
        for name in RUN_OUTPUTS:
            (directory / name).unlink(missing_ok=True)
    return {
        "part": vivado_part(report["part"]["name"])[0],
        "files": [f"{VIVADO_DIR}/{name}" for name in files],
    }


# ---- the reports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Utilization:
    """What ``report_utilization`` counts: LUTs (those used as memory included, and apart), flip-
    flops, DSP slices, block RAM in 18 Kb halves (a Block RAM Tile is two), UltraRAM."""

    lut: int
    lut_memory: int
    ff: int
    dsp: int
    bram18: int
    uram: int
    tool: str  # "Vivado v.2023.2", or "" when the header is missing


#: the rows read, by the names Vivado gives them: UltraScale and UltraScale+ say CLB, 7-series
#: Slice (a trailing * marks estimates before placement)
_ROWS = {
    "lut": ("CLB LUTs", "Slice LUTs"),
    "lut_memory": ("LUT as Memory",),
    "ff": ("CLB Registers", "Slice Registers"),
    "dsp": ("DSPs",),
    "bram_tiles": ("Block RAM Tile",),
    "uram": ("URAM",),
}


def _used_column(text: str) -> dict[str, float]:
    """Every row's value in the Used column, by site type (first occurrence), from the tables
    whose header names the site type and a Used column: the column is found by name, so the
    Prohibited column of newer versions and the pblock columns do not matter."""
    values: dict[str, float] = {}
    in_table, used = False, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("+"):  # a border: the table goes on
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not in_table:  # the first row of a table is its header
            in_table = True
            used = cells.index("Used") if cells[0] == "Site Type" and "Used" in cells else None
            continue
        if used is None or len(cells) <= used:
            continue
        name = cells[0].rstrip("*").strip()
        try:
            value = float(cells[used].replace(",", ""))
        except ValueError:
            continue
        values.setdefault(name, value)
    return values


def _tool(text: str) -> str:
    match = re.search(r"^\|\s*Tool Version\s*:\s*(Vivado v\.\S+)", text, re.MULTILINE)
    return match.group(1) if match else ""


def parse_utilization(text: str) -> Utilization:
    """The totals of a ``report_utilization`` report (UltraScale+, UltraScale or 7-series)."""
    values = _used_column(text)
    found = {}
    for key, names in _ROWS.items():
        found[key] = next((values[name] for name in names if name in values), None)
    for key in ("lut", "ff"):
        if found[key] is None:
            raise RtlflowError(
                f"the utilization report has no '{' / '.join(_ROWS[key])}' row: not the output "
                "of report_utilization?"
            )
    return Utilization(
        lut=int(found["lut"]),
        lut_memory=int(found["lut_memory"] or 0),
        ff=int(found["ff"]),
        dsp=int(found["dsp"] or 0),
        bram18=round(2 * (found["bram_tiles"] or 0)),
        uram=int(found["uram"] or 0),
        tool=_tool(text),
    )


@dataclass(frozen=True)
class TimingSummary:
    """The Design Timing Summary of ``report_timing_summary``; slacks in ns, None where Vivado
    found no constrained path (it prints ``inf``); the clock periods of its Clock Summary."""

    wns_ns: float | None
    tns_ns: float | None
    failing_endpoints: int
    total_endpoints: int
    whs_ns: float | None
    clock_periods_ns: dict[str, float]


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and abs(value) != float("inf") else None


def parse_timing_summary(text: str) -> TimingSummary:
    """WNS, TNS, endpoints and WHS of the Design Timing Summary, and the Clock Summary's
    periods by clock name."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "Design Timing Summary" in line), None)
    if start is None:
        raise RtlflowError(
            "the timing report has no Design Timing Summary: not the output of "
            "report_timing_summary?"
        )
    header = next(
        (i for i in range(start, len(lines)) if lines[i].strip().startswith("WNS(ns)")), None
    )
    if header is None or header + 2 >= len(lines):
        raise RtlflowError("the timing report's Design Timing Summary has no WNS(ns) column")
    names = re.split(r"\s{2,}", lines[header].strip())
    values = dict(zip(names, lines[header + 2].split(), strict=False))
    periods = {}
    for line in lines:
        match = re.match(r"^(\S+)\s+\{[\d.\s]+\}\s+([\d.]+)\s+([\d.]+)\s*$", line)
        if match:
            periods.setdefault(match.group(1), float(match.group(2)))
    return TimingSummary(
        wns_ns=_number(values.get("WNS(ns)")),
        tns_ns=_number(values.get("TNS(ns)")),
        failing_endpoints=int(_number(values.get("TNS Failing Endpoints")) or 0),
        total_endpoints=int(_number(values.get("TNS Total Endpoints")) or 0),
        whs_ns=_number(values.get("WHS(ns)")),
        clock_periods_ns=periods,
    )


def measurement(
    report: dict[str, Any], utilization: Utilization, timing: TimingSummary
) -> dict[str, Any]:
    """report.json's ``vivado`` section: the measured resources, the slack at the target period,
    the fmax it allows (1000 / (period − WNS)) and the latency in ns at that fmax. Without a
    constrained path (a design without registers) fmax and latency are None."""
    period = timing.clock_periods_ns.get("clk", float(clock_period(report["clock"]["target_mhz"])))
    achieved = None
    if timing.wns_ns is not None and period - timing.wns_ns > 0:
        achieved = 1000.0 / (period - timing.wns_ns)
    resources = asdict(utilization)
    tool = resources.pop("tool") or "Vivado"
    vendor = report.get("vendor", {}).get("vivado", {})
    part = vendor.get("part") or vivado_part(report["part"]["name"])[0]
    return resources | {
        "period_ns": period,
        "wns_ns": timing.wns_ns,
        "tns_ns": timing.tns_ns,
        "whs_ns": timing.whs_ns,
        "failing_endpoints": timing.failing_endpoints,
        "timing_met": timing.wns_ns is None or (
            timing.wns_ns >= 0 and (timing.whs_ns is None or timing.whs_ns >= 0)
        ),
        "achieved_fmax_mhz": round(achieved, 1) if achieved is not None else None,
        "latency_ns": (
            round(report["latency_cycles"] * 1000.0 / achieved, 3) if achieved is not None else None
        ),
        "part": part,
        "method": f"{tool} out-of-context synthesis, place and route on {part} "
        f"(vivado/{SCRIPT})",
        "reports": [f"{VIVADO_DIR}/{UTILIZATION_REPORT}", f"{VIVADO_DIR}/{TIMING_REPORT}"],
    }


# ---- the run ------------------------------------------------------------------------------------


def missing_vivado_message(outdir: str | Path) -> str:
    script = Path(outdir) / VIVADO_DIR / SCRIPT
    return (
        f"Vivado is not on PATH (source its settings64.sh first): the project script is {script} "
        f"(run it with: vivado -mode batch -source {script})"
    )


def _failure(directory: Path, output: str) -> str:
    """The first ERROR line of Vivado's output or log, else its last line."""
    log = directory / LOG
    text = output + ("\n" + log.read_text(errors="replace") if log.is_file() else "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return errors[0] if errors else (lines[-1] if lines else "no output")


def run_vivado(
    outdir: str | Path, report: dict[str, Any], *, timeout: float | None = None
) -> dict[str, Any]:
    """Run ``vivado/build.tcl`` of an output directory with the ``vivado`` on PATH and return the
    ``vivado`` section for its report.json (``measurement``). The reports of an earlier run are
    removed first."""
    directory = Path(outdir) / VIVADO_DIR
    executable = shutil.which("vivado")
    if executable is None:
        raise RtlflowError(missing_vivado_message(outdir))
    if not (directory / SCRIPT).is_file():
        raise RtlflowError(f"no {VIVADO_DIR}/{SCRIPT} in {outdir}")
    for name in RUN_OUTPUTS:
        (directory / name).unlink(missing_ok=True)
    command = [executable, "-mode", "batch", "-nojournal", "-log", LOG, "-source", SCRIPT]
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a timeout ends Vivado's own processes too
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended meanwhile
            pass
        process.communicate()
        raise RtlflowError(f"Vivado did not finish within {timeout:g} s") from None
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RtlflowError(
            f"Vivado failed (exit {process.returncode}): {_failure(directory, output)} "
            f"(log: {directory / LOG})"
        )
    for name in (UTILIZATION_REPORT, TIMING_REPORT):
        if not (directory / name).is_file():
            raise RtlflowError(f"Vivado finished without writing {directory / name}")
    result = measurement(
        report,
        parse_utilization((directory / UTILIZATION_REPORT).read_text(errors="replace")),
        parse_timing_summary((directory / TIMING_REPORT).read_text(errors="replace")),
    )
    return result | {"seconds": round(seconds, 1)}

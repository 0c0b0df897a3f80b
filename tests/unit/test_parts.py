"""FPGA part lookup (rtlflow.parts.find_part): names, speed grades and resource counts."""

import pytest

from rtlflow.errors import RtlflowError
from rtlflow.parts import PARTS, find_part


@pytest.mark.parametrize(
    ("name", "part", "speed"),
    [
        ("xcvu13p", "xcvu13p", 2),  # UltraScale+ default -2
        ("XCVU13P", "xcvu13p", 2),
        ("  xcvu9p ", "xcvu9p", 2),
        ("xcvu13p-flga2577-2-e", "xcvu13p", 2),
        ("xcvu13p-flga2577-2L-e", "xcvu13p", 2),
        ("XCVU13P-FLGA2577-1-E", "xcvu13p", 1),
        ("xcvu13p-flga2577-3-e", "xcvu13p", 3),
        ("xcvu13p-flga2577-e", "xcvu13p", 2),  # no grade in the name: family default
        ("xcu250-figd2104-2L-e", "xcu250", 2),
        ("xcu280-fsvh2892-2L-e", "xcu280", 2),
        ("xcku115", "xcku115", 2),  # UltraScale default -2
        ("xcku115-flvb2104-1-c", "xcku115", 1),
        ("xc7z020", "xc7z020", 1),  # 7-series default -1
        ("xc7z020-clg400-1", "xc7z020", 1),
        ("xc7z020-clg484-2", "xc7z020", 2),
    ],
)
def test_find_part(name, part, speed):
    target = find_part(name)
    assert target.part.name == part
    assert target.speed_grade == speed
    assert target.full_name == name.strip()


@pytest.mark.parametrize("name", ["xcvu13", "xc7a35t", "", "vu13p", "xcvu13p_flga2577"])
def test_unknown_part_lists_known_parts(name):
    with pytest.raises(RtlflowError) as info:
        find_part(name)
    message = str(info.value)
    assert f"'{name}'" in message
    for known in PARTS:
        assert known in message


def test_seven_series_full_name():
    target = find_part("xc7z020clg400-1")
    assert (target.part.name, target.speed_grade) == ("xc7z020", 1)


@pytest.mark.parametrize(
    ("name", "family", "lut", "ff", "dsp", "bram18"),
    [
        ("xcvu13p", "ultrascale+", 1_728_000, 3_456_000, 12_288, 5_376),
        ("xc7z020", "7series", 53_200, 106_400, 220, 280),
    ],
)
def test_resources(name, family, lut, ff, dsp, bram18):
    part = find_part(name).part
    assert (part.family, part.lut, part.ff, part.dsp, part.bram18) == (
        family, lut, ff, dsp, bram18
    )


def test_every_part_is_consistent():
    for name, part in PARTS.items():
        assert part.name == name == name.lower()
        assert part.family in ("ultrascale+", "ultrascale", "7series")
        assert part.ff == 2 * part.lut  # every one of these families has 2 FFs per LUT
        assert min(part.dsp, part.bram18) > 0

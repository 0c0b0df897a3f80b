"""Graph networks end to end: run-time gather / scatter and the incidence-matrix form.

Expected values come from onnxruntime (valid indices) and, for indices outside the graph, from
the rule rtlflow documents (a gather reads 0, a scatter drops the update), written out here in
numpy. The RTL runs under Verilator and must equal the emulator bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import rtlflow
from rtlflow.errors import RtlflowError
from rtlflow.fidelity import roc_auc
from rtlflow.sim.runner import run_testbench
from tests.conftest import DATA
from tests.e2e import graph_models as gm
from tests.e2e import models
from tests.e2e.test_end_to_end import ABSOLUTE, RELATIVE

SAMPLES = 60


def graph_inputs(model, count: int, seed: int = 0, low: int = 0, high: int = gm.NODES):
    rng = np.random.default_rng(seed)
    inputs = {"x": rng.normal(0, 1, (count, gm.NODES, gm.FEATURES)).clip(-7, 7)}
    names = {v.name for v in model.graph.input}
    if "edge_index" in names:
        inputs["edge_index"] = gm.edge_indices(rng, count, low, high)
    if "picks" in names:
        inputs["picks"] = rng.integers(low, high, (count, gm.NODES, gm.FEATURES))
    return inputs


def simulate(compiled, directory, inputs) -> dict:
    """Write with ``inputs`` as test vectors, run Verilator: bit-exact, latency as reported."""
    report = compiled.write(directory, inputs=inputs)
    result = run_testbench(directory, gaps=0.25)
    count = len(next(iter(inputs.values())))
    assert result.samples == count
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"]
    assert result.latency_cycles == [report["latency_cycles"]]
    assert result.initiation_interval == report["initiation_interval"]
    return report


def assert_close_to_onnxruntime(compiled, model, inputs) -> None:
    emulated = compiled.predict(inputs)
    emulated = emulated if isinstance(emulated, list) else [emulated]
    for ours, reference in zip(emulated, models.onnxruntime_outputs(model, inputs), strict=True):
        reference = reference.reshape(ours.shape)
        error = np.abs(ours - reference)
        assert np.all(error <= ABSOLUTE + RELATIVE * np.abs(reference)), error.max()


# ---- semantics ------------------------------------------------------------------------------


@pytest.mark.parametrize("index_format", [None, "fixed<4,4>"])
def test_routing_equals_onnxruntime_exactly(index_format):
    """Integer-valued data through Gather, GatherElements, ScatterND (add, none) and
    ScatterElements: no rounding anywhere, so the emulator equals onnxruntime exactly. With a
    signed index format, negative indices count from the end as in ONNX."""
    model = gm.routing()
    config = {}
    low = 0
    if index_format:
        config = {"inputs": {"edge_index": index_format, "picks": index_format}}
        low = -gm.NODES
    inputs = graph_inputs(model, 200, seed=1, low=low)
    inputs["x"] = np.round(inputs["x"] * 2)  # small integers: sums stay exact in fixed<16,6>
    compiled = rtlflow.compile(model, config=config, stop_at="circuit")
    for ours, reference in zip(compiled.predict(inputs), models.onnxruntime_outputs(model, inputs),
                               strict=True):
        np.testing.assert_array_equal(ours, reference.reshape(ours.shape))


def expected_routing(x: np.ndarray, edge_index: np.ndarray, picks: np.ndarray) -> list[np.ndarray]:
    """The routing model by the out-of-range rule, one sample at a time, plain loops."""
    added, replaced, elements, picked = [], [], [], []
    for xs, (source, target), pick in zip(x, edge_index, picks, strict=True):
        a, r, e = xs.copy(), xs.copy(), np.zeros_like(xs)
        for s, t in zip(source, target, strict=True):
            if t >= gm.NODES:
                continue  # a scatter drops updates with an index outside the graph
            row = xs[s] if s < gm.NODES else np.zeros(gm.FEATURES)  # a gather reads 0
            a[t] += row
            r[t] = row
            e[t] += row
        p = np.zeros_like(xs)
        for n in range(gm.NODES):
            for f in range(gm.FEATURES):
                p[n, f] = xs[pick[n, f], f] if pick[n, f] < gm.NODES else 0
        added.append(a), replaced.append(r), elements.append(e), picked.append(p)
    return [np.array(v) for v in (added, replaced, elements, picked)]


def test_indices_outside_the_graph_read_zero_and_are_dropped(tmp_path):
    """The default index format numbers 0..7 for 6 nodes: 6 and 7 select nothing. Emulator by
    the documented rule, and the RTL bit-exact with it."""
    model = gm.routing()
    inputs = graph_inputs(model, SAMPLES, seed=2, high=8)
    inputs["x"] = np.round(inputs["x"] * 2)
    assert (inputs["edge_index"] >= gm.NODES).any() and (inputs["picks"] >= gm.NODES).any()
    compiled = rtlflow.compile(model)
    assert [str(f) for f in compiled.emulator.input_formats] == [
        "fixed<16,6>", "ufixed<3,3>", "ufixed<3,3>"
    ]
    expected = expected_routing(inputs["x"], inputs["edge_index"], inputs["picks"])
    for ours, reference in zip(compiled.predict(inputs), expected, strict=True):
        np.testing.assert_array_equal(ours, reference)
    report = simulate(compiled, tmp_path, inputs)
    assert report["inputs"][1]["format"] == {"width": 3, "int": 3, "signed": False}


# ---- message passing --------------------------------------------------------------------------


@pytest.mark.parametrize("scatter", ["nd", pytest.param("elements", marks=pytest.mark.slow)])
def test_message_passing(scatter, tmp_path):
    """index_select / index_add (ScatterND) or scatter_add (ScatterElements) with repeated
    targets: close to onnxruntime, RTL bit-exact (with out-of-range indices as well)."""
    model = gm.message_passing(scatter)
    compiled = rtlflow.compile(model)
    assert_close_to_onnxruntime(compiled, model, graph_inputs(model, 200, seed=3))
    inputs = graph_inputs(model, SAMPLES, seed=4, high=8)
    report = simulate(compiled, tmp_path, inputs)
    ops = {layer["op"] for layer in report["layers"]}
    assert {"gather", "scatter", "dense"} <= ops


def test_incidence_matrices_become_selection_logic(tmp_path):
    """Ro^T @ X and Ri @ e with 1-bit incidence inputs: no multipliers in the matmul units,
    close to onnxruntime, RTL bit-exact."""
    model = gm.incidence()
    config = {"inputs": {"Ro": "ufixed<1,1>", "Ri": "ufixed<1,1>"}}
    compiled = rtlflow.compile(model, config=config)
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (SAMPLES, gm.NODES, gm.FEATURES)).clip(-7, 7)
    ro, ri = gm.incidence_matrices(gm.edge_indices(rng, SAMPLES))
    inputs = {"x": x, "Ro": ro, "Ri": ri}
    assert_close_to_onnxruntime(compiled, model, inputs)
    report = simulate(compiled, tmp_path, inputs)
    matmuls = [layer for layer in report["layers"] if layer["op"] == "matmul"]
    assert len(matmuls) == 3
    assert all(layer["resources"]["dsp"] == 0 for layer in matmuls)


# ---- errors -------------------------------------------------------------------------------------


def test_index_input_needs_an_integer_format():
    with pytest.raises(RtlflowError, match="'edge_index' is an integer tensor"):
        rtlflow.compile(gm.routing(), config={"inputs": {"edge_index": "fixed<8,4>"}})


# ---- the seed interaction network (hls4ml's 28-hit / 37-edge segment classifier) ----------------


def test_interaction_network_auc_at_12_bits():
    """12-bit values with calibrated integer bits keep the float model's edge AUC (the seed's
    finding); the emulator's edge scores stay close to onnxruntime's."""
    data = np.load(DATA / "models" / "interaction_network.npz")
    inputs = {key: data[key] for key in ("node_attr", "edge_attr", "edge_index")}
    compiled = rtlflow.compile(DATA / "models" / "interaction_network.onnx",
                               precision="fixed<12,6>", calibrate=inputs, stop_at="fxp")
    assert str(compiled.emulator.input_formats[2]) == "ufixed<5,5>"
    scores = compiled.predict(inputs)
    float_auc = roc_auc(data["ref_edge_score"], data["labels"])
    assert float_auc == pytest.approx(0.958, abs=0.001)
    assert roc_auc(scores, data["labels"]) == pytest.approx(float_auc, abs=0.005)
    assert np.abs(scores - data["ref_edge_score"]).mean() < 0.01

"""ONNX → Verilog → Verilator, bit-exact with the emulator; the emulator close to onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import rtlflow
from rtlflow.sim.runner import run_testbench
from tests.conftest import DATA
from tests.e2e import models

#: Emulator vs float, default fixed<16,6> (LSB 2^-10): results truncate, tables (sigmoid, tanh,
#: softmax) step by 2^-6 to 2^-7, and truncated weights err in proportion to the activations.
#: Bound: 64 LSBs plus 1 % of the value.
ABSOLUTE, RELATIVE = 64 * 2.0**-10, 0.01


def model_inputs(model: onnx.ModelProto, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inputs = {}
    for value in model.graph.input:
        shape = [d.dim_value or 1 for d in value.type.tensor_type.shape.dim]  # a dynamic batch: 1
        inputs[value.name] = np.clip(rng.normal(0, 1.5, (count, *shape)), -7, 7)
    return inputs


def check_model(model: onnx.ModelProto, directory: Path, **options) -> dict:
    """Compile, simulate with random idle cycles, compare; returns the report."""
    compiled = rtlflow.compile(model, part="xcvu13p", **options)
    inputs = model_inputs(model, 120)
    report = compiled.write(directory, inputs=inputs)
    result = run_testbench(directory, gaps=0.25)
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"]
    assert result.latency_cycles == [report["latency_cycles"]]
    assert result.initiation_interval == report["initiation_interval"]
    emulated = compiled.predict(inputs)
    emulated = emulated if isinstance(emulated, list) else [emulated]
    for ours, reference in zip(emulated, models.onnxruntime_outputs(model, inputs), strict=True):
        reference = reference.reshape(ours.shape)
        assert np.all(np.abs(ours - reference) <= ABSOLUTE + RELATIVE * np.abs(reference))
    return report


@pytest.mark.parametrize(
    "builder",
    [models.mixed_activations, models.two_outputs, models.elementwise_affine, models.per_row_dense,
     models.gemm_of_activations],
)  # fmt: skip
def test_models_built_in_code(builder, tmp_path):
    report = check_model(builder(), tmp_path)
    assert report["initiation_interval"] == 1


def test_two_outputs_share_valid_and_latency(tmp_path):
    report = check_model(models.two_outputs(), tmp_path)
    assert [o["name"] for o in report["outputs"]] == ["score", "embedding"]
    assert {o["valid"] for o in report["outputs"]} == {"out_valid"}
    assert any(layer["op"] == "delay" for layer in report["layers"])


EXPORTS = sorted(p.stem for p in (DATA / "onnx").glob("*.onnx") if not p.stem.startswith("bad_"))
#: tf2onnx's exports of Keras models: their Verilator runs take about a minute each (checked
#: without Verilator by default: test_tf2onnx_exports_compile_with_defaults)
TF2ONNX = ("keras_conv1d", "keras_mnist_cnn")


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in TF2ONNX else n for n in EXPORTS]
)
def test_exporter_styles(name, tmp_path):
    """PyTorch (TorchScript and dynamo), tf2onnx (Keras), Keras-style MatMul+Add and opset 7/9
    files."""
    check_model(onnx.load(DATA / "onnx" / f"{name}.onnx"), tmp_path)


def test_tf2onnx_exports_compile_with_defaults():
    """Keras models as tf2onnx writes them compile with defaults and the emulator follows
    onnxruntime on their samples; the 28x28 MNIST CNN, its NHWC input viewed channels-first by
    a Reshape, streams a pixel a beat straight from that input (channels-last: no "order")."""
    for name in TF2ONNX:
        model = onnx.load(DATA / "onnx" / f"{name}.onnx")
        data = np.load(DATA / "onnx" / f"{name}.npz")
        compiled = rtlflow.compile(model)
        inputs = {"input": data["input"][:16]}
        emulated = compiled.predict(inputs)
        (reference,) = models.onnxruntime_outputs(model, inputs)
        reference = reference.reshape(emulated.shape)
        assert np.all(np.abs(emulated - reference) <= ABSOLUTE + RELATIVE * np.abs(reference))
        report = compiled.report()
        port = report["inputs"][0]
        if name == "keras_mnist_cnn":
            assert port["shape"] == [1, 28, 28, 1] and port["beats"] == 784
            assert "order" not in port and report["initiation_interval"] == 784
            assert {layer.get("style") for layer in report["layers"] if "style" in layer} == {
                "stream"
            }
        else:
            assert port["beats"] == 1 and report["initiation_interval"] == 1


def test_reuse_factor_per_layer(tmp_path):
    model = models.wide_mlp()
    first_dense = model.graph.node[0].name
    config = {"reuse_factor": 3, "layers": {first_dense: {"reuse_factor": 5}}}
    report = check_model(model, tmp_path, config=config)
    reuse = {layer["name"]: layer.get("reuse_factor") for layer in report["layers"]}
    assert reuse[first_dense] == 5
    assert sorted(r for r in reuse.values() if r) == [3, 3, 5]
    assert report["initiation_interval"] == 5
    assert report["inputs"][0]["ready"] == "in_ready"


@pytest.mark.parametrize(("reuse", "phases"), [(2, 2), (3, 3), (8, 3)])
def test_dense_over_rows_folds_its_rows_onto_adder_graphs(reuse, phases, tmp_path):
    """A dense layer over three rows with R > 1: ceil(3 / R) rows per phase, each through the
    layer's adder graph (no DSP slice, where per-neuron multipliers would take one per row and
    neuron); II = the phases (3 when R exceeds the rows), padded phases (R = 2: rows 0-1, then 2
    and nothing); bit-exact with the reported latency and II under random idle cycles. The
    rows of a phase are instances of one row module per layer (its Verilog written once)."""
    report = check_model(models.per_row_dense(), tmp_path, reuse_factor=reuse)
    dense = [layer for layer in report["layers"] if layer["op"] == "dense"]
    assert len(dense) == 2
    assert all(layer["ii"] == phases and layer["resources"]["dsp"] == 0 for layer in dense)
    assert report["initiation_interval"] == phases
    assert report["resources"]["dsp"] == 0
    row_modules = sorted(p.stem for p in (tmp_path / "rtl").glob("dense_*_row_*.v"))
    assert len(row_modules) == 2
    text = "".join(p.read_text() for p in (tmp_path / "rtl").glob("dense_*.v"))
    for row in row_modules:
        assert text.count(f"  {row} row") == -(-3 // reuse)  # ceil(rows / R) per phase
    assert "Generated by" not in text  # written directly, not through Yosys


def test_precision_config(tmp_path):
    """Narrow per-layer formats with rounding and saturation stay bit-exact."""
    model = models.wide_mlp(seed=5)
    names = [n.name for n in model.graph.node if n.op_type == "Gemm"]
    config = {
        "precision": "fixed<12,5>",
        "inputs": {"x": "fixed<10,4,RND,SAT>"},
        "layers": {
            names[0]: {"weight": "fixed<6,2,RND>", "result": "fixed<10,4,RND,SAT>"},
            names[1]: {"accumulator": "fixed<14,6,TRN,SAT>", "result": "ufixed<8,4>"},
        },
    }
    compiled = rtlflow.compile(model, config=config)
    report = compiled.write(tmp_path, vectors=150)
    result = run_testbench(tmp_path)
    assert result.passed, result.details
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers[names[0]]["weight"] == "fixed<6,2,RND,WRAP>"
    assert layers[names[1]]["accumulator"] == "fixed<14,6,TRN,SAT>"
    assert report["inputs"][0]["format"] == {"width": 10, "int": 4, "signed": True}


def test_a_design_larger_than_the_part_is_named(tmp_path):
    """The jet tagger at fixed<16,6> on a Zynq-7020 (53,200 LUTs): the first warning says the
    estimate exceeds the part, and by how much."""
    compiled = rtlflow.compile(DATA / "models" / "jet_tagger_mlp.onnx", part="xc7z020")
    report = compiled.write(tmp_path, vectors=2)
    lut = report["part"]["utilization"]["lut"]
    assert lut > 100
    assert report["warnings"][0].startswith(
        f"the design needs more than {report['part']['name']} has (estimate): LUT {lut:g} %"
    )


def test_a_recompile_with_new_vectors_keeps_the_simulator_build(tmp_path):
    """Only the test vectors change: the Verilog files are left as they were and the Verilator
    build is reused; another design replaces both."""
    model = DATA / "onnx" / "keras_matmul_add.onnx"
    rtlflow.compile(model).write(tmp_path, vectors=40, seed=0)
    assert run_testbench(tmp_path).passed
    binary = tmp_path / "sim_build" / "Vtop.mk"
    built = binary.stat().st_mtime_ns
    verilog = {p: p.stat().st_mtime_ns for p in (tmp_path / "rtl").glob("*.v")}
    rtlflow.compile(model).write(tmp_path, vectors=60, seed=1)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "rtl").glob("*.v")} == verilog
    result = run_testbench(tmp_path)
    assert result.passed and result.samples == 60
    assert binary.stat().st_mtime_ns == built
    rtlflow.compile(model, precision="fixed<12,4>").write(tmp_path, vectors=20)
    assert not (tmp_path / "sim_build").exists()
    assert set((tmp_path / "rtl").glob("*.v")) != set(verilog)
    assert run_testbench(tmp_path).passed

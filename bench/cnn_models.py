"""Figures for the seed CNN: compile time, latency, fmax, resources, simulation, anchors.

    python bench/cnn_models.py [--models muon_cnn muon_cnn_w4a4.qonnx] [--configs default hitmap]
                               [--no-sim] [--synth]
    python bench/cnn_models.py --stream [--no-sim]

Reads the seed models from ../shared/models (or --models-dir). Each model is compiled in two
configurations: "default" (the default precision everywhere) and "hitmap", where the input is
declared 1-bit unsigned (``ufixed<1,1>``): the muon CNN's inputs are 0/1 hit maps, so that is
exact, and the first convolution's products become selections. For each it compiles ONNX →
Verilog (timed), prints latency (cycles; ns at the target clock and at the estimated fmax), II,
the resource estimate with its utilization of the part, and the emulator against the float network
(onnxruntime outputs stored in the .npz); unless --no-sim it simulates every sample of the .npz
under Verilator (bit-exact check, measured latency and II). The published figures for the ATLAS
L0 muon CNN (../shared/ANCHORS.md) are printed next to ours. With --synth (needs
``pip install -e ".[synth]"``) it also synthesizes with Yosys ``synth_xilinx -flatten``.

``--stream`` benches the streaming architecture instead, on the shape of the hls4ml tutorial CNN
(32x32x3, conv 3x3 16/16/24 each with ReLU and 2x2 max pooling, dense 42-64-10; random weights,
half of them zero, 16-bit; unpadded convolutions, as rtlflow streams them) on the tutorial's part
(xcu250), next to the tutorial's io_stream figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rtlflow
from rtlflow.sim.runner import run_testbench

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dense_models import latency_line, resources_line, simulation_line, synthesize  # noqa: E402  (shared with the dense bench)

#: per configuration name: the ``config`` given to rtlflow.compile (None: the defaults)
CONFIGS = {
    "default": None,
    "hitmap": {"inputs": {"x": "ufixed<1,1>"}},
}

#: ATLAS L0 muon CNN student, 9x16 hits, ~700 parameters (../shared/ANCHORS.md, [seed])
MUON_LATENCY_NS = {"hand-written VHDL, xcvu13p": 84.0, "hls4ml + Vivado, xcvu13p": 438.0}
MUON_RESOURCES_PERCENT = {"lut": 1.7, "ff": 0.4, "dsp": 0.05, "bram18": 0.2}
ANCHORS = {
    name: (MUON_LATENCY_NS, MUON_RESOURCES_PERCENT)
    for name in ("muon_cnn", "muon_cnn_w4a4.qonnx", "muon_cnn_w4a4.qcdq")
}


def r2_text(predicted: np.ndarray, truth: np.ndarray) -> str:
    """Coefficient of determination per output column."""
    predicted = predicted.reshape(truth.shape)
    residual = ((predicted - truth) ** 2).sum(0)
    total = ((truth - truth.mean(0)) ** 2).sum(0)
    return " / ".join(f"{v:.4f}" for v in 1 - residual / total)


def print_anchors(name: str, report: dict) -> None:
    anchors = ANCHORS.get(name)
    if anchors is None:
        return
    latency_anchors, resource_anchors = anchors
    ours = report["latency_ns"]
    for label, ns in latency_anchors.items():
        print(f"anchor: {label}: {ns:g} ns (ours {ours:g} ns at the target clock: "
              f"{ours / ns:.2f}x)")
    used = report["part"]["utilization"]
    print(
        "anchor: 4-bit QStudent resources, xcvu13p: "
        + ", ".join(f"{key.upper()} {value:g} %" for key, value in resource_anchors.items())
        + " (ours: "
        + ", ".join(f"{key.upper()} {used[key]:.2f} %" for key in resource_anchors)
        + ")"
    )


def bench(
    name: str,
    config_name: str,
    models_dir: Path,
    part: str,
    clock_mhz: float,
    simulate: bool,
    synth: bool = False,
) -> None:
    path = models_dir / f"{name}.onnx"
    data = np.load(models_dir / f"{name.split('.')[0]}.npz")  # muon_cnn_w4a4.qonnx: one .npz
    inputs = {
        key: data[key] for key in data.files if not key.startswith("ref_") and key != "labels"
    }
    config = CONFIGS[config_name]
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        model = rtlflow.compile(path, part=part, clock_mhz=clock_mhz, config=config)
        report = model.write(directory, inputs=inputs)
        compile_seconds = time.perf_counter() - start
        formats = ", ".join(f"{port['name']} {port['precision']}" for port in report["inputs"])
        print(f"\n== {name}, {config_name} configuration (inputs {formats}), {part}")
        print(
            f"compile (ONNX -> Verilog, {report['test_vectors']['samples']} vectors): "
            f"{compile_seconds:.1f} s; {len(report['sources']) - 1} unit modules"
        )
        print(latency_line(report))
        print(resources_line(report))
        emulated = model.predict(inputs)
        emulated = emulated if isinstance(emulated, list) else [emulated]
        for output, ours in zip(model.output_names, emulated, strict=True):
            key = f"ref_{output}" if f"ref_{output}" in data.files else "ref_out"
            if key not in data.files:
                continue
            reference = data[key]  # ref_out: the quantized framework forward (float32)
            ours = ours.reshape(reference.shape)
            error = np.abs(ours - reference)
            line = (
                f"emulator vs {'onnxruntime' if key != 'ref_out' else 'the quantized forward'}: "
                f"max |error| {error.max():.4g}, mean {error.mean():.4g}"
            )
            if key == "ref_out":
                exact = np.mean(np.all(ours.astype(np.float32) == reference, axis=-1))
                line += f"; equal in float32 on {100 * exact:.2f} % of the samples"
            labels = data["labels"] if "labels" in data.files else None
            if labels is not None and labels.size == reference.size and labels.ndim > 1:
                truth = labels.reshape(len(labels), -1)
                line += (
                    f"; R² against the labels: emulator {r2_text(ours, truth)}, "
                    f"float {r2_text(reference, truth)}"
                )
            print(line)
        for warning in report["warnings"]:
            print(f"warning: {warning}")
        if synth:
            print(synthesize(directory, report, model.target.part.family))
        if simulate:
            print(simulation_line(run_testbench(directory)))
    print_anchors(name, report)


#: hls4ml tutorial CNN, 16-bit, 50 % pruned, io_stream, xcu250 at 5 ns (../shared/ANCHORS.md)
TUTORIAL_ANCHOR = "1044 cycles (5.22 us), II 1028; DSP 5386, LUT 123,948 (post-synthesis)"


def tutorial_cnn(seed: int = 0):
    """The tutorial CNN's shape as ONNX, built in code (random weights, half of them zero)."""
    return pruned_cnn("tutorial_cnn", (3, 32, 32), (16, 16, 24), (42, 64, 10), softmax=True, seed=seed)


def pruned_cnn(
    name: str, shape: tuple[int, int, int], convs, denses, pads: int = 0, softmax: bool = False,
    seed: int = 0,
):  # fmt: skip
    """A CNN as ONNX (opset 17), built in code: on an input of ``shape`` (C, H, W), a 3x3
    convolution per width of ``convs`` (``pads`` on every side) with ReLU and 2x2 max pooling,
    then a dense layer per width of ``denses`` (ReLU between them, softmax after the last when
    asked); random weights, half of them zero."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, constants = [], []

    def constant(array) -> str:
        name = f"c{len(constants)}"
        pruned = np.where(rng.random(array.shape) < 0.5, 0.0, array)
        constants.append(numpy_helper.from_array(pruned.astype(np.float32), name))
        return name

    def node(op: str, inputs: list[str], **attributes) -> str:
        output = f"t{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [output], name=f"{op}_{len(nodes)}", **attributes))
        return output

    h, (channels, size, _) = "x", shape
    for width in convs:
        w = constant(rng.normal(0, 1.0 / np.sqrt(9 * channels), (width, channels, 3, 3)))
        conv = node("Conv", [h, w, constant(rng.normal(0, 0.1, width))], pads=[pads] * 4)
        h = node("MaxPool", [node("Relu", [conv])], kernel_shape=[2, 2], strides=[2, 2])
        channels, size = width, (size - 2 + 2 * pads) // 2
    h = node("Flatten", [h], axis=1)
    features = channels * size * size
    for index, width in enumerate(denses):
        w = constant(rng.normal(0, 1.0 / np.sqrt(features), (width, features)))
        h = node("Gemm", [h, w, constant(rng.normal(0, 0.1, width))], transB=1)
        if index < len(denses) - 1:
            h = node("Relu", [h])
        elif softmax:
            h = node("Softmax", [h], axis=-1)
        features = width
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, *shape])],
        [helper.make_tensor_value_info(h, TensorProto.FLOAT, [1, denses[-1]])],
        constants,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def bench_stream(simulate: bool, clock_mhz: float) -> None:
    part = "xcu250"
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        model = rtlflow.compile(tutorial_cnn(), part=part, clock_mhz=clock_mhz, conv_style="stream")
        report = model.write(directory, vectors=8)
        compile_seconds = time.perf_counter() - start
        print(f"\n== tutorial-shaped CNN, streaming, 32x32x3, fixed<16,6>, {part}")
        print(f"compile (ONNX -> Verilog): {compile_seconds:.1f} s")
        print(latency_line(report))
        print(resources_line(report))
        if simulate:
            # random stimulus, then a pass with idle cycles and backpressure
            print(simulation_line(run_testbench(directory, gaps=0.2)))
    print(f"anchor: hls4ml tutorial CNN, io_stream, xcu250: {TUTORIAL_ANCHOR}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["muon_cnn"])
    parser.add_argument(
        "--models-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "models"
    )
    parser.add_argument(
        "--configs", nargs="+", choices=sorted(CONFIGS), default=["default", "hitmap"]
    )
    parser.add_argument("--part", default="xcvu13p")
    parser.add_argument("--clock-mhz", type=float, default=200.0)
    parser.add_argument("--no-sim", action="store_true", help="skip the Verilator runs")
    parser.add_argument("--synth", action="store_true", help="also synthesize with Yosys")
    parser.add_argument(
        "--stream", action="store_true", help="bench the streaming architecture instead"
    )
    args = parser.parse_args()
    if args.stream:
        bench_stream(not args.no_sim, args.clock_mhz)
        return
    for name in args.models:
        for config_name in args.configs:
            bench(
                name, config_name, args.models_dir, args.part, args.clock_mhz,
                not args.no_sim, args.synth,
            )


if __name__ == "__main__":
    main()

"""Figures for the seed transformer jet taggers: latency, II, resources, fidelity, simulation.

    python bench/transformer_models.py [--models jet_transformer_hlf jet_transformer_constituents]
                                       [--reuse 1 16] [--sim N] [--part xcvu13p]

Reads the plain PyTorch exports (../shared/models, or --models-dir) with their .npz (inputs x,
onnxruntime's class probabilities ref_probs, labels). For each model and reuse factor it compiles
ONNX → Verilog (timed) and prints latency (cycles; ns at the target clock and at the estimated
fmax), II, the resource estimate with its share of the part (and whether it fits), and the
emulator against onnxruntime over all samples: argmax agreement, largest probability error,
accuracy against the labels next to the float model's. With --sim N the first N samples run
under Verilator (bit-exact check, measured latency and II). The published hls4ml figure for
transformer jet taggers on a VU13P (< 2 µs, ../shared/ANCHORS.md) is printed next to ours.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rtlflow
from rtlflow.scan import estimate_report
from rtlflow.sim.runner import run_testbench

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dense_models import latency_line, resources_line, simulation_line  # noqa: E402  (shared with the dense bench)

HLS4ML_US = 2.0  # transformer jet taggers, hls4ml on a VU13P: "< 2 us" (Jiang 2024)


def bench(name: str, models_dir: Path, reuse: int, part: str, simulate: int) -> None:
    data = np.load(models_dir / f"{name}.npz")
    start = time.perf_counter()
    model = rtlflow.compile(models_dir / f"{name}.onnx", part=part, reuse_factor=reuse)
    seconds = time.perf_counter() - start
    print(f"\n== {name}, reuse factor {reuse}, {part} (compile to the hardware level {seconds:.1f} s)")
    probabilities = model.predict({"x": data["x"]})
    probabilities = probabilities.reshape(len(probabilities), -1)  # [samples, classes]
    reference = data["ref_probs"].reshape(probabilities.shape)
    labels = data["labels"].reshape(-1)
    agreement = np.mean(probabilities.argmax(-1) == reference.argmax(-1))
    print(
        f"emulator vs onnxruntime ({len(labels)} samples, fixed<16,6>): argmax agreement "
        f"{100 * agreement:.2f} %, max |probability error| "
        f"{np.abs(probabilities - reference).max():.4f}; accuracy emulator "
        f"{np.mean(probabilities.argmax(-1) == labels):.4f}, float "
        f"{np.mean(reference.argmax(-1) == labels):.4f}"
    )
    with tempfile.TemporaryDirectory() as directory:
        if simulate:
            report = model.write(directory, inputs={"x": data["x"][:simulate]})
        else:
            report = estimate_report(model)
        print(latency_line(report))
        print(resources_line(report))
        print(f"anchor: hls4ml transformer jet taggers on a VU13P: < {HLS4ML_US:g} us "
              f"(ours {report['latency_ns'] / 1000:.3f} us at the target clock)")
        if simulate:
            print(simulation_line(run_testbench(directory)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+",
                        default=["jet_transformer_hlf", "jet_transformer_constituents"])
    parser.add_argument("--reuse", nargs="+", type=int, default=[1])
    parser.add_argument("--part", default="xcvu13p")
    parser.add_argument("--models-dir", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "models")
    parser.add_argument("--sim", type=int, default=0, metavar="N",
                        help="simulate the first N samples under Verilator")
    args = parser.parse_args()
    for name in args.models:
        for reuse in args.reuse:
            bench(name, args.models_dir, reuse, args.part, args.sim)


if __name__ == "__main__":
    main()

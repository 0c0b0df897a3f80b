"""Figures for the seed graph network (interaction network, 28 hits / 37 edges, run-time edges).

    python bench/graph_models.py [--configs default ii1-12bit ku115-r8] [--sim] [--synth]

Reads interaction_network.onnx / .npz (500 events: node_attr, edge_attr, edge_index, the float
edge scores from onnxruntime, edge labels) from ../shared/models (or --models-dir). Each
configuration is compiled ONNX → Verilog (timed) with the events as test vectors; the bench
prints latency (cycles; ns at the target clock and at the estimated fmax), II, the resource
estimate and its share of the part, and the emulator against the float model: edge-score error
against onnxruntime and the ROC AUC of the edge scores against the labels next to the float
model's. With --sim every event is simulated under Verilator (bit-exact, measured latency and II;
the II = 1 design is large: its Verilator build takes tens of minutes). The hls4ml figures for
the same network (../shared/ANCHORS.md) are printed next to ours.

Configurations:

- ``default``: the default precision fixed<16,6> everywhere, II = 1 on xcvu13p;
- ``ii1-12bit``: 12-bit values whose integer bits come from calibration on the events (margin 1),
  II = 1 on xcvu13p;
- ``ku115-r8``: 16-bit calibrated, reuse factor 8 (II = 8) on xcku115, the board of the hls4ml
  design.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rtlflow
from rtlflow.fidelity import roc_auc
from rtlflow.sim.runner import run_testbench

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dense_models import latency_line, resources_line, simulation_line, synthesize  # noqa: E402  (shared with the dense bench)

#: name: (part, precision, reuse factor, calibrate)
CONFIGS = {
    "default": ("xcvu13p", "fixed<16,6>", 1, False),
    "ii1-12bit": ("xcvu13p", "fixed<12,6>", 1, True),
    "ku115-r8": ("xcku115", "fixed<16,6>", 8, True),
}
HLS4ML_NS = (650.0, 1000.0)  # hls4ml IN, KU115 at 200 MHz (../shared/ANCHORS.md, [seed])
FLOAT_AUC_PUBLISHED = 0.958  # the seed's float AUC


def bench(name: str, models_dir: Path, simulate: bool, synth: bool) -> None:
    part, precision, reuse, calibrate = CONFIGS[name]
    data = np.load(models_dir / "interaction_network.npz")
    inputs = {key: data[key] for key in ("node_attr", "edge_attr", "edge_index")}
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        model = rtlflow.compile(
            models_dir / "interaction_network.onnx",
            part=part,
            precision=precision,
            reuse_factor=reuse,
            calibrate=inputs if calibrate else None,
        )
        report = model.write(directory, inputs=inputs, labels=data["labels"])
        seconds = time.perf_counter() - start
        print(f"\n== interaction_network, {name}: {precision}"
              f"{' calibrated' if calibrate else ''}, reuse factor {reuse}, {part}")
        print(f"compile (ONNX -> Verilog, {len(inputs['edge_index'])} events as vectors): "
              f"{seconds:.1f} s")
        print(latency_line(report))
        print(resources_line(report))
        for layer in report["layers"]:
            if layer["op"] in ("gather", "scatter"):
                lr = layer["resources"]
                print(f"  {layer['name']:<22} {layer['op']:<8} LUT {lr['lut']:>7} "
                      f"FF {lr['ff']:>6} latency {layer['latency_cycles']}")
        scores = model.predict(inputs)
        reference = data["ref_edge_score"]
        error = np.abs(scores - reference)
        print(
            f"edge scores vs onnxruntime: max |error| {error.max():.4g}, mean {error.mean():.4g}; "
            f"AUC emulator {roc_auc(scores, data['labels']):.4f}, float "
            f"{roc_auc(reference, data['labels']):.4f} (published float {FLOAT_AUC_PUBLISHED})"
        )
        low, high = HLS4ML_NS
        print(f"anchor: hls4ml IN on KU115: {low:g} ns - {high:g} ns "
              f"(ours {report['latency_ns']:g} ns at the target clock)")
        for warning in report["warnings"]:
            print(f"warning: {warning}")
        if synth:
            print(synthesize(directory, report, model.target.part.family))
        if simulate:
            print(simulation_line(run_testbench(directory)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--models-dir", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "models")
    parser.add_argument("--sim", action="store_true", help="simulate every event (slow)")
    parser.add_argument("--synth", action="store_true", help="Yosys synth_xilinx cell counts")
    args = parser.parse_args()
    for name in args.configs:
        bench(name, args.models_dir, args.sim, args.synth)


if __name__ == "__main__":
    main()

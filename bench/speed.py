"""How fast rtlflow is: start-up, compile time by stage, Verilog size, Verilator build and run.

    python bench/speed.py [--models etx4velo_mlp jet_tagger_mlp ...] [--sim] [--samples 500]
                          [--no-da4ml] [--models-dir ../shared/models]

Prints ``rtlflow --help`` against ``python -c "import numpy"`` (best of five, fresh
interpreters), then per seed model: the import, every pass of the three levels and the writing of
Verilog, testbench and report (one compile, timed between passes), the Verilog written (modules,
bytes), and with --sim the Verilator build and the run of ``--samples`` events from the model's
.npz (bit-exact and latency checked as ``rtlflow sim`` does). For the MLPs the time da4ml (when
installed) takes to trace, solve and write the same fixed-point network is printed beside
(``bench/qor.py``'s tracer). Times are wall-clock on this machine: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = (
    "etx4velo_mlp",
    "jet_tagger_mlp",
    "muon_cnn",
    "muon_cnn_w4a4.qonnx",
    "jet_tagger_w6a6.qonnx",
    "jet_transformer_hlf",
    "interaction_network",
)
MLPS = ("etx4velo_mlp", "jet_tagger_mlp", "jet_tagger_w6a6.qonnx")


def wall(command: list[str], repeats: int = 5) -> float:
    """Best wall-clock time of a command (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def start_up() -> None:
    rtlflow_cli = Path(sys.executable).with_name("rtlflow")
    ours = wall([str(rtlflow_cli), "--help"])
    numpy = wall([sys.executable, "-c", "import numpy"])
    print(f"start-up: rtlflow --help {ours:.2f} s, python -c 'import numpy' {numpy:.2f} s "
          f"({ours / numpy:.1f}x)")


def compile_stages(path: Path, outdir: Path, inputs: dict | None):
    """One compile, timed: (the compiled model, its report, [(stage, seconds)])."""
    from rtlflow.api import CompiledModel, model_options
    from rtlflow.frontend import import_onnx
    from rtlflow.pipeline import lower

    options = model_options("xcvu13p", 200.0, None, None, None, None, None)
    stages, stamps = [], []
    start = time.perf_counter()
    module = import_onnx(path)
    stages.append(("import", time.perf_counter() - start))
    stamps.append(time.perf_counter())

    def after(label: str, _ir) -> None:
        now = time.perf_counter()
        if label.endswith("-import"):
            stamps[-1] = now
            return
        stages.append((label.split("-", 1)[1], now - stamps[-1]))
        stamps.append(now)

    levels = lower(module, options, dump=after)
    model = CompiledModel(levels, options)
    start = time.perf_counter()
    report = model.write(outdir, inputs=inputs, jobs=1)
    stages.append(("write: Verilog, testbench, report", time.perf_counter() - start))
    return model, report, stages


def bench(name: str, models_dir: Path, work: Path, simulate: bool, samples: int, da4ml: bool):
    from rtlflow.sim.runner import run_testbench

    path = models_dir / f"{name}.onnx"
    data = np.load(models_dir / f"{name.split('.')[0]}.npz")
    outdir = work / name
    inputs = None
    if simulate:
        names = [key for key in data.files if not key.startswith("ref_") and key != "labels"]
        inputs = {key: data[key][:samples] for key in names}
    model, report, stages = compile_stages(path, outdir, inputs)
    total = sum(seconds for _, seconds in stages)
    verilog = list((outdir / "rtl").glob("*.v"))
    size = sum(p.stat().st_size for p in verilog)
    print(f"\n== {name}: compile {total:.1f} s, {len(verilog)} Verilog modules, "
          f"{size / 1e6:.2f} MB; latency {report['latency_cycles']} cycles, "
          f"II {report['initiation_interval']}, LUT {report['resources']['lut']}")
    for stage, seconds in stages:
        if seconds >= 0.05 * total or seconds >= 1.0:
            print(f"  {stage:<36s} {seconds:6.2f} s  {100 * seconds / total:4.0f} %")
    if da4ml and name in MLPS:
        compare_da4ml(name, path, model, total, work)
    if simulate:
        result = run_testbench(outdir)
        print(f"  Verilator build {result.build_seconds:.1f} s, run of {result.samples} samples "
              f"{result.run_seconds:.1f} s: {'bit-exact' if result.passed else 'FAILED'}, "
              f"latency measured {sorted(set(result.latency_cycles))} "
              f"(reported {result.reported_latency_cycles})")


def compare_da4ml(name: str, path: Path, model, total: float, work: Path) -> None:
    """da4ml's trace + solve + write of the same fixed-point network (the jet tagger to its
    logits, da4ml having no softmax: rtlflow is timed again on that network)."""
    try:
        import da4ml  # noqa: F401
    except ImportError:
        print("  da4ml: not installed")
        return
    from qor import da4ml_design, to_logits

    label = ""
    if name == "jet_tagger_mlp":
        logits = to_logits(path, work / f"{name}_logits.onnx")
        model, _, stages = compile_stages(logits, work / f"{name}_logits", None)
        total, label = sum(seconds for _, seconds in stages), " (both to the logits)"
    try:
        *_, stages_da4ml, seconds = da4ml_design(model, work / f"{name}_da4ml")
    except NotImplementedError as missing:
        print(f"  da4ml: not traced ({missing})")
        return
    print(f"  da4ml trace + solve + write {seconds:.2f} s ({stages_da4ml} stages), rtlflow "
          f"{total:.2f} s: {total / seconds:.1f}x{label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--models-dir", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "models")
    parser.add_argument("--sim", action="store_true", help="Verilator build and run")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--no-da4ml", action="store_true")
    args = parser.parse_args()
    start_up()
    with tempfile.TemporaryDirectory() as work:
        for name in args.models:
            bench(name, args.models_dir, Path(work), args.sim, args.samples, not args.no_da4ml)


if __name__ == "__main__":
    main()

"""The ``rtlflow`` command: compile, sim, synth, build, report, scan, config, opt.

Exit status: 0 success; 1 the simulation found a difference; 2 a problem with the model, options
or data (one line naming the node and operator where there is one); 3 an internal error.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from rtlflow import progress
from rtlflow.errors import RtlflowError

EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 1, 2, 3

QUIET_HELP = "no progress display (it is shown only when stderr is a terminal anyway)"


def _model_options(command: argparse.ArgumentParser) -> None:
    """The options that set up the pipeline (shared by compile and opt)."""
    command.add_argument("--part", default="xcvu13p", help="FPGA part (default xcvu13p)")
    command.add_argument(
        "--clock-mhz", type=float, default=200.0, help="target clock in MHz (default 200)"
    )
    command.add_argument(
        "--precision",
        help="default number format, e.g. 'fixed<16,6>' (the default), or 'auto': results "
        "sized from their exact ranges (interval arithmetic over the weights)",
    )
    command.add_argument(
        "--reuse-factor", type=int, help="default reuse factor R of dense layers (II = R)"
    )
    command.add_argument(
        "--conv-style",
        choices=("parallel", "stream"),
        help="conv/pool architecture: every pixel at once, or a pixel stream through line "
        "buffers (default: parallel unless it exceeds the part's budget)",
    )
    command.add_argument(
        "--dsp-budget",
        metavar="N|P%",
        help="DSP slices the constant products may use, a count or a share of the part's "
        "(default 0: every constant product is shift-add logic); the products that save the "
        "most LUTs go on DSPs",
    )
    command.add_argument("--config", help="per-layer configuration (YAML or TOML)")


def _chosen(args: argparse.Namespace) -> dict:
    """The values of ``_model_options`` that shape the design (all but the clock)."""
    keys = ("part", "precision", "reuse_factor", "conv_style", "dsp_budget", "config")
    return {key: getattr(args, key) for key in keys}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtlflow",
        description="Compile ONNX neural networks to pipelined, bit-exact verified Verilog.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    commands = parser.add_subparsers(dest="command", required=True)

    compile_ = commands.add_parser("compile", help="ONNX model → Verilog, testbench and report")
    compile_.add_argument("model", nargs="?", help="the ONNX file (or --example)")
    compile_.add_argument(
        "--example",
        metavar="NAME",
        help="compile an example model shipped with rtlflow, with its data as --inputs and "
        "--labels unless given ('rtlflow examples' lists them)",
    )
    compile_.add_argument("-o", "--output", required=True, help="output directory")
    _model_options(compile_)
    compile_.add_argument(
        "--inputs", help="test inputs (.npz, arrays named like the model inputs, samples first)"
    )
    compile_.add_argument(
        "--labels",
        nargs="?",
        const="labels",
        metavar="KEY",
        help="with --inputs: the array of the .npz holding labels (default 'labels'); the "
        "report then gives accuracy / AUC / R2 of the hardware next to the float model",
    )
    compile_.add_argument(
        "--calibrate",
        metavar="DATA.npz",
        help="set integer bits of inputs, results, weights and biases from the float model's "
        "ranges on this data (arrays named like the model inputs)",
    )
    compile_.add_argument(
        "--calibration-margin",
        type=int,
        default=1,
        help="extra integer bits of headroom over the calibrated ranges (default 1)",
    )
    compile_.add_argument(
        "--vectors", type=int, default=200, help="random test vectors when --inputs is not given"
    )
    compile_.add_argument(
        "--seed", type=int, default=0, help="seed of the random test vectors (default 0)"
    )
    compile_.add_argument("--dump-ir", metavar="DIR", help="write the IR after every pass")
    compile_.add_argument(
        "--stop-at",
        choices=("nn", "fxp", "circuit", "verilog"),
        default="verilog",
        help="stop at an IR level and write its IR instead of Verilog",
    )
    compile_.add_argument("--name", help="top module name (default: the model file's name)")
    compile_.add_argument("--jobs", type=int, help="parallel Verilog conversions (default: cores)")
    compile_.add_argument(
        "--overflow",
        choices=("warn", "error"),
        default="warn",
        help="with --inputs: results that overflow their format on the inputs are counted per "
        "layer and warned about (warn), or make the compile fail naming the layers (error)",
    )
    compile_.add_argument(
        "--force",
        action="store_true",
        help="generate the Verilog even when the estimate needs several times the part",
    )

    sim = commands.add_parser("sim", help="Verilator: check the design bit-exactly")
    sim.add_argument("outdir", help="a directory written by 'rtlflow compile'")
    sim.add_argument("--gaps", type=float, default=0.0, help="add a pass with idle cycles")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--waves", action="store_true", help="write a waveform (tb/dump.vcd)")
    sim.add_argument(
        "--inputs",
        metavar="DATA.npz",
        help="check on this data instead of the compile's test vectors (arrays named like the "
        "model inputs; expected outputs from the emulator kept in the output directory); a "
        "mismatch names the first failing sample and element and the layer where the design "
        "departs from the emulator",
    )
    sim.add_argument(
        "--structural",
        action="store_true",
        help="simulate the ternary adders as synthesized (LUT6_2 and carry primitive models) "
        "instead of their behaviour: the netlist itself, slower to build",
    )

    synth = commands.add_parser(
        "synth", help="Yosys synth_xilinx on a compiled design: measured LUT/FF/carry/DSP"
    )
    synth.add_argument("outdir", help="a directory written by 'rtlflow compile'")
    synth.add_argument("--timeout", type=float, help="give up after this many seconds")
    synth.add_argument(
        "--per-layer",
        action="store_true",
        help="keep the hierarchy (no -flatten) and measure every layer's module, beside its "
        "estimate",
    )

    build = commands.add_parser(
        "build",
        help="run the vendor project of a compiled design (Vivado): measured LUT/FF/DSP/BRAM, "
        "WNS, fmax",
        description="Run OUTDIR/vivado/build.tcl with the vivado on PATH (out-of-context "
        "synthesis, place and route) and read its utilization and timing reports into "
        "report.json (section 'vivado') and report.txt.",
    )
    build.add_argument("outdir", help="a directory written by 'rtlflow compile'")
    build.add_argument(
        "--vivado",
        action="store_true",
        help="build with Vivado: the only backend for now, and the default",
    )
    build.add_argument("--timeout", type=float, help="give up after this many seconds")

    opt = commands.add_parser(
        "opt", help="run passes on an IR file (a --dump-ir file, or IR written by hand)"
    )
    opt.add_argument("file", help="an .mlir file of rtlflow's dialects ('-' reads stdin)")
    opt.add_argument(
        "-p",
        "--passes",
        required=True,
        help="comma list of passes, each with optional {option=value,...}",
    )
    opt.add_argument("-o", "--output", help="write the IR here (default: stdout)")
    _model_options(opt)

    commands.add_parser("examples", help="list the example models shipped with rtlflow")

    configure = commands.add_parser(
        "config",
        help="the configuration a model compiles with, every layer resolved (YAML to edit and "
        "give back with compile --config)",
    )
    configure.add_argument("model", help="the ONNX file")
    _model_options(configure)
    configure.add_argument(
        "--granularity",
        choices=("model", "name"),
        default="name",
        help="model: defaults and inputs only; name (default): also one entry per layer",
    )
    configure.add_argument("-o", "--output", help="the YAML file to write (default: stdout)")

    report = commands.add_parser("report", help="print the human-readable report")
    report.add_argument("outdir", help="a directory written by 'rtlflow compile'")

    scan = commands.add_parser(
        "scan", help="compile at a range of bit widths and reuse factors: fidelity vs resources"
    )
    scan.add_argument("model", help="the ONNX file")
    scan.add_argument(
        "--bits",
        required=True,
        help="total bits W of the precision fixed<W,I>: A:B (A to B inclusive), A:B:STEP or a "
        "comma list (e.g. 4:16, 6:16:2, 6,8,12)",
    )
    scan.add_argument(
        "--int-bits",
        type=int,
        help="integer bits I, sign included (default 6, as in fixed<16,6>; never more than W)",
    )
    scan.add_argument("--reuse", default="1", help="reuse factors, a comma list (default 1)")
    scan.add_argument(
        "--inputs", help="data for the fidelity (.npz, arrays named like the model inputs)"
    )
    scan.add_argument(
        "--labels",
        nargs="?",
        const="labels",
        metavar="KEY",
        help="with --inputs: the array of the .npz holding labels (default 'labels'): "
        "accuracy / AUC / R2 of the hardware and of the float model",
    )
    scan.add_argument("--part", default="xcvu13p", help="FPGA part (default xcvu13p)")
    scan.add_argument(
        "--clock-mhz", type=float, default=200.0, help="target clock in MHz (default 200)"
    )
    scan.add_argument(
        "-o", "--output", help="output directory for scan.csv, scan.md, scan.png "
        "(default: <model name>_scan)"
    )
    scan.add_argument(
        "--workers", type=int, help="local processes running the points (default: one per core)"
    )
    scan.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the points on this Dask cluster (dask.distributed) instead of locally",
    )
    scan.add_argument(
        "--sim",
        action="store_true",
        help="write every point's design to OUTDIR/points/ and check it with Verilator",
    )
    scan.add_argument(
        "--synth", action="store_true", help="and synthesize every point with Yosys (measured)"
    )
    for command in commands.choices.values():  # also after the command: rtlflow sim -q OUT
        command.add_argument(
            "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP
        )
    return parser


def _load_inputs(path: str, names: list[str]) -> dict[str, np.ndarray]:
    file = Path(path)
    if not file.is_file():
        raise RtlflowError(f"no such input file: {file}")
    try:
        data = np.load(file)
    except Exception as error:
        raise RtlflowError(f"cannot read {file} as .npz: {error}") from None
    missing = [n for n in names if n not in data.files]
    if missing:
        raise RtlflowError(
            f"{file} has no array for input(s) {missing} (it holds: {', '.join(data.files)})"
        )
    return {name: data[name] for name in names}


def _examples(args: argparse.Namespace) -> int:
    from rtlflow.examples import EXAMPLES

    width = max(len(name) for name in EXAMPLES)
    for name, example in EXAMPLES.items():
        print(f"{name:{width}}  {example.description}")
    print("\ncompile one with its data: rtlflow compile --example NAME -o OUTDIR")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from rtlflow.api import compile as compile_model

    if (args.model is None) == (args.example is None):
        raise RtlflowError("give either an ONNX file or --example NAME (rtlflow examples lists them)")
    if args.example is not None:
        from rtlflow.examples import find_example

        example = find_example(args.example)
        args.model = str(example.model)
        args.name = args.name or example.stem
        if args.inputs is None:
            args.inputs = str(example.data)
            args.labels = "labels" if args.labels is None else args.labels
    start = time.perf_counter()
    model = compile_model(
        args.model,
        clock_mhz=args.clock_mhz,
        **_chosen(args),
        calibrate=args.calibrate,
        calibration_margin=args.calibration_margin,
        stop_at=args.stop_at,
        dump_ir=args.dump_ir,
        name=args.name,
    )
    outdir = Path(args.output)
    if args.stop_at != "verilog":
        outdir.mkdir(parents=True, exist_ok=True)
        target = outdir / f"{model.name}.{args.stop_at}.mlir"
        target.write_text(model.ir(args.stop_at) + "\n")
        for warning in model.warnings:
            print(f"warning: {warning}")
        print(f"wrote {target}")
        return 0
    inputs = _load_inputs(args.inputs, model.input_names) if args.inputs else None
    labels = None
    if args.labels is not None:
        if not args.inputs:
            raise RtlflowError("--labels needs --inputs (the labels are an array of that file)")
        with np.load(args.inputs) as data:
            if args.labels not in data.files:
                raise RtlflowError(f"{args.inputs} has no array '{args.labels}' (arrays: {data.files})")
            labels = data[args.labels]
    report = model.write(
        outdir,
        inputs=inputs,
        vectors=args.vectors,
        jobs=args.jobs,
        seed=args.seed,
        labels=labels,
        force=args.force,
        overflow=args.overflow,
    )
    elapsed = time.perf_counter() - start
    print(
        f"{report['top']}: latency {report['latency_cycles']} cycles "
        f"({report['latency_ns']:g} ns at {report['clock']['target_mhz']:g} MHz), "
        f"II {report['initiation_interval']}, estimated fmax "
        f"{report['clock']['estimated_fmax_mhz']:g} MHz"
    )
    r = report["resources"]
    print(f"resources (estimate): LUT {r['lut']}, FF {r['ff']}, DSP {r['dsp']}, BRAM18 {r['bram18']:g}")
    for entry in report.get("fidelity", {}).get("outputs", []):
        quality = "".join(
            f", {key} {entry['emulated'][key]:.4g} (float {entry['float'][key]:.4g})"
            for key in entry.get("emulated", {})
        )
        print(
            f"fidelity {entry['output']}: max |error| {entry['max_error']:.3g}, mean "
            f"{entry['mean_error']:.3g} against the float model{quality}"
        )
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    print(f"wrote {outdir} in {elapsed:.1f} s ({report['test_vectors']['samples']} test vectors)")
    return 0


def _sim(args: argparse.Namespace) -> int:
    from rtlflow.measure import read_report
    from rtlflow.sim.runner import SimulationError, run_testbench, summary

    outdir = Path(args.outdir)
    if not (outdir / "report.json").is_file() or not (outdir / "tb").is_dir():
        raise RtlflowError(f"{outdir} is not an rtlflow output directory (no report.json / tb)")
    manifest = read_report(outdir)[1]
    vectors = None
    if args.inputs:
        from rtlflow.sim import recheck

        data = _load_inputs(args.inputs, [port["name"] for port in manifest["inputs"]])
        emulator = recheck.load_emulator(outdir)
        vectors = recheck.user_vectors(outdir, data, Path(args.inputs).stem, emulator)
    try:
        result = run_testbench(
            outdir,
            gaps=args.gaps,
            seed=args.seed,
            waves=args.waves,
            structural=args.structural,
            vectors=vectors,
        )
    except SimulationError as error:
        print(f"rtlflow: simulation error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(summary(result))
    first = result.details.get("first_mismatches") or []
    if first and "got" in first[0]:
        from rtlflow.sim import recheck

        print(recheck.describe_mismatch(manifest, first[0]))
        if (outdir / recheck.EMULATOR_IR).is_file():
            print(recheck.departure(outdir, vectors or outdir / "tb" / "vectors.npz", first[0]["sample"]))
    return 0 if result.passed else EXIT_FAILED


def _synth(args: argparse.Namespace) -> int:
    from rtlflow.measure import synthesize_design
    from rtlflow.report_text import synthesis_lines

    report = synthesize_design(Path(args.outdir), args.timeout, args.per_layer)
    print("\n".join(synthesis_lines(report)))
    return 0


def _build(args: argparse.Namespace) -> int:
    from rtlflow.measure import build_vivado
    from rtlflow.report_text import vivado_lines

    report = build_vivado(Path(args.outdir), args.timeout)
    print("\n".join(vivado_lines(report)))
    return 0


def _opt(args: argparse.Namespace) -> int:
    from rtlflow.api import model_options
    from rtlflow.opt import run_opt

    if args.file == "-":
        text, source = sys.stdin.read(), "<stdin>"
    else:
        path = Path(args.file)
        if not path.is_file():
            raise RtlflowError(f"no such file: {path}")
        text, source = path.read_text(), str(path)
    options = model_options(
        args.part, args.clock_mhz, args.precision, args.reuse_factor, args.conv_style,
        args.dsp_budget, args.config,
    )  # fmt: skip
    module = run_opt(text, args.passes, options, source)
    if args.output:
        Path(args.output).write_text(str(module) + "\n")
    else:
        print(str(module))
    return 0


def _config(args: argparse.Namespace) -> int:
    import yaml

    from rtlflow.configure import config_from_onnx

    config = config_from_onnx(args.model, args.granularity, **_chosen(args))
    text = (
        f"# rtlflow configuration of {Path(args.model).name} ({args.part}); 'auto': the "
        "compiler's choice.\n# Edit and compile with: rtlflow compile MODEL --config FILE\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0


def _report(args: argparse.Namespace) -> int:
    from rtlflow.measure import read_report
    from rtlflow.report_text import render_text

    print(render_text(read_report(Path(args.outdir))[1]), end="")
    return 0


def _scan(args: argparse.Namespace) -> int:
    from rtlflow.scan import parse_bits, parse_reuse, render_table, scan

    bits, reuse = parse_bits(args.bits), parse_reuse(args.reuse)
    if args.labels is not None and not args.inputs:
        raise RtlflowError("--labels needs --inputs (the labels are an array of that file)")
    outdir = Path(args.output) if args.output else Path(f"{Path(args.model).stem}_scan")
    start = time.perf_counter()
    rows = scan(
        args.model, bits, args.int_bits, reuse, args.inputs, args.labels, args.part,
        args.clock_mhz, outdir, workers=args.workers, scheduler=args.scheduler,
        simulate=args.sim, synthesize=args.synth,
    )  # fmt: skip
    print(render_table(rows), end="")
    failed = [row for row in rows if "error" in row]
    elapsed = time.perf_counter() - start
    print(
        f"wrote {outdir / 'scan.csv'}, {outdir / 'scan.md'}, {outdir / 'scan.png'}: "
        f"{len(rows)} points ({len(failed)} without a design) in {elapsed:.1f} s"
    )
    if len(failed) == len(rows):
        raise RtlflowError(f"no point of the scan compiled (first: {failed[0]['error']})")
    different = [f"W={r['bits']} R={r['reuse']}" for r in rows if r.get("sim") == "FAIL"]
    if different:
        print(f"rtlflow: the simulation differs from the emulator at {', '.join(different)}")
        return EXIT_FAILED
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {
        "compile": _compile, "examples": _examples, "sim": _sim, "synth": _synth,
        "build": _build, "report": _report, "scan": _scan, "opt": _opt, "config": _config,
    }  # fmt: skip
    handler = handlers[args.command]
    try:
        with progress.shown(progress.wanted(args.quiet)):
            return handler(args)
    except RtlflowError as error:
        print(f"rtlflow: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug in rtlflow, not in the user's input
        if args.debug:
            traceback.print_exc()
        print(
            f"rtlflow: internal error: {type(error).__name__}: {error} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

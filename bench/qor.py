"""Quality of results against da4ml: both tools on the same weights, both through Yosys in one run.

    python bench/qor.py [--designs etx4velo_8 etx4velo_16 ...] [--no-da4ml] [--no-synth]
                        [--budget-curve 0,64,512,max] [--keep DIR]

For each design, rtlflow compiles it with ``--dsp-budget 0`` (the default) and da4ml (PyPI
``da4ml``, an optional bench-only dependency) traces the same network from rtlflow's fixed-point
IR: the same quantized weights and biases, the same input, result and accumulator formats (da4ml
rounds ties up where the model rounds them to even: it has no RND_CONV). Yosys ``synth_xilinx
-family xcup -flatten`` measures both. Printed per design: LUT, FF, DSP, latency in cycles
(rtlflow port to port; da4ml's pipeline stages, whose input and output are registered), and the
ratio of rtlflow's LUT+FF to da4ml's.

Designs: the seed MLPs at fixed<8,3> and fixed<16,6> (the jet tagger to its logits), the
quantization-aware seed models (QONNX), and two MLPs of our own, 16-64-32-32-5 at 8 bits, one with
half of its weights pruned and one dense. ``--budget-curve`` compiles the jet tagger (16 bits, to
the logits) at several DSP budgets and prints LUTs against DSPs (``max``: every product worth a
DSP). Reads ../shared/models (or --models-dir). Yosys needs minutes for designs of tens of
thousands of LUTs; the jet tagger at 16 bits takes the longest.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import rtlflow
from rtlflow.dialects import fxp
from rtlflow.synthesis import synthesize


@dataclass(frozen=True)
class Design:
    key: str
    model: str  # file in the models directory, or "own:<kind>"
    precision: str | None
    logits: bool = False  # cut the final Softmax


DESIGNS = (
    Design("etx4velo_8", "etx4velo_mlp.onnx", "fixed<8,3>"),
    Design("etx4velo_16", "etx4velo_mlp.onnx", "fixed<16,6>"),
    Design("jet_tagger_16", "jet_tagger_mlp.onnx", "fixed<16,6>", logits=True),
    Design("jet_tagger_8", "jet_tagger_mlp.onnx", "fixed<8,3>", logits=True),
    Design("mlp_pruned_8", "own:pruned", "fixed<8,3>"),
    Design("mlp_dense_8", "own:dense", "fixed<8,3>"),
    Design("muon_cnn_w4a4", "muon_cnn_w4a4.qonnx.onnx", None),
    Design("jet_tagger_w6a6", "jet_tagger_w6a6.qonnx.onnx", None),
)

#: the published 4-bit muon CNN on xcvu13p (utilization, percent)
MUON_PUBLISHED = {"lut": 1.7, "ff": 0.4, "dsp": 0.05}


def own_mlp(kind: str, path: Path) -> Path:
    """A 16-64-32-32-5 ReLU MLP with weights on the fixed<8,3> grid (seeded), half of them
    zero when ``kind`` is "pruned"."""
    rng = np.random.default_rng(2025)
    sizes = [16, 64, 32, 32, 5]
    nodes, inits, current = [], [], "x"
    for index, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        w = np.round(rng.normal(0, 1 / math.sqrt(n_in), (n_out, n_in)) * 32) / 32
        if kind == "pruned":
            w *= rng.random(w.shape) < 0.5
        b = np.round(rng.normal(0, 0.1, n_out) * 32) / 32
        inits += [numpy_helper.from_array(w.astype(np.float32), f"w{index}"),
                  numpy_helper.from_array(b.astype(np.float32), f"b{index}")]
        out = f"h{index}"
        nodes.append(helper.make_node("Gemm", [current, f"w{index}", f"b{index}"], [out],
                                      name=f"fc{index}", transB=1))
        current = out
        if index < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [out], [f"a{index}"], name=f"relu{index}"))
            current = f"a{index}"
    graph = helper.make_graph(
        nodes, f"mlp_{kind}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [1, 5])], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def to_logits(source: Path, path: Path) -> Path:
    """The model without its final Softmax: its input becomes the output."""
    model = onnx.load(source)
    graph = model.graph
    (softmax,) = [n for n in graph.node if n.op_type == "Softmax" and n.output[0] == graph.output[0].name]
    output = graph.output[0]
    graph.node.remove(softmax)
    shape = [d.dim_value for d in output.type.tensor_type.shape.dim]
    graph.output.remove(output)
    graph.output.append(helper.make_tensor_value_info(softmax.input[0], TensorProto.FLOAT, shape))
    onnx.save(model, path)
    return path


def model_path(design: Design, models_dir: Path, work: Path) -> Path:
    if design.model.startswith("own:"):
        return own_mlp(design.model.split(":")[1], work / f"{design.key}.onnx")
    path = models_dir / design.model
    return to_logits(path, work / f"{design.key}.onnx") if design.logits else path


# ---- da4ml on rtlflow's fixed-point IR ----------------------------------------------------


def _kif(fmt: fxp.FixedFormat) -> tuple[int, int, int]:
    return int(fmt.signed), fmt.int_bits - int(fmt.signed), fmt.frac_bits


def _quantize(x, fmt: fxp.FixedFormat):
    from da4ml.trace.ops import quantize

    overflow = "SAT" if fmt.overflow.startswith("SAT") else "WRAP"
    rounding = "RND" if fmt.rounding.startswith("RND") else "TRN"
    return quantize(x, *_kif(fmt), overflow, rounding)


def _window_gather(x, op: fxp.WindowOp):
    """[C, positions, taps] of an unpadded window op's input (numpy indexing)."""
    index, _ = op.window.taps()
    if (np.asarray(index) < 0).any():
        raise NotImplementedError("padded windows")
    channels = x.shape[0]
    return x.reshape(channels, -1)[:, np.asarray(index)]


def da4ml_trace(model: rtlflow.CompiledModel):
    """The network as a da4ml trace, op by op from the fxp level; (inputs, outputs)."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig
    from da4ml.trace.ops import relu

    function = next(iter(model.levels["fxp"].ops))
    (argument,) = function.body.block.args
    inputs = FixedVariableArrayInput(fxp.tensor_shape(argument)[1:], HWConfig(1, -1, 5))
    # the input arrives in its format: declare it (WRAP; da4ml's inputs take no other mode)
    values = {argument: _quantize(inputs, fxp.tensor_format(argument).with_modes("TRN", "WRAP"))}
    for op in function.body.block.ops:
        if op.name == "func.return":
            return inputs, values[op.operands[0]]
        x = values[op.operands[0]]
        if isinstance(op, fxp.DenseOp | fxp.ConvOp):
            fw, fb = op.weight_type.format, op.bias_type.format
            w = op.weights.astype(np.float64) * 2.0**-fw.frac_bits
            b = op.biases.astype(np.float64) * 2.0**-fb.frac_bits
            if isinstance(op, fxp.DenseOp):
                y = x @ w.T + b
            else:
                if op.group.value.data != 1:
                    raise NotImplementedError("grouped convolution")
                patches = _window_gather(x, op)  # [C, P, T]
                flat = np.moveaxis(patches, 0, 1).reshape(patches.shape[1], -1)  # [P, C*T]
                y = (flat @ w.reshape(w.shape[0], -1).T + b).T  # [C_out, P]
                y = y.reshape(fxp.tensor_shape(op.output)[1:])
            if op.accumulator.format.width < 64:
                y = _quantize(y, op.accumulator.format)
            values[op.output] = _quantize(y, op.output_format)
        elif isinstance(op, fxp.ReluOp):
            values[op.output] = _quantize(relu(x), op.output_format)
        elif isinstance(op, fxp.CastOp):
            values[op.output] = _quantize(x, op.output_format)
        elif isinstance(op, fxp.PoolOp) and op.kind.data == "max":
            pooled = np.amax(_window_gather(x, op), axis=-1)
            values[op.output] = _quantize(pooled.reshape(fxp.tensor_shape(op.output)[1:]),
                                          op.output_format)
        elif isinstance(op, fxp.ReshapeOp):
            values[op.output] = x.reshape(fxp.tensor_shape(op.output)[1:])
        else:
            raise NotImplementedError(op.name)
    raise AssertionError("no return")


def da4ml_design(model: rtlflow.CompiledModel, directory: Path) -> tuple[Path, list[str], str, int, float]:
    """(directory, sources, top, pipeline stages, seconds) of da4ml's Verilog for the model."""
    from da4ml.codegen import VerilogModel
    from da4ml.trace import comb_trace

    start = time.perf_counter()
    inputs, outputs = da4ml_trace(model)
    comb = comb_trace(inputs, outputs)
    design = VerilogModel(comb, "da4ml_top", directory, latency_cutoff=5, print_latency=False)
    design.write()
    seconds = time.perf_counter() - start
    src = directory / "src"
    sources = sorted(str(p.relative_to(src)) for p in src.glob("da4ml_top*.v"))
    sources = [s for s in sources if "wrapper" not in s] + [
        str(p.relative_to(src)) for p in sorted((src / "static").glob("*.v"))
        if p.name != "lookup_table.v"
    ]
    return src, sources, "da4ml_top", len(design._pipe.solutions), seconds


# ---- the bench ------------------------------------------------------------------------------


def measure(label: str, directory, sources, top, synth: bool) -> dict | None:
    if not synth:
        return None
    result = synthesize(directory, sources, top, "ultrascale+")
    print(f"  {label:<8s} Yosys ({result.seconds:.0f} s): LUT {result.lut + result.lut_memory}, "
          f"FF {result.ff}, CARRY {result.carry}, DSP {result.dsp}")
    return {"lut": result.lut + result.lut_memory, "ff": result.ff, "dsp": result.dsp}


def bench_design(design: Design, models_dir: Path, work: Path, da4ml: bool, synth: bool) -> None:
    path = model_path(design, models_dir, work)
    print(f"\n== {design.key}: {design.model} {design.precision or '(quantization-aware)'}"
          f"{', to the logits' if design.logits else ''}")
    start = time.perf_counter()
    model = rtlflow.compile(path, precision=design.precision, dsp_budget=0)
    ours_dir = work / f"{design.key}_rtlflow"
    report = model.write(ours_dir)
    compile_seconds = time.perf_counter() - start
    r = report["resources"]
    print(f"  rtlflow  compile {compile_seconds:.1f} s: latency {report['latency_cycles']} cycles, "
          f"estimate LUT {r['lut']}, FF {r['ff']}, DSP {r['dsp']}")
    ours = measure("rtlflow", ours_dir, report["sources"], report["top"], synth)
    theirs, stages = None, None
    if da4ml:
        try:
            src, sources, top, stages, seconds = da4ml_design(model, work / f"{design.key}_da4ml")
        except NotImplementedError as missing:
            print(f"  da4ml    not traced: rtlflow's IR has {missing}, which this bench does not "
                  "express in da4ml")
        else:
            print(f"  da4ml    trace + solve + write {seconds:.1f} s: {stages} pipeline stages")
            theirs = measure("da4ml", src, sources, top, synth)
    if ours and theirs:
        ratio = (ours["lut"] + ours["ff"]) / (theirs["lut"] + theirs["ff"])
        print(f"  ratio    LUT+FF rtlflow / da4ml = {ratio:.2f}; LUT {ours['lut'] / theirs['lut']:.2f}, "
              f"FF {ours['ff'] / theirs['ff']:.2f}; latency {report['latency_cycles']} cycles "
              f"against {stages} stages (+1 allowed: {report['latency_cycles'] <= stages + 1})")
    if design.key == "muon_cnn_w4a4" and ours:
        part = report["part"]
        share = {key: 100 * ours[key] / part[key] for key in ("lut", "ff", "dsp")}
        print("  xcvu13p  " + ", ".join(
            f"{key.upper()} {share[key]:.2f} % (published 4-bit design {MUON_PUBLISHED[key]} %)"
            for key in share))


def budget_curve(budgets: list[str], models_dir: Path, work: Path, synth: bool) -> None:
    design = next(d for d in DESIGNS if d.key == "jet_tagger_16")
    path = model_path(design, models_dir, work)
    print("\n== DSP budget curve: jet_tagger_mlp fixed<16,6> to the logits")
    for budget in budgets:
        value = "100%" if budget == "max" else budget
        model = rtlflow.compile(path, precision=design.precision, dsp_budget=value)
        outdir = work / f"curve_{budget}"
        report = model.write(outdir)
        r = report["resources"]
        line = (f"  budget {budget:>5s}: latency {report['latency_cycles']}, estimate LUT "
                f"{r['lut']}, FF {r['ff']}, DSP {r['dsp']}")
        if synth:
            result = synthesize(outdir, report["sources"], report["top"], "ultrascale+")
            line += (f"; Yosys LUT {result.lut + result.lut_memory}, FF {result.ff}, DSP "
                     f"{result.dsp} ({result.seconds:.0f} s)")
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", nargs="+", default=[d.key for d in DESIGNS],
                        choices=[d.key for d in DESIGNS])
    parser.add_argument(
        "--models-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "models"
    )
    parser.add_argument("--no-da4ml", action="store_true", help="rtlflow only")
    parser.add_argument("--no-synth", action="store_true", help="no Yosys: estimates only")
    parser.add_argument("--budget-curve", help="comma list of DSP budgets for the jet tagger")
    parser.add_argument("--keep", type=Path, help="keep the designs in this directory")
    args = parser.parse_args()
    da4ml = not args.no_da4ml
    if da4ml:
        try:
            import da4ml  # noqa: F401
        except ImportError:
            print("da4ml is not installed (pip install da4ml): rtlflow only", file=sys.stderr)
            da4ml = False
    with tempfile.TemporaryDirectory() as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        for key in args.designs:
            design = next(d for d in DESIGNS if d.key == key)
            bench_design(design, args.models_dir, work, da4ml, not args.no_synth)
        if args.budget_curve:
            budget_curve(args.budget_curve.split(","), args.models_dir, work, not args.no_synth)


if __name__ == "__main__":
    main()

"""``rtlflow sim OUTDIR --inputs DATA.npz``: a compiled design checked on other data without
recompiling, and, where the Verilog and the emulator differ, where they part.

The emulator's program (the fxp level) is kept in every output directory (``tb/fxp.mlir``): it
gives the expected outputs of the new data, written as test vectors of their own beside the
compile's. On a mismatch, :func:`describe_mismatch` names the first failing sample and output
element with both raw values, and :func:`departure` simulates that sample alone with every
unit's output port readable, comparing each unit's first output with the emulator's value of its
layer: the first layer that differs is where the design departs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from rtlflow.errors import RtlflowError
from rtlflow.naming import verilog_identifier
from rtlflow.numerics.fixed_point import FixedFormat
from rtlflow.sim.emulator import Emulator
from rtlflow.sim.runner import run_testbench
from rtlflow.sim.testbench import EMULATOR_IR, write_vectors


def load_emulator(outdir: Path) -> Emulator:
    from xdsl.parser import Parser

    from rtlflow.dialects import context

    path = outdir / EMULATOR_IR
    if not path.is_file():
        raise RtlflowError(f"{outdir} has no {EMULATOR_IR} (written by rtlflow compile): recompile it")
    return Emulator(Parser(context(), path.read_text(), str(path)).parse_module())


def user_vectors(outdir: Path, data: dict[str, np.ndarray], stem: str, emulator: Emulator) -> Path:
    """Test vectors of ``data`` (float arrays by input name): the raw inputs and the emulator's
    outputs, in ``tb/vectors.<stem>.npz``."""
    from rtlflow.api import quantize_samples, stack_samples

    manifest = json.loads((outdir / "report.json").read_text())
    names = [port["name"] for port in manifest["inputs"]]
    shapes = [tuple(port["shape"]) for port in manifest["inputs"]]
    raws = quantize_samples(emulator, names, stack_samples(data, names, shapes))
    return write_vectors(outdir / "tb" / f"vectors.{stem}.npz", raws, emulator.run_raw(raws))


def describe_mismatch(manifest: dict, mismatch: dict) -> str:
    """The first differing output element of a mismatch the bench recorded: sample, output,
    element index, expected and actual raw values (and their real values)."""
    for port, got, want in zip(manifest["outputs"], mismatch["got"], mismatch["expected"], strict=True):
        wrong = [i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b]
        if wrong:
            fmt = FixedFormat(port["format"]["width"], port["format"]["int"], port["format"]["signed"])
            i = wrong[0]
            index = tuple(int(v) for v in np.unravel_index(i, port["shape"]))
            return (
                f"first mismatch: sample {mismatch['sample']}, output '{port['name']}' element "
                f"{list(index)} ({len(wrong)} of {len(want)} elements differ): expected raw "
                f"{want[i]} ({want[i] * fmt.lsb:g}), design raw {got[i]} ({got[i] * fmt.lsb:g})"
            )
    return f"sample {mismatch['sample']}: the outputs differ"


def unit_instances(outdir: Path, manifest: dict) -> list[tuple[int, str, str]]:
    """(index, instance, label) of the unit instances in the top module, in program order."""
    top = (outdir / "rtl" / f"{manifest['top']}.v").read_text()
    found = re.findall(r"^\s+\S+ (u(\d+)_(\w+)) \(", top, flags=re.MULTILINE)
    return sorted((int(index), name, label) for name, index, label in found)


def departure(outdir: Path, vectors: Path, sample: int) -> str:
    """Simulate ``sample`` of ``vectors`` alone, recording every unit's first output, and name
    the first layer whose output differs from the emulator's (or say that none of the traced
    layers does)."""
    manifest = json.loads((outdir / "report.json").read_text())
    emulator = load_emulator(outdir)
    with np.load(vectors) as arrays:
        one = [arrays[f"input{i}"][sample : sample + 1] for i in range(len(manifest["inputs"]))]
    layers = emulator.trace(one)
    by_label = {verilog_identifier(node): node for node in layers}
    for layer in manifest.get("layers", []):  # a chain of ops as one unit: its result's op
        if "fused" in layer and layer["fused"][-1] in layers:
            by_label[verilog_identifier(layer["name"])] = layer["fused"][-1]
    last: dict[str, str] = {}  # a layer's output: the last instance of its node
    for _, instance, label in unit_instances(outdir, manifest):
        if label in by_label:
            last[by_label[label]] = instance
    traced = [(node, last[node]) for node in layers if node in last]
    tb = outdir / "tb"
    vectors = write_vectors(tb / "vectors.trace.npz", one, emulator.run_raw(one))
    results = outdir / "sim_build_trace" / "trace.json"
    request = tb / "trace.json"
    request.write_text(json.dumps({"instances": [i for _, i in traced], "results": str(results)}))
    if results.exists():
        results.unlink()
    run_testbench(outdir, vectors=vectors, trace=request)
    if not results.exists():
        return "the layer trace recorded nothing (see sim_build_trace/test.log)"
    seen = json.loads(results.read_text())
    for node, instance in traced:
        value, fmt = layers[node]
        expected = value.reshape(-1).tolist()
        if instance not in seen:
            return f"layer '{node}' ({instance}) presented no output: the design departs there"
        word = int(seen[instance])
        mask = (1 << fmt.width) - 1
        got = [(word >> (i * fmt.width)) & mask for i in range(len(expected))]
        got = [g - (1 << fmt.width) if fmt.signed and g >> (fmt.width - 1) else g for g in got]
        wrong = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
        if wrong:
            i = wrong[0]
            return (
                f"the design departs from the emulator first at layer '{node}' ({instance}): "
                f"{len(wrong)} of {len(expected)} elements differ, element {i}: emulator raw "
                f"{expected[i]}, design raw {got[i]}"
            )
    return f"the {len(traced)} traced layers all equal the emulator: the outputs part after them"

"""``rtlflow sim OUTDIR --inputs DATA.npz``: a compiled design checked on other data without
recompiling; on a mismatch, the first failing sample and element and the layer where the design
departs from the emulator."""

from __future__ import annotations

import re

import numpy as np

import rtlflow
from rtlflow.cli import main
from rtlflow.sim.testbench import EMULATOR_IR
from tests.e2e import models


def test_sim_on_other_data_and_where_a_difference_starts(tmp_path, capsys):
    model = models.wide_mlp(n_in=4, hidden=6, n_out=2)
    outdir = tmp_path / "out"
    rtlflow.compile(model).write(outdir, vectors=20)
    data = tmp_path / "other.npz"
    np.savez(data, x=np.random.default_rng(5).uniform(-4, 4, (37, 1, 4)))

    assert main(["sim", str(outdir), "--inputs", str(data)]) == 0
    printed = capsys.readouterr().out
    assert "37 outputs checked bit-exact, 0 mismatches" in printed and "PASS" in printed
    assert (outdir / "tb" / "vectors.other.npz").is_file()

    # The emulator kept in the directory is changed in one weight of the second dense layer:
    # its outputs (the expected values) now differ from the Verilog's from that layer on.
    program = outdir / EMULATOR_IR
    text = program.read_text()
    layers = re.findall(r'fxp\.dense .*?node = "([^"]+)"', text)
    line = next(x for x in text.splitlines() if f'node = "{layers[1]}"' in x and "fxp.dense" in x)
    weight = re.search(r"weight = dense<\[\[(-?\d+)", line)
    changed = line[: weight.start(1)] + str(int(weight.group(1)) + 400) + line[weight.end(1):]
    program.write_text(text.replace(line, changed))

    assert main(["sim", str(outdir), "--inputs", str(data)]) == 1
    printed = capsys.readouterr().out
    assert "FAIL" in printed
    first = re.search(r"first mismatch: sample (\d+), output 'y' element \[0, (\d)\] .*expected raw "
                      r"(-?\d+) .*design raw (-?\d+)", printed)
    assert first and first.group(3) != first.group(4), printed
    departs = re.search(r"departs from the emulator first at layer '([^']+)' .*element (\d+): "
                        r"emulator raw (-?\d+), design raw (-?\d+)", printed)
    assert departs and departs.group(1) == layers[1], printed
    assert departs.group(2) == "0" and departs.group(3) != departs.group(4)


def test_sim_inputs_must_name_the_model_inputs(tmp_path, capsys):
    outdir = tmp_path / "out"
    rtlflow.compile(models.wide_mlp(n_in=4, hidden=6, n_out=2)).write(outdir, vectors=4)
    data = tmp_path / "wrong.npz"
    np.savez(data, features=np.zeros((3, 1, 4)))
    assert main(["sim", str(outdir), "--inputs", str(data)]) == 2
    assert "has no array for input(s) ['x'] (it holds: features)" in capsys.readouterr().err


def test_a_folded_attention_departs_as_its_mixing_layer(tmp_path, capsys):
    """A folded attention is one unit (scores, softmax, mix): when the emulator kept in the
    directory takes another softmax table step, the design departs from it first at that
    unit, named by its last op, the mixing MatMul."""
    from tests.e2e.test_transformer import attention_core

    outdir = tmp_path / "out"
    rtlflow.compile(attention_core(4, 3, 1), reuse_factor=2).write(outdir, vectors=8)
    program = outdir / EMULATOR_IR
    text = program.read_text()
    step = re.search(r"inv_step_log2 = (-?\d+)", text)
    program.write_text(text[: step.start(1)] + str(int(step.group(1)) + 3) + text[step.end(1):])
    data = tmp_path / "other.npz"
    rng = np.random.default_rng(3)
    shapes = {"q": (1, 1, 4, 3), "k": (1, 1, 3, 4), "v": (1, 1, 4, 3)}
    np.savez(data, **{name: rng.uniform(-2, 2, (6, *shape)) for name, shape in shapes.items()})

    assert main(["sim", str(outdir), "--inputs", str(data)]) == 1
    printed = capsys.readouterr().out
    departs = re.search(r"departs from the emulator first at layer '([^']+)'", printed)
    assert departs and departs.group(1) == "mix", printed

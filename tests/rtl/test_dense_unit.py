"""DenseUnit under Verilator: random weights and inputs against exact integer arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import signed

from rtlflow.rtl.arith import Cast
from rtlflow.rtl.dense import DenseUnit
from tests.rtl.harness import cast, run_unit, signed_range


def random_weights(rng: np.random.Generator, n_out: int, n_in: int) -> list[list[int]]:
    """A mix of zeros, ±powers of two, two-digit constants and arbitrary values."""
    choices = [0, 0, 1, -1, 8, -64, 3, -6, 96, 17, -255]
    weights = rng.choice(choices, size=(n_out, n_in))
    arbitrary = rng.random((n_out, n_in)) < 0.4
    weights[arbitrary] = rng.integers(-3000, 3000, size=int(arbitrary.sum()))
    return weights.tolist()


def reference(weights, bias, casts, x):
    outputs = []
    for row, b in zip(weights, bias, strict=True):
        value = sum(w * v for w, v in zip(row, x, strict=True)) + b
        for c in casts:
            value = cast(value, c.shift, c.rounding, c.overflow, c.width, c.signed)
        outputs.append(value)
    return outputs


@pytest.mark.parametrize(
    ("reuse", "rows", "registers", "casts"),
    [
        (1, 1, (1, 3, 5), (Cast(9, "RND", "SAT", 12, True),)),
        (1, 2, (), (Cast(6, "TRN", "WRAP", 10, True), Cast(-1, "RND", "SAT", 8, False))),
        (3, 1, (2, 5), (Cast(8, "TRN", "WRAP", 16, True),)),
        (4, 1, (), (Cast(7, "RND", "SAT", 10, True),)),
        (1, 1, (1, 2), (Cast(8, "RND_CONV", "SAT_SYM", 6, True),)),
        (3, 1, (), (Cast(5, "RND_CONV", "WRAP", 9, True), Cast(2, "RND_CONV", "SAT_SYM", 5, True))),
    ],
    ids=["r1-registered", "r1-two-rows-two-casts", "r3", "r4-sparse", "r1-rnd-conv-sat-sym", "r3-rnd-conv"],
)
def test_dense_unit_matches_integer_arithmetic(reuse, rows, registers, casts, tmp_path):
    rng = np.random.default_rng(reuse * 10 + rows)
    n_in, n_out, width = 9, 6, 10
    weights = random_weights(rng, n_out, n_in)
    if reuse == 4:  # sparse: most weights zero, one neuron with none at all
        weights = [[w if rng.random() < 0.3 else 0 for w in row] for row in weights]
        weights[0] = [0] * n_in
    bias = rng.integers(-5000, 5000, size=n_out).tolist()
    unit = DenseUnit(
        weights=tuple(map(tuple, weights)),
        bias=tuple(bias),
        input_shape=signed(width),
        casts=casts,
        rows=rows,
        reuse_factor=reuse,
        registers=registers,
    )
    low, high = signed_range(width)
    x = rng.integers(low, high, size=(150, rows * n_in), endpoint=True)
    x[:5] = rng.choice([low, high], size=(5, rows * n_in))  # extremes
    expected = [
        sum((reference(weights, bias, casts, sample[r * n_in : (r + 1) * n_in]) for r in range(rows)), [])
        for sample in x.tolist()
    ]
    result = run_unit(unit, x, np.array(expected), tmp_path, gaps=0.3 if reuse > 1 else 0.0)
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"]
    assert result.latency_cycles == [unit.latency]
    assert result.initiation_interval == reuse
    assert unit.latency == len(set(registers) | unit.plan.forced) + reuse - 1


def test_a_reuse_factor_beyond_the_inputs_counts_the_phases_that_pick_one():
    """R = 64 over 9 inputs: each neuron's multiplier picks an input in its first 9 phases and
    nothing after (zero), so its input multiplexer and weight table hold 9 choices (a table of
    16, the phase counter's bits that matter), not 64: what synthesis keeps (the 1,024-phase
    jet tagger was estimated at 8.9 times the LUTs Yosys measured)."""
    rng = np.random.default_rng(5)
    weights = [[int(w) or 1 for w in row] for row in random_weights(rng, 6, 9)]  # none zero
    unit = DenseUnit(weights=tuple(map(tuple, weights)), bias=(0,) * 6, input_shape=signed(10),
                     casts=(Cast(0, "TRN", "WRAP", 24, True),), reuse_factor=64)  # fmt: skip
    (select,) = [step for step in unit.plan.steps if step.name == "select"]
    sizes = {(kind, size) for kind, _, size in select.operators}
    assert sizes == {("mux", 9), ("rom", 16)}

"""ActivationUnit (ReLU, leaky ReLU, clip), ScaleShiftUnit and DelayUnit under Verilator."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned

from rtlflow.rtl.activation import ActivationUnit
from rtlflow.rtl.arith import Cast
from rtlflow.rtl.delay import DelayUnit
from rtlflow.rtl.scale_shift import ScaleShiftUnit
from rtlflow.rtl.threshold import ThresholdUnit
from tests.rtl.harness import cast, run_unit, signed_range

WIDTH, COUNT = 12, 8


def inputs(seed: int) -> np.ndarray:
    low, high = signed_range(WIDTH)
    x = np.random.default_rng(seed).integers(low, high, size=(120, COUNT), endpoint=True)
    x[0], x[1] = low, high
    return x


def apply(c: Cast, value: int) -> int:
    return cast(value, c.shift, c.rounding, c.overflow, c.width, c.signed)


@pytest.mark.parametrize(
    ("kind", "registers"),
    [("relu", ()), ("leaky_relu", (1, 2)), ("clip", (0,))],
)
def test_activation_unit(kind, registers, tmp_path):
    alpha, alpha_shift, low, high = 13, 7, -700, 1500
    if kind == "relu":
        c, f = Cast(2, "RND", "SAT", 9, False), lambda v: max(v, 0)
    elif kind == "leaky_relu":
        c = Cast(alpha_shift + 3, "TRN", "WRAP", 10, True)
        f = lambda v: v << alpha_shift if v >= 0 else v * alpha  # noqa: E731
    else:
        c, f = Cast(-2, "TRN", "SAT", 13, True), lambda v: min(max(v, low), high)
    unit = ActivationUnit(
        kind=kind, input_shape=signed(WIDTH), count=COUNT, casts=(c,), alpha=alpha,
        alpha_shift=alpha_shift, low=low, high=high, registers=registers,
    )
    x = inputs(len(kind))
    expected = [[apply(c, f(v)) for v in sample] for sample in x.tolist()]
    result = run_unit(unit, x, np.array(expected), tmp_path)
    assert result.passed, result.details
    assert result.latency_cycles == [len(registers)]


def test_scale_shift_unit(tmp_path):
    scale = [3, -1, 0, 64, 1000, -7, 5, -96]
    offset = [5, 0, -9, 100, 0, 3, -4000, 77]
    c = Cast(4, "RND", "WRAP", 11, True)
    unit = ScaleShiftUnit(
        scale=tuple(scale), offset=tuple(offset), input_shape=signed(WIDTH), casts=(c,),
        registers=(1,),
    )
    x = inputs(7)
    expected = [
        [apply(c, v * s + o) for v, s, o in zip(sample, scale, offset, strict=True)]
        for sample in x.tolist()
    ]
    result = run_unit(unit, x, np.array(expected), tmp_path)
    assert result.passed, result.details
    assert result.latency_cycles == [1]


def test_delay_unit(tmp_path):
    unit = DelayUnit(shape=unsigned(WIDTH), count=COUNT, cycles=3)
    x = np.random.default_rng(3).integers(0, 1 << WIDTH, size=(60, COUNT))
    result = run_unit(unit, x, x, tmp_path, gaps=0.3)
    assert result.passed, result.details
    assert result.latency_cycles == [3]


@pytest.mark.parametrize("registers", [(), (0, 2, 4)])
def test_threshold_unit(registers, tmp_path):
    """Counts against integer math: thresholds inside, below and above the input's range,
    repeated ones (a jump by two levels), an element with none, negative and positive bases."""
    low, high = signed_range(WIDTH)
    rows = [
        (-1500, -20, 0, 0, 7, 300, 1999),
        (low, low, low, 0, high + 1, high + 1, high + 1),
        (-3, -2, -1, 0, 1, 2, 3),
        (high + 1,) * 7,
        (low,) * 7,
        (0, 0, 100, 100, 100, 2047, 2047),
        (-2048, -1000, -1000, 5, 6, 7, 8),
        (-9, 1, 11, 21, 31, 41, 51),
    ]
    base = (-4, 0, -8, 3, -7, 1, -128, 120)
    out = Cast(0, "TRN", "WRAP", 8, True)
    unit = ThresholdUnit(
        thresholds=tuple(rows), base=base, input_shape=signed(WIDTH), count=COUNT, casts=(out,),
        registers=registers,
    )
    x = inputs(7)
    x[2] = [-1500, -21, 0, 6, 7, 2047, -1000, 11]
    expected = [
        [b + sum(v >= t for t in row) for v, row, b in zip(sample, rows, base, strict=True)]
        for sample in x.tolist()
    ]
    result = run_unit(unit, x, np.array(expected), tmp_path)
    assert result.passed, result.details
    assert result.latency_cycles == [unit.latency]
    assert unit.latency == len(registers)


@pytest.mark.parametrize("registers", [(), (1, 3, 5, 7)])
def test_threshold_unit_binary_search(registers, tmp_path):
    """More than 15 thresholds per element: the binary search, against integer math, with
    thresholds below, inside and above the range, repeats, and rows of different lengths."""
    low, high = signed_range(WIDTH)
    rng = np.random.default_rng(11)
    rows = [tuple(sorted(rng.integers(low - 50, high + 50, size=255).tolist())) for _ in range(6)]
    rows.append(tuple(sorted([0] * 40 + [low] * 3 + [high + 1] * 5)))
    rows.append(tuple(range(-20, 20)))
    base = (-128, 0, -100, 3, -7, 1, -20, 5)
    out = Cast(0, "TRN", "WRAP", 10, True)
    unit = ThresholdUnit(
        thresholds=tuple(rows), base=base, input_shape=signed(WIDTH), count=COUNT, casts=(out,),
        registers=registers,
    )
    assert unit.search
    x = inputs(8)
    x[2] = np.clip([rows[0][1], rows[1][100], rows[2][254], 0, -1, low, 19, -20], low, high)
    expected = [
        [b + sum(v >= t for t in row) for v, row, b in zip(sample, rows, base, strict=True)]
        for sample in x.tolist()
    ]
    result = run_unit(unit, x, np.array(expected), tmp_path)
    assert result.passed, result.details
    assert result.latency_cycles == [unit.latency] and unit.latency == len(registers)

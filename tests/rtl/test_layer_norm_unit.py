# amaranth: UnusedElaboratable=no
"""LayerNormUnit under Verilator, against exact integer arithmetic.

Per row of ``n`` raw integers ``x_j`` (``fxp.layer_norm``, ``rtlflow.numerics.normalization``):
``S = sum x``, ``d_j = n x_j - S``, ``s = sum d_j^2``; the 1/sqrt is read in block floating point:
``s' = s + offset``, ``t`` = the number of thresholds ``s'`` reaches, ``m = s' >> 2t`` indexes the
table and ``r = entries[m] << (len(thresholds) - t)``; then ``y_j = cast(d_j * r * scale_j +
bias_j)``. The expected outputs are computed here with Python integers, from tables and
thresholds built here (``1 / sqrt`` quantized, or arbitrary unsigned integers: the unit only has
to index and shift them; thresholds ``size << 2j`` up to the largest ``s`` of the input format),
with the cast written from the ap_fixed definitions (``tests.rtl.harness.cast``). Nothing
expected comes from rtlflow's emulator, ``RsqrtTable`` or ``TableSpec``.

The samples mix rows of equal elements (``s = 0``), rows at the extremes of the input range (the
largest variance: the last shift), rows of every spread in between, and rows whose ``s'`` is
exactly a threshold or the nearest value below one. Each case asserts that its samples take every
shift, many table entries (entry 0 where the offset is 0), and that its cast rounds exact ties and
saturates (or wraps).

Every unit is simulated with at least two register placements (none, every boundary, every other
boundary). The table read is a synchronous memory, so its boundary is always registered: the
latency the unit reports must be the number of registered boundaries including that one, and
must equal the latency measured. Every Verilator build takes ~15 s, so a few cases run by default
and the remaining placements only with ``--run-slow``.

(The first line tells Amaranth not to warn about the units whose constructor raises here, which
are never elaborated.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Shape, signed, unsigned

from rtlflow.rtl.arith import Cast
from rtlflow.rtl.layer_norm import LayerNormUnit
from rtlflow.rtl.pipeline import Unit
from rtlflow.numerics.fixed_point import raw_range
from rtlflow.sim.runner import SimulationResult
from tests.rtl.harness import run_unit
from tests.rtl.test_window_units import SAMPLES, apply_casts, placed

# ---- reference -----------------------------------------------------------------------------------


def rsqrt_read(s: int, offset: int, thresholds, entries) -> tuple[int, int, int]:
    """``(r, t, m)`` for the exact sum of squares ``s``: ``s' = s + offset``, ``t`` thresholds
    reached, ``m = s' >> 2t``, ``r = entries[m] << (len(thresholds) - t)``."""
    shifted = s + offset
    t = sum(shifted >= threshold for threshold in thresholds)
    m = shifted >> (2 * t)
    assert 0 <= m < len(entries), "the thresholds must cover s (the test's own parameters)"
    return int(entries[m]) << (len(thresholds) - t), t, m


def layer_norm_exact(x, rows: int, n: int, entries, offset: int, thresholds, scale, bias):
    """``d_j * r * scale_j + bias_j`` per element (Python integers, before the casts), and per
    row of every sample ``(s', t, m)``."""
    exact, lookups = [], []
    for sample in np.asarray(x).tolist():
        values = []
        for r in range(rows):
            row = [int(v) for v in sample[r * n : (r + 1) * n]]
            total = sum(row)
            centred = [n * v - total for v in row]
            s = sum(d * d for d in centred)
            reciprocal, t, m = rsqrt_read(s, offset, thresholds, entries)
            lookups.append((s + offset, t, m))
            values += [d * reciprocal * int(scale[j]) + int(bias[j]) for j, d in enumerate(centred)]
        exact.append(values)
    return np.array(exact, dtype=object), lookups


def largest_sum_of_squares(n: int, shape: Shape) -> int:
    """An upper bound of s = n^3 variance: a variance is at most a quarter of the squared
    spread of the input format."""
    low, high = raw_range(shape.width, shape.signed)
    return n**3 * (high - low) ** 2 // 4


def thresholds_for(n: int, shape: Shape, index_bits: int, offset: int) -> tuple[int, ...]:
    """``size << 2j`` for every even shift ``2 (j + 1)`` the largest ``s'`` needs to bring its
    mantissa below the table size."""
    top, shift = largest_sum_of_squares(n, shape) + offset, 0
    while top >> shift >= 1 << index_bits:
        shift += 2
    return tuple((1 << index_bits) << (2 * j) for j in range(shift // 2))


def rsqrt_entries(n: int, size: int, width: int, input_frac: int, table_frac: int):
    """``sqrt(n) 2^f / sqrt(m)`` (so that ``r = entries[m] 2^-t`` is ``1 / (n sqrt(s' / n^3))``
    with ``s'`` raw in 2f fractional bits), at m + 1/2 (1/2 for m = 0), rounded and saturated
    into ``width``-bit unsigned integers with ``table_frac`` fractional bits."""
    values = (math.sqrt(n) * 2.0**input_frac / math.sqrt(m + 0.5) for m in range(size))
    return tuple(min(round(v * 2**table_frac), (1 << width) - 1) for v in values)


def random_entries(rng: np.random.Generator, size: int, width: int) -> tuple[int, ...]:
    """Arbitrary unsigned entries, with 0 and the largest value among them."""
    entries = rng.integers(0, 1 << width, size=size)
    entries[rng.choice(size, size=2, replace=False)] = (0, (1 << width) - 1)
    return tuple(int(e) for e in entries)


def sample_rows(rng: np.random.Generator, shape: Shape, samples: int, rows: int, n: int):
    """Raw inputs (samples x rows x n): rows of equal values (s = 0), rows of extremes (the
    largest variances), rows around a random centre with a log-uniform spread, uniform rows.
    The first samples are all-lowest, all-highest and alternating extremes."""
    low, high = raw_range(shape.width, shape.signed)
    x = np.empty((samples, rows, n), dtype=np.int64)
    for sample in range(samples):
        for r in range(rows):
            kind = rng.choice(["equal", "extremes", "spread", "spread", "spread", "uniform"])
            if kind == "equal":
                x[sample, r] = rng.integers(low, high, endpoint=True)
            elif kind == "extremes":
                x[sample, r] = rng.choice([low, high], size=n)
            elif kind == "spread":
                centre = rng.integers(low, high, endpoint=True)
                spread = int(round(2 ** rng.uniform(0, math.log2(high - low))))
                offsets = rng.integers(-spread, spread, size=n, endpoint=True)
                x[sample, r] = np.clip(centre + offsets, low, high)
            else:
                x[sample, r] = rng.integers(low, high, size=n, endpoint=True)
    x[0], x[1] = low, high
    x[2] = np.resize([low, high], (rows, n))
    return x


def threshold_rows(n: int, shape: Shape, offset: int, thresholds) -> tuple[list, int]:
    """Rows whose ``s'`` is exactly a threshold, where one is reachable, and rows with the largest
    ``s'`` below each threshold, among rows of three free elements ``(u, v, w)`` and n - 3 equal
    to a base (the lowest value or the middle of the range); and how many thresholds were hit.
    (``s = n Q``, ``Q`` the sum of the squared pairwise differences: not every threshold is
    reachable, e.g. ``0 < Q < n - 1`` never is.)"""
    assert n >= 3
    low, high = raw_range(shape.width, shape.signed)
    v = np.arange(low, high + 1, dtype=np.int64)[:, None]
    w = v.T
    at: dict[int, list[int]] = {}
    below: dict[int, tuple[int, list[int]]] = {}
    for base in (low, (low + high) // 2):
        for u in range(low, high + 1):
            pairs = (u - v) ** 2 + (u - w) ** 2 + (v - w) ** 2
            rest = (u - base) ** 2 + (v - base) ** 2 + (w - base) ** 2
            shifted = n * (pairs + (n - 3) * rest) + offset
            for threshold in thresholds:
                if threshold not in at:
                    hit = np.argwhere(shifted == threshold)
                    if len(hit):
                        at[threshold] = [u, int(v[hit[0][0], 0]), int(w[0, hit[0][1]])]
                        at[threshold] += [base] * (n - 3)
                under = np.where(shifted < threshold, shifted, -1)
                if under.max() > below.get(threshold, (-1, None))[0]:
                    i, j = np.unravel_index(under.argmax(), under.shape)
                    row = [u, int(v[i, 0]), int(w[0, j])] + [base] * (n - 3)
                    below[threshold] = (int(under.max()), row)
    return list(at.values()) + [row for _, row in below.values()], len(at)


def check(result: SimulationResult, unit: Unit, registers: tuple[int, ...]) -> None:
    """Outputs match; the reported latency counts the chosen registers and the table read's
    forced one, and is the latency measured; one input per cycle."""
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"][:3]
    assert result.passed, result.details
    assert len(unit.plan.forced) == 1 and unit.plan.forced == unit.plan.memory_boundaries
    assert unit.latency == len(set(registers) | unit.plan.forced)
    assert result.latency_cycles == [unit.latency]
    assert result.initiation_interval == 1


def test_reference_sanity():
    """The reference on hand-checkable rows: x = (1, 2, 3, 6) gives S = 12,
    d = (-8, -4, 0, 12), s = 64 + 16 + 0 + 144 = 224; with offset 32 s' = 256, which reaches the
    thresholds 16, 64 and 256 (t = 3, shift 6: m = 4) but not 1024; r = entries[4] << 1."""
    entries = tuple(range(100, 116))
    thresholds = (16, 64, 256, 1024)
    exact, lookups = layer_norm_exact(
        [[1, 2, 3, 6, 5, 5, 5, 5]], 2, 4, entries, 32, thresholds, (1, -2, 0, 3), (7, 0, -1, 2)
    )
    assert lookups == [(256, 3, 4), (32, 1, 8)]  # s = 0: s' = 32 >= 16, m = 32 >> 2
    r0 = 104 << 1  # (the second row is constant: d = 0, its outputs are the biases)
    assert exact.tolist() == [[-8 * r0 + 7, 8 * r0, -1, 36 * r0 + 2, 7, 0, -1, 2]]
    assert rsqrt_read(255 - 32, 32, thresholds, entries) == (115 << 2, 2, 15)  # just below 256
    assert rsqrt_read(0, 0, (), entries) == (100, 0, 0)
    # the bound of s: alternating extremes reach it, d = (-510, 510, -510, 510)
    extremes = layer_norm_exact([[-128, 127, -128, 127]], 1, 4, range(1 << 20), 0, (), (0,) * 4,
                                (0,) * 4)[1]
    assert extremes[0][0] == largest_sum_of_squares(4, signed(8)) == 4 * 510**2
    assert thresholds_for(4, signed(8), 6, 0) == tuple(64 << 2 * j for j in range(7))
    rows, hits = threshold_rows(4, signed(8), 0, (64, 256))
    reads = layer_norm_exact(rows, 1, 4, range(1 << 20), 0, (64, 256), (0,) * 4, (0,) * 4)[1]
    assert hits == 2 and [(shifted, t) for shifted, t, _ in reads] == [
        (64, 1), (256, 2), (48, 0), (236, 1)  # Q = 12 and 59 are the nearest below 16 and 64
    ]
    assert threshold_rows(4, signed(8), 4, (64,))[1] == 0  # Q = 15 is not a sum of this kind


# ---- cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    rows: int
    n: int
    input_shape: Shape
    index_bits: int
    entry_width: int
    offset: int
    #: "rsqrt" (1/sqrt with input and table fractional bits) or "random"
    table: tuple
    #: scale values are drawn from (-scale_limit, scale_limit); the first is 0, the second < 0
    scale_limit: int
    casts: tuple[Cast, ...]
    #: biases of the first ``len(ties)`` elements: ``k * 2^shift + 2^(shift - 1)``, an exact
    #: tie of the first cast, per k (the rest are random within the output range)
    ties: tuple[int, ...] = ()
    #: element 0 (whose scale is always 0) gets bias 0: its output is the constant 0
    zero_bias: bool = False
    #: the least number of distinct table entries the samples must read
    entries_read: int = 0


CASES = {
    # the 1/sqrt table (input with 4 fractional bits, table with 5), epsilon 1.2e-3 as an offset
    # (1.2e-3 * 4^3 * 2^8 = 19.7), rounding to nearest; 7 thresholds, all reachable exactly
    "1x4-rsqrt-rnd": Case(
        1, 4, signed(8), 6, 10, 20, ("rsqrt", 4, 5), 64,
        (Cast(14, "RND", "SAT", 8, True),), ties=(2, -3), entries_read=36,
    ),
    # unsigned inputs, n = 5, an offset that makes every other threshold reachable (s is a
    # multiple of 5, the thresholds 32 4^j alternate 2 and 3 modulo 5), ties to even, then a
    # second (rounding) cast to unsigned
    "3x5-random-rnd-conv": Case(
        3, 5, unsigned(6), 5, 12, 12, ("random",), 40,
        (Cast(13, "RND_CONV", "SAT", 10, True), Cast(1, "RND", "SAT", 8, False)),
        ties=(2, -3, 5, -6), entries_read=24,
    ),
    # long rows, offset 0 (s = 0 reads entry 0), truncation and wrapping; element 0 has scale 0
    # and bias 0 (a constant 0)
    "2x16-random-trn-wrap": Case(
        2, 16, signed(6), 7, 8, 0, ("random",), 100,
        (Cast(13, "TRN", "WRAP", 8, True),), zero_bias=True, entries_read=64,
    ),
    # tiny rows of tiny values: s' in {3, 9, 21, 27, 45, 57} is always below the table size, so
    # there is no threshold at all; negative results saturate at 0 in an unsigned output
    "2x3-no-thresholds": Case(
        2, 3, unsigned(2), 6, 9, 3, ("random",), 30,
        (Cast(7, "RND", "SAT", 6, False),), ties=(1, 2), entries_read=6,
    ),
    # ties to even on elements of scale 0 whose bias is narrower than the cast's shift
    "1x4-rnd-conv-narrow-constant": Case(
        1, 4, signed(8), 6, 10, 20, ("rsqrt", 4, 5), 64,
        (Cast(15, "RND_CONV", "SAT", 8, True),), ties=(0, -1), entries_read=36,
    ),
}

def slow(*values):
    """A parameter set run only with --run-slow (every Verilator build takes ~15 s)."""
    return pytest.param(*values, marks=pytest.mark.slow)


def build_case(case: Case, seed: int):
    """(entries, thresholds, scale, bias, inputs, exact values, lookups, threshold hits)."""
    rng = np.random.default_rng(seed)
    size = 1 << case.index_bits
    if case.table[0] == "rsqrt":
        _, input_frac, table_frac = case.table
        entries = rsqrt_entries(case.n, size, case.entry_width, input_frac, table_frac)
    else:
        entries = random_entries(rng, size, case.entry_width)
    thresholds = thresholds_for(case.n, case.input_shape, case.index_bits, case.offset)
    scale = rng.integers(-case.scale_limit + 1, case.scale_limit, size=case.n)
    scale[0], scale[1] = 0, -max(abs(int(scale[1])), 1)  # a constant output, a negative scale
    first = case.casts[0]
    output_low, output_high = raw_range(first.width, first.signed)
    bias = rng.integers(output_low << first.shift, output_high << first.shift, size=case.n)
    if case.zero_bias:
        bias[0] = 0
    for j, k in enumerate(case.ties):
        bias[j] = (k << first.shift) + (1 << (first.shift - 1))
    scale, bias = tuple(int(v) for v in scale), tuple(int(v) for v in bias)
    x = sample_rows(rng, case.input_shape, SAMPLES, case.rows, case.n)
    boundary, hits = threshold_rows(case.n, case.input_shape, case.offset, thresholds)
    for k, row in enumerate(boundary):  # from sample 3 on, one row each
        x[3 + k // case.rows, k % case.rows] = row
    x = x.reshape(SAMPLES, -1)
    exact, lookups = layer_norm_exact(
        x, case.rows, case.n, entries, case.offset, thresholds, scale, bias
    )
    return entries, thresholds, scale, bias, x, exact, lookups, hits


def assert_coverage(case: Case, thresholds, exact, lookups, hits) -> None:
    """The samples take every shift, reach thresholds exactly, read many entries (entry 0 when
    the offset is 0); the first cast meets exact ties and results outside the output range."""
    assert {t for _, t, _ in lookups} == set(range(len(thresholds) + 1))
    if thresholds:
        assert hits >= len(thresholds) // 2, hits
        assert any(shifted in thresholds for shifted, _, _ in lookups)
    entries = {m for _, _, m in lookups}
    assert len(entries) >= case.entries_read, sorted(entries)
    assert (case.offset, 0, case.offset) in lookups  # s = 0
    first = case.casts[0]
    low, high = raw_range(first.width, first.signed)
    values = [int(v) for v in exact.reshape(-1)]
    kept = [v >> first.shift for v in values]
    assert any(k < low for k in kept) or any(k > high for k in kept)
    inside = sum(low < k < high for k in kept)
    assert inside > len(kept) // 4, (inside, len(kept))
    if case.ties:
        half = 1 << (first.shift - 1)
        ties = [v >> first.shift for v in values if v & ((1 << first.shift) - 1) == half]
        assert any(k % 2 == 0 for k in ties) and any(k % 2 == 1 for k in ties)


@pytest.mark.parametrize(
    ("name", "placement"),
    [
        ("1x4-rsqrt-rnd", "none"),
        ("1x4-rsqrt-rnd", "all"),
        ("3x5-random-rnd-conv", "alternate"),
        ("2x16-random-trn-wrap", "all"),
        ("2x3-no-thresholds", "none"),
        ("1x4-rnd-conv-narrow-constant", "none"),
        slow("1x4-rsqrt-rnd", "alternate"),
        slow("3x5-random-rnd-conv", "none"),
        slow("3x5-random-rnd-conv", "all"),
        slow("2x16-random-trn-wrap", "none"),
        slow("2x16-random-trn-wrap", "alternate"),
        slow("2x3-no-thresholds", "all"),
        slow("2x3-no-thresholds", "alternate"),
    ],
)
def test_layer_norm_unit(name, placement, tmp_path):
    case = CASES[name]
    entries, thresholds, scale, bias, x, exact, lookups, hits = build_case(
        case, 400 + len(name) * 11
    )
    assert_coverage(case, thresholds, exact, lookups, hits)
    expected = apply_casts(exact, case.casts)

    def make(registers):
        return LayerNormUnit(
            rows=case.rows, n=case.n, input_shape=case.input_shape, entries=entries,
            entry_shape=unsigned(case.entry_width), offset=case.offset, thresholds=thresholds,
            scale=scale, bias=bias, casts=case.casts, registers=registers,
        )

    unit, registers = placed(make, placement)
    assert (unit.input_count, unit.output_count) == (case.rows * case.n, case.rows * case.n)
    result = run_unit(unit, x, expected, tmp_path, gaps=0.0 if placement == "none" else 0.3)
    check(result, unit, registers)


# ---- construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entries": tuple(range(48))}, "power-of-two"),
        ({"entries": (5,)}, "power-of-two"),
        ({"entry_shape": signed(8)}, "unsigned"),
        ({"scale": (1, 2, 3)}, "one scale and one bias"),
        ({"bias": (0,) * 5}, "one scale and one bias"),
    ],
)
def test_layer_norm_unit_rejects(changes, message):
    arguments = {
        "rows": 1, "n": 4, "input_shape": signed(6), "entries": tuple(range(16)),
        "entry_shape": unsigned(8), "offset": 0, "thresholds": (16, 64), "scale": (1, 2, 3, 4),
        "bias": (0, 0, 0, 0),
        "casts": (Cast(4, "RND", "SAT", 8, True),),
    }
    with pytest.raises(ValueError, match=message):
        LayerNormUnit(**(arguments | changes))

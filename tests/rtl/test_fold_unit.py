"""FoldedUnit: a MatMul's result rows time-multiplexed over 2, 3 and 4 phases (reuse factors),
under Verilator, against numpy integer matmul. The phase plan (which rows each phase reads and
writes) is written here from the definition: phase p computes result rows p*k .. p*k + k - 1 of
each batch, padded rows read zeros and are dropped."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import signed

from rtlflow.rtl.arith import Cast
from rtlflow.rtl.fold import FoldedUnit
from rtlflow.rtl.matmul import MatMulUnit
from tests.rtl.test_window_units import SAMPLES, apply_casts, random_raw, run_groups

A, B = signed(6), signed(5)
CASTS = (Cast(2, "RND", "SAT", 10, True),)


def folded_matmul(batches: int, m: int, k: int, n: int, rows_per_phase: int, registers=()):
    """a [batches, m, k] @ b [batches, k, n], ``rows_per_phase`` result rows per phase."""
    inner_pairs = tuple(
        tuple((r * k + j, j * n + c) for j in range(k)) for r in range(rows_per_phase)
        for c in range(n)
    )
    inner = (MatMulUnit, tuple(sorted({
        "a_shape": A, "a_count": rows_per_phase * k, "b_shape": B, "b_count": k * n,
        "pairs": inner_pairs, "casts": CASTS,
    }.items())))
    padded = -(-m // rows_per_phase) * rows_per_phase
    a_total = batches * m * k
    sources, destinations = [], []
    for batch in range(batches):
        for first in range(0, padded, rows_per_phase):
            rows = range(first, first + rows_per_phase)
            a_part = [(batch * m + r) * k + j if r < m else -1 for r in rows for j in range(k)]
            b_part = [a_total + batch * k * n + e for e in range(k * n)]
            sources.append(tuple(a_part + b_part))
            destinations.append(tuple(
                (batch * m + r) * n + c if r < m else -1 for r in rows for c in range(n)
            ))
    return FoldedUnit(
        inner=inner, input_groups=((A, a_total), (B, batches * k * n)),
        sources=tuple(sources), destinations=tuple(destinations),
        output_count=batches * m * n, registers=registers,
    )


@pytest.mark.parametrize(
    ("batches", "m", "rows_per_phase", "phases", "registered"),
    [
        (1, 4, 2, 2, False),
        (2, 3, 3, 2, True),  # one batch per phase: b switches with the phase
        (1, 5, 2, 3, True),  # padded: the last phase has one real row
        pytest.param(2, 4, 2, 4, False, marks=pytest.mark.slow),
    ],
)
def test_folded_matmul(batches, m, rows_per_phase, phases, registered, tmp_path):
    k, n = 3, 2
    rng = np.random.default_rng(batches * 10 + m)
    a = random_raw(rng, A, (SAMPLES, batches * m * k))
    b = random_raw(rng, B, (SAMPLES, batches * k * n))
    exact = np.matmul(a.reshape(SAMPLES, batches, m, k), b.reshape(SAMPLES, batches, k, n))
    expected = apply_casts(exact.reshape(SAMPLES, -1), CASTS)
    probe = folded_matmul(batches, m, k, n, rows_per_phase)
    probe._MustUse__silence = True
    registers = tuple(range(probe.plan.boundaries)) if registered else ()
    unit = folded_matmul(batches, m, k, n, rows_per_phase, registers) if registered else probe
    assert unit.ii == phases
    forced = unit.plan.forced
    assert unit.latency == len(set(registers) | forced) + phases - 1
    result = run_groups(unit, [a, b], expected, tmp_path, gaps=0.2)
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"][:3]
    assert result.latency_cycles == [unit.latency]
    assert result.initiation_interval == phases

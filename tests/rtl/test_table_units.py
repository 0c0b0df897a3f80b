"""TableUnit and SoftmaxUnit under Verilator, with random table contents.

The tables hold arbitrary numbers, so the expected outputs follow from the index arithmetic
alone: ``index = clamp((x - start) >> shift, 0, size - 1)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned

from rtlflow.rtl.arith import Cast
from rtlflow.rtl.softmax import SoftmaxUnit
from rtlflow.rtl.table import TableUnit
from tests.rtl.harness import cast, run_unit, signed_range


def index(value: int, start: int, shift: int, size: int) -> int:
    offset = value - start
    offset = offset >> shift if shift >= 0 else offset << -shift
    return min(max(offset, 0), size - 1)


@pytest.mark.parametrize(("start", "shift", "registers"), [(-2048, 2, ()), (-96, -1, (0, 1))])
def test_table_unit(start, shift, registers, tmp_path):
    rng = np.random.default_rng(shift + 5)
    entries = rng.integers(-(1 << 11), 1 << 11, size=256).tolist()
    unit = TableUnit(
        entries=tuple(entries), entry_shape=signed(12), start=start, shift=shift,
        input_shape=signed(11), count=6, registers=registers,
    )
    low, high = signed_range(11)
    x = rng.integers(low, high, size=(150, 6), endpoint=True)
    expected = [[entries[index(v, start, shift, 256)] for v in s] for s in x.tolist()]
    result = run_unit(unit, x, np.array(expected), tmp_path)
    assert result.passed, result.details
    assert result.latency_cycles == [unit.latency] and unit.latency >= 1


def test_softmax_unit(tmp_path):
    rng = np.random.default_rng(11)
    rows, n, width = 2, 5, 10
    exp_entries = sorted(rng.integers(0, 1 << 12, size=128).tolist(), reverse=True)
    inv_entries = sorted(rng.integers(1, 1 << 12, size=64).tolist(), reverse=True)
    exp_shift, inv_start, inv_shift = 1, 16, 5
    c = Cast(12, "RND", "SAT", 9, False)
    unit = SoftmaxUnit(
        rows=rows, n=n, input_shape=signed(width), exp_entries=tuple(exp_entries),
        exp_shape=unsigned(12), exp_shift=exp_shift, inv_entries=tuple(inv_entries),
        inv_shape=unsigned(12), inv_start=inv_start, inv_shift=inv_shift, casts=(c,),
        registers=(2, 6),
    )
    low, high = signed_range(width)
    x = rng.integers(low, high, size=(150, rows * n), endpoint=True)
    x[:20] = rng.integers(-40, 40, size=(20, rows * n))  # close values: mid-table entries

    def reference(sample):
        out = []
        for r in range(rows):
            row = sample[r * n : (r + 1) * n]
            top = max(row)
            e = [exp_entries[index(top - v, 0, exp_shift, 128)] for v in row]
            reciprocal = inv_entries[index(sum(e), inv_start, inv_shift, 64)]
            out += [cast(v * reciprocal, c.shift, c.rounding, c.overflow, c.width, c.signed) for v in e]
        return out

    expected = [reference(s) for s in x.tolist()]
    result = run_unit(unit, x, np.array(expected), tmp_path)
    assert result.passed, result.details
    assert result.latency_cycles == [unit.latency]

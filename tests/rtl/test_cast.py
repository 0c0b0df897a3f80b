"""``apply_cast`` against the exact integer reference, every input of a range: each rounding (the
constant added by the cast or before it) and overflow mode, narrow and wide values, signed and
unsigned results. Simulated with Amaranth's simulator (the casts are combinational)."""

from __future__ import annotations

import itertools

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from rtlflow.rtl.arith import Cast, Term, apply_cast, fit
from tests.rtl.harness import cast as reference

CASES = [
    (shift, rounding, overflow, width, is_signed, rounded)
    for shift, rounding, overflow, (width, is_signed), rounded in itertools.product(
        (-1, 0, 1, 2, 3, 5),
        ("TRN", "RND", "RND_CONV"),
        ("WRAP", "SAT", "SAT_SYM"),
        ((4, True), (3, False), (9, True)),
        (False, True),
    )
]


@pytest.mark.parametrize(("shift", "rounding", "overflow", "width", "is_signed", "rounded"), CASES)
def test_cast_equals_the_integer_reference(shift, rounding, overflow, width, is_signed, rounded):
    cast = Cast(shift, rounding, overflow, width, is_signed)
    low, high = -70, 90
    m = Module()
    x = Signal(signed(8))
    added = cast.rounding_constant if rounded else 0  # what a layer folds into its bias
    term = Term(fit(x + added, low + added, high + added), low + added, high + added)
    result, _ = apply_cast(term, cast, rounded=rounded)
    y = Signal(result.value.shape())
    m.d.comb += y.eq(result.value)
    expected = {v: reference(v, shift, rounding, overflow, width, is_signed) for v in range(low, high + 1)}
    got = {}

    async def bench(ctx):
        for v in expected:
            ctx.set(x, v)
            got[v] = ctx.get(y)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert got == expected
    assert result.low <= min(expected.values()) and max(expected.values()) <= result.high

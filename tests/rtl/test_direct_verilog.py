"""The direct Verilog writer (rtlflow.rtl.direct) under Verilator: a unit built from every
construct it prints (mixed-signedness arithmetic and comparisons, If/Elif/Else with a comb
default, a nested If over an earlier assignment, Switch with several and don't-care patterns,
Array indexing (a chain of conditions, and a tree on the index bits past 16 cases), bitwise operators and reductions, shifts by a value, pipeline registers with
and without reset), against Python's integer arithmetic; the fallback to Amaranth's path for
what it does not print; and the cache of Verilator's run-time library."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Array, Cat, Module, Signal, signed

from rtlflow.rtl.pipeline import Unit, start_terms
from rtlflow.rtl.verilog import convert
from tests.rtl.harness import UnitHarness, run_unit, signed_range

OUTPUTS = 15


class Constructs(Unit):
    """Four signed 8-bit inputs a, b, c, d; fifteen results (see ``reference``)."""

    def __init__(self, registers=()):
        super().__init__(input_shape=signed(8), input_count=4, output_shape=signed(20),
                         output_count=OUTPUTS, registers=registers)  # fmt: skip

    def build(self, m: Module, pipeline, inputs):
        a, b, c, d = (term.value for term in start_terms(pipeline, inputs))
        chosen = Signal(signed(10), init=5)  # the comb default where no branch assigns
        with m.If(a > 0):
            m.d.comb += chosen.eq(a)
        with m.Elif(b == c):
            m.d.comb += chosen.eq(-b)
        picked = Signal(signed(8))
        with m.Switch(c[0:2]):
            with m.Case(0):
                m.d.comb += picked.eq(a)
            with m.Case(1, 2):
                m.d.comb += picked.eq(b)
            with m.Default():
                m.d.comb += picked.eq(d)
        patterned = Signal(signed(10))
        with m.Switch(c[0:2]):
            with m.Case("1-"):
                m.d.comb += patterned.eq(a + b)
            with m.Default():
                m.d.comb += patterned.eq(a - b)
        nested = Signal(signed(8))  # assigned, then maybe again under two nested conditions
        m.d.comb += nested.eq(c)
        with m.If(a > b):
            with m.If(d[0]):
                m.d.comb += nested.eq(d)
        amount = d.as_unsigned()[0:3]
        outputs = [
            a * b,
            a - b.as_unsigned(),
            a < b.as_unsigned(),
            chosen,
            picked,
            Array([a, b, c, d])[d.as_unsigned()[0:2]],
            ~a ^ (b & c) | d,
            Cat(a.any(), b.all(), c.xor(), a == b),
            a.as_unsigned() << amount,
            a >> amount,
            patterned,
            -(a.as_unsigned()),
            nested,
            # choices among more than 16 (a tree on the index bits): 20 of 32 codes (0 past
            # the end), and all 32
            Array([a + k for k in range(20)])[c.as_unsigned()[0:5]],
            Array([b - 3 * k for k in range(32)])[d.as_unsigned()[3:8]],
        ]
        return pipeline.stage("constructs", [], outputs)


def reference(a: int, b: int, c: int, d: int) -> list[int]:
    bu = b & 0xFF
    chosen = a if a > 0 else -b if b == c else 5
    picked = (a, b, b, d)[c & 3]
    bits = int(a != 0) | int(bu == 0xFF) << 1 | (bin(c & 0xFF).count("1") & 1) << 2 | int(a == b) << 3
    return [
        a * b,
        a - bu,
        int(a < bu),
        chosen,
        picked,
        (a, b, c, d)[d & 3],
        (~a ^ (b & c)) | d,
        bits,
        (a & 0xFF) << (d & 7),
        a >> (d & 7),
        a + b if c & 2 else a - b,
        -(a & 0xFF),
        d if a > b and d & 1 else c,
        a + (c & 31) if (c & 31) < 20 else 0,
        b - 3 * ((d & 0xFF) >> 3),
    ]


@pytest.mark.parametrize("registers", [(), (0, 1)])
def test_every_construct_equals_integer_arithmetic(registers, tmp_path):
    unit = Constructs(registers)
    kind, text = convert(UnitHarness(unit), "unit_harness")
    assert kind == "verilog" and text.startswith("module unit_harness(")  # not through Yosys
    low, high = signed_range(8)
    x = np.random.default_rng(7).integers(low, high, size=(300, 4), endpoint=True)
    x[:4] = [[low, low, low, low], [high, high, high, high], [0, 0, 0, 0], [-1, 5, 5, 3]]
    expected = np.array([reference(*sample) for sample in x.tolist()])
    result = run_unit(unit, x, expected, tmp_path)
    assert result.passed, result.details
    assert result.latency_cycles == [len(registers)]


class DynamicSlice(Unit):
    """A part-select at a run-time offset: not printed directly."""

    def __init__(self):
        super().__init__(input_shape=signed(8), input_count=2, output_shape=signed(8),
                         output_count=1)  # fmt: skip

    def build(self, m: Module, pipeline, inputs):
        a, b = (term.value for term in start_terms(pipeline, inputs))
        return pipeline.stage("part", [], [a.bit_select(b.as_unsigned()[0:2], 4)])


def test_what_it_does_not_print_goes_through_amaranth():
    kind, text = convert(DynamicSlice(), "dynamic_slice")
    assert kind == "rtlil" and "module" in text


def test_verilators_run_time_library_is_compiled_once(tmp_path, monkeypatch):
    """The run-time library's objects (verilated*.o) and the precompiled header of Verilator's
    headers come from rtlflow's cache after the first build: the second build, in a new
    directory, copies them (byte for byte) and stores nothing; the design still passes."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RTLFLOW_CACHE", str(cache))
    # one C++ file per class, as a large design is built (a small one is one file, no header)
    monkeypatch.setenv("MAKEFLAGS", "VM_PARALLEL_BUILDS=1")
    unit = Constructs()
    low, high = signed_range(8)
    x = np.random.default_rng(3).integers(low, high, size=(20, 4), endpoint=True)
    expected = np.array([reference(*sample) for sample in x.tolist()])
    assert run_unit(unit, x, expected, tmp_path / "first").passed
    kept = [p for p in (cache / "verilator").iterdir() if p.suffix in (".o", ".gch")]
    stored = {path: path.stat().st_mtime_ns for path in kept}
    assert sum(p.suffix == ".o" for p in kept) >= 4  # verilated, _vpi, _threads, _dpi
    assert sum(p.suffix == ".gch" for p in kept) == 1  # the fast and slow files' header
    assert run_unit(unit, x, expected, tmp_path / "second").passed
    again = [p for p in (cache / "verilator").iterdir() if p.suffix in (".o", ".gch")]
    assert {path: path.stat().st_mtime_ns for path in again} == stored
    build = tmp_path / "second" / "sim_build"
    for made in (build / "verilated.o", *build.glob("*.gch")):
        assert any(made.read_bytes() == path.read_bytes() for path in stored)

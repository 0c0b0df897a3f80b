"""Run one rtl unit under Verilator with rtlflow's cocotb bench, against expected vectors.

The unit is wrapped so that it always has a clock (even when purely combinational) and, when
it takes one input every ii > 1 cycles, an ``x__ready`` that paces the driver. The expected
outputs come from each test's own exact integer arithmetic.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from amaranth.hdl import Cat, ClockSignal, Instance, Module, ResetSignal, Shape
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtlflow.rtl import primitives
from rtlflow.rtl.pipeline import Unit, vector
from rtlflow.rtl.top import accept_gate
from rtlflow.rtl.verilog import to_verilog
from rtlflow.numerics.fixed_point import raw_range
from rtlflow.sim.runner import SimulationResult, run_testbench
from rtlflow.sim.testbench import write_testbench


class UnitHarness(wiring.Component):
    """The unit with flat ports, a clock domain that always exists, and ii pacing."""

    def __init__(self, unit: Unit):
        self.unit = unit
        members = {
            "x_data": In(unit.input_shape.width * unit.input_count),
            "x_valid": In(1),
            "y_data": Out(unit.output_shape.width * unit.output_count),
            "y_valid": Out(1),
            "cycles": Out(16),
        }
        if unit.ii > 1:
            members["x_ready"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.unit = unit = self.unit
        take = self.x_valid if self.unit.ii == 1 else accept_gate(m, self.x_valid, self.x_ready, self.unit.ii)
        m.d.comb += [
            unit.x.payload.eq(self.x_data),
            unit.x.valid.eq(take),
            self.y_data.eq(unit.y.payload),
            self.y_valid.eq(unit.y.valid),
        ]
        m.d.sync += self.cycles.eq(self.cycles + 1)  # keeps a clock port on combinational units
        return m


class _StandsIn:
    """Shapes, counts, latency, ii and carry: those of ``self.unit``."""

    _UNIT_FIELDS = ("input_shape", "input_count", "output_shape", "output_count", "latency",
                    "ii", "carry")

    def __getattr__(self, name):
        if name in _StandsIn._UNIT_FIELDS:
            return getattr(self.unit, name)
        raise AttributeError(name)


class WrittenUnit(_StandsIn, wiring.Component):
    """A unit whose Verilog is written as text (``module``, e.g. ``adder_graph_verilog``):
    its signature, and an instance of that module in place of its elaboration."""

    def __init__(self, unit: Unit, module: str, text: str):
        self.unit, self.module, self.text = unit, module, text
        unit._MustUse__silence = True  # stands in for it, never elaborated
        super().__init__(unit.signature)

    def elaborate(self, platform) -> Module:
        m = Module()
        ports = {
            "i_x__payload": self.x.payload.as_value(),
            "i_x__valid": self.x.valid,
            "o_y__payload": self.y.payload.as_value(),
            "o_y__valid": self.y.valid,
        }
        if self.unit.latency > 0:
            ports |= {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
        m.submodules.written = Instance(self.module, **ports)
        return m


class PairedUnit(_StandsIn, wiring.Component):
    """A unit built by Amaranth beside its Verilog text (``WrittenUnit``) on the same input:
    the output holds the built unit's elements, then the written one's, valid when both are
    (one simulator build checks both)."""

    def __init__(self, unit: Unit, module: str, text: str):
        self.unit, self.module, self.text = unit, module, text
        self.written = WrittenUnit(unit, module, text)
        self.output_count = 2 * unit.output_count
        super().__init__({
            "x": In(unit.signature.members["x"].signature),
            "y": Out(vector(unit.output_shape, self.output_count)),
        })  # fmt: skip

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.built, m.submodules.written = self.unit, self.written
        for unit in (self.unit, self.written):
            m.d.comb += [unit.x.payload.eq(self.x.payload), unit.x.valid.eq(self.x.valid)]
        m.d.comb += [
            self.y.payload.as_value().eq(
                Cat(self.unit.y.payload.as_value(), self.written.y.payload.as_value())
            ),
            self.y.valid.eq(self.unit.y.valid & self.written.y.valid),
        ]
        return m


def _port(name: str, shape: Shape, count: int, ready: str | None) -> dict:
    return {
        "name": name,
        "shape": [count],
        "format": {"width": shape.width, "int": shape.width, "signed": shape.signed},
        "data": f"{name}_data",
        "valid": f"{name}_valid",
        "ready": ready,
        "beats": 1,
    }


def run_unit(
    unit: Unit, inputs: np.ndarray, expected: np.ndarray, directory: Path, gaps: float = 0.0
) -> SimulationResult:
    """Simulate ``unit`` on raw ``inputs`` (samples x elements); compare with ``expected``."""
    (directory / "rtl").mkdir(parents=True, exist_ok=True)
    (directory / "rtl" / "unit_harness.v").write_text(to_verilog(UnitHarness(unit), "unit_harness"))
    sources = ["rtl/unit_harness.v"]
    if isinstance(unit, WrittenUnit | PairedUnit):
        (directory / "rtl" / f"{unit.module}.v").write_text(unit.text)
        sources.append(f"rtl/{unit.module}.v")
    if getattr(unit, "carry", None):  # ternary adders: the library cell and its primitives
        (directory / "rtl" / "rtlflow_add3.v").write_text(primitives.TERNARY_ADDER_MODULE)
        (directory / "rtl" / "primitives.v").write_text(primitives.SIMULATION_MODELS)
        sources += ["rtl/rtlflow_add3.v", "rtl/primitives.v"]
    manifest = {
        "top": "unit_harness",
        "sources": sources,
        "clock": {"port": "clk"},
        "reset": {"port": "rst", "active": "high"},
        "inputs": [_port("x", unit.input_shape, unit.input_count, "x_ready" if unit.ii > 1 else None)],
        "outputs": [_port("y", unit.output_shape, unit.output_count, None)],
        "latency_cycles": unit.latency,
        "initiation_interval": unit.ii,
    }
    (directory / "report.json").write_text(json.dumps(manifest))
    write_testbench(directory, [np.asarray(inputs)], [np.asarray(expected)])
    return run_testbench(directory, gaps=gaps)


def signed_range(width: int) -> tuple[int, int]:
    return raw_range(width, signed=True)


def cast(value: int, shift: int, rounding: str, overflow: str, width: int, signed: bool) -> int:
    """Exact integer reference of a cast (written from the ap_fixed definitions)."""
    if shift > 0:
        kept, rest = value >> shift, value & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if rounding == "RND":
            value = (value + half) >> shift  # Python's >> floors, as truncation does
        elif rounding == "RND_CONV":  # nearest, ties to the even result
            value = kept + (rest > half or (rest == half and kept % 2 == 1))
        else:
            value = kept
    else:
        value <<= -shift
    low, high = raw_range(width, signed)
    if overflow == "SAT_SYM" and signed:
        low += 1
    if overflow in ("SAT", "SAT_SYM"):
        return min(max(value, low), high)
    value &= (1 << width) - 1
    return value - (1 << width) if signed and value > high else value

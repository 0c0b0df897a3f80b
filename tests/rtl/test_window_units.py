"""ConvUnit, PoolUnit, AddUnit and RouteUnit under Verilator, against exact integer arithmetic.

The expected outputs are computed here from the op definitions (ONNX Conv / MaxPool /
AveragePool / Add / Transpose / Pad / Concat) on zero-padded numpy arrays, with the cast written
from the ap_fixed definitions (``tests.rtl.harness.cast``). Only the output size of a window is
taken from ``rtlflow.numerics.windows``; which input pixel feeds which tap is recomputed here.

Every unit is simulated with at least two register placements (none, every boundary, every
other boundary) and the latency it reports must be the number of registered boundaries and the
latency measured. Units that read several tensors of different widths get one data port per
tensor (``run_groups``), as the harness's single port assumes one element width.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Cat, Module, Shape, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtlflow.rtl.add import AddUnit
from rtlflow.rtl.arith import Cast
from rtlflow.rtl.conv import ConvUnit
from rtlflow.rtl.pipeline import Unit
from rtlflow.rtl.pool import PoolUnit
from rtlflow.rtl.route import RouteUnit
from rtlflow.rtl.top import accept_gate
from rtlflow.rtl.verilog import to_verilog
from rtlflow.numerics.fixed_point import raw_range
from rtlflow.sim.runner import SimulationResult, run_testbench
from rtlflow.sim.testbench import write_testbench
from rtlflow.numerics.windows import Window
from tests.rtl.harness import cast, run_unit

SAMPLES = 150

# ---- helpers -------------------------------------------------------------------------------------


def placed(make, placement: str) -> tuple[Unit, tuple[int, ...]]:
    """The unit ``make(registers)`` with registers at no boundary ("none"), at every boundary
    ("all") or at every other one starting with the input ("alternate")."""
    probe = make(())
    probe._MustUse__silence = True  # built only to read its plan
    boundaries = probe.plan.boundaries
    registers = {
        "none": (),
        "all": tuple(range(boundaries)),
        "alternate": tuple(range(0, boundaries, 2)),
    }[placement]
    if placement == "none":
        return probe, registers
    return make(registers), registers


def apply_casts(values: np.ndarray, casts: tuple[Cast, ...]) -> np.ndarray:
    """The casts, in order, on every element (Python integers, exact)."""

    def one(value: int) -> int:
        for c in casts:
            value = cast(value, c.shift, c.rounding, c.overflow, c.width, c.signed)
        return value

    flat = [one(int(v)) for v in np.asarray(values).reshape(-1).tolist()]
    return np.array(flat, dtype=np.int64).reshape(np.shape(values))


def random_raw(rng: np.random.Generator, shape: Shape, size) -> np.ndarray:
    """Uniform raw values over the whole range of ``shape``, extremes in the first samples."""
    low, high = raw_range(shape.width, shape.signed)
    x = rng.integers(low, high, size=size, endpoint=True)
    x[0], x[1] = low, high
    x[2] = rng.choice([low, high], size=size[1:])
    return x


def random_weights(rng: np.random.Generator, size) -> np.ndarray:
    """Zeros, ±powers of two, two-digit CSD constants and arbitrary values."""
    choices = [0, 0, 1, -1, 4, -32, 3, -6, 96, 17, -255]
    weights = rng.choice(choices, size=size)
    arbitrary = rng.random(size) < 0.25
    weights[arbitrary] = rng.integers(-700, 700, size=int(arbitrary.sum()))
    return weights


def output_size(size: int, kernel: int, stride: int, begin: int, end: int, dilation: int) -> int:
    return (size + begin + end - dilation * (kernel - 1) - 1) // stride + 1


def window_slices(spatial, kernel, strides, pads, dilations):
    """Per kernel tap: (tap, index tuple into the padded spatial axes for every output position)."""
    rank = len(kernel)
    out = tuple(
        output_size(spatial[a], kernel[a], strides[a], pads[a], pads[rank + a], dilations[a])
        for a in range(rank)
    )
    for tap in itertools.product(*(range(k) for k in kernel)):
        starts = [tap[a] * dilations[a] for a in range(rank)]
        yield tap, tuple(
            slice(starts[a], starts[a] + strides[a] * (out[a] - 1) + 1, strides[a])
            for a in range(rank)
        ), out


def pad_spatial(x: np.ndarray, pads, fill) -> np.ndarray:
    """``x`` [N, C, *spatial] padded on the spatial axes with ``fill``."""
    rank = len(pads) // 2
    widths = [(0, 0), (0, 0)] + [(pads[a], pads[rank + a]) for a in range(rank)]
    return np.pad(x, widths, constant_values=fill)


class GroupHarness(wiring.Component):
    """A unit whose input is several tensors: one data port per tensor, one valid, a clock."""

    def __init__(self, unit: Unit):
        self.unit = unit
        groups = enumerate(unit.input_groups)
        members = {f"x{g}_data": In(shape.width * count) for g, (shape, count) in groups}
        members |= {
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
        ports = [getattr(self, f"x{g}_data") for g in range(len(unit.input_groups))]
        take = self.x_valid
        if unit.ii > 1:
            take = accept_gate(m, self.x_valid, self.x_ready, unit.ii)
        m.d.comb += [
            unit.x.payload.eq(Cat(*ports)),
            unit.x.valid.eq(take),
            self.y_data.eq(unit.y.payload),
            self.y_valid.eq(unit.y.valid),
        ]
        m.d.sync += self.cycles.eq(self.cycles + 1)  # a clock port even when combinational
        return m


def _port(name: str, shape: Shape, count: int, valid: str, ready: str | None = None) -> dict:
    return {
        "name": name,
        "shape": [count],
        "format": {"width": shape.width, "int": shape.width, "signed": shape.signed},
        "data": f"{name}_data",
        "valid": valid,
        "ready": ready,
        "beats": 1,
    }


def run_groups(
    unit: Unit, inputs: list[np.ndarray], expected: np.ndarray, directory: Path, gaps: float = 0.0
) -> SimulationResult:
    """Simulate ``unit`` on raw ``inputs`` (one array per input group, samples x elements)."""
    ready = "x_ready" if unit.ii > 1 else None
    (directory / "rtl").mkdir(parents=True, exist_ok=True)
    verilog = to_verilog(GroupHarness(unit), "unit_harness")
    (directory / "rtl" / "unit_harness.v").write_text(verilog)
    manifest = {
        "top": "unit_harness",
        "sources": ["rtl/unit_harness.v"],
        "clock": {"port": "clk"},
        "reset": {"port": "rst", "active": "high"},
        "inputs": [
            _port(f"x{g}", shape, count, "x_valid", ready)
            for g, (shape, count) in enumerate(unit.input_groups)
        ],
        "outputs": [_port("y", unit.output_shape, unit.output_count, "y_valid")],
        "latency_cycles": unit.latency,
        "initiation_interval": unit.ii,
    }
    (directory / "report.json").write_text(json.dumps(manifest))
    write_testbench(directory, [np.asarray(x) for x in inputs], [np.asarray(expected)])
    return run_testbench(directory, gaps=gaps)


def check(result: SimulationResult, unit: Unit, registers: tuple[int, ...]) -> None:
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"][:3]
    assert result.passed, result.details
    assert unit.latency == len(registers)  # no forced boundaries in these units
    assert result.latency_cycles == [unit.latency]
    assert result.initiation_interval == 1


# ---- ConvUnit ------------------------------------------------------------------------------------


def conv_reference(x, weights, bias, spatial, kernel, strides, pads, dilations, group, casts):
    """ONNX Conv on raw integers: x [N, C_in * pixels], weights [C_out, C_in / group, *kernel]."""
    c_out, per_in = weights.shape[:2]
    channels = per_in * group
    padded = pad_spatial(x.reshape(len(x), channels, *spatial), pads, 0)
    total = None
    for co in range(c_out):
        first = (co // (c_out // group)) * per_in
        acc = 0
        for tap, index, out in window_slices(spatial, kernel, strides, pads, dilations):
            for ci in range(per_in):
                acc = acc + weights[(co, ci, *tap)] * padded[(slice(None), first + ci, *index)]
        acc = acc + bias[co]
        total = acc[:, None] if total is None else np.concatenate([total, acc[:, None]], axis=1)
    return apply_casts(total.reshape(len(x), -1), casts)


CONV_CASES = {
    # name: (C_in, spatial, C_out, kernel, strides, pads, dilations, group, input shape, casts)
    "2d-pad-stride2": (
        2, (5, 6), 2, (2, 3), (2, 2), (1, 2, 1, 0), (1, 1), 1, signed(8),
        (Cast(7, "RND", "SAT", 10, True),),
    ),
    "1d-dilation": (
        2, (10,), 2, (3,), (1,), (2, 1), (2,), 1, signed(9),
        (Cast(7, "TRN", "WRAP", 11, True), Cast(1, "RND", "SAT", 8, False)),
    ),
    "grouped": (
        4, (4, 4), 4, (2, 2), (1, 2), (0, 1, 0, 0), (1, 1), 2, unsigned(6),
        (Cast(5, "RND", "WRAP", 9, True),),
    ),
    # depthwise with a channel multiplier of 2: output channels 0, 1 read channel 0, 2, 3 read 1
    "depthwise": (
        2, (3, 4), 4, (2, 2), (1, 1), (1, 1, 0, 0), (1, 1), 2, signed(7),
        (Cast(9, "TRN", "SAT", 8, True),),
    ),
}


@pytest.mark.parametrize(
    ("case", "placement"),
    [
        ("2d-pad-stride2", "none"),
        ("2d-pad-stride2", "all"),
        ("1d-dilation", "alternate"),
        ("grouped", "all"),
        ("depthwise", "none"),
    ],
)
def test_conv_unit(case, placement, tmp_path):
    c_in, spatial, c_out, kernel, strides, pads, dilations, group, shape, casts = CONV_CASES[case]
    rng = np.random.default_rng(len(case) * 7 + len(placement))
    weights = random_weights(rng, (c_out, c_in // group, *kernel))
    bias = rng.integers(-3000, 3000, size=c_out)
    window = Window.create(spatial, kernel, strides, pads, dilations)
    nested = tuple(
        tuple(tuple(int(w) for w in weights[o, i].reshape(-1)) for i in range(c_in // group))
        for o in range(c_out)
    )

    def make(registers):
        return ConvUnit(
            weights=nested, bias=tuple(int(b) for b in bias), window=window, channels=c_in,
            group=group, input_shape=shape, casts=casts, registers=registers,
        )

    unit, registers = placed(make, placement)
    x = random_raw(rng, shape, (SAMPLES, c_in * math.prod(spatial)))
    expected = conv_reference(
        x, weights, bias, spatial, kernel, strides, pads, dilations, group, casts
    )
    assert expected.shape == (SAMPLES, c_out * window.positions)
    result = run_unit(unit, x, expected, tmp_path, gaps=0.3 if placement != "none" else 0.0)
    check(result, unit, registers)


# ---- PoolUnit ------------------------------------------------------------------------------------


POOL_CASES = {
    # name: (kind, C, spatial, kernel, strides, pads, input shape, scale bits, casts)
    "max-padded": ("max", 2, (5, 5), (3, 3), (2, 2), (1, 1, 1, 1), signed(8), 0,
                   (Cast(1, "RND", "SAT", 7, True),)),
    "average-3x3": ("average", 2, (4, 5), (3, 3), (1, 1), (1, 1, 1, 1), unsigned(8), 10,
                    (Cast(10, "RND", "SAT", 8, False),)),
}


@pytest.mark.parametrize(
    ("case", "placement"),
    [
        ("max-padded", "none"),
        ("max-padded", "all"),
        ("average-3x3", "all"),
        ("average-3x3", "alternate"),
    ],
)
def test_pool_unit(case, placement, tmp_path):
    kind, channels, spatial, kernel, strides, pads, shape, bits, casts = POOL_CASES[case]
    rng = np.random.default_rng(len(case) + 3 * len(placement))
    window = Window.create(spatial, kernel, strides, pads)
    x = random_raw(rng, shape, (SAMPLES, channels * math.prod(spatial)))
    if shape.signed:  # windows that are negative everywhere: padding must not count as 0
        x[3:8] = rng.integers(raw_range(shape.width, True)[0], 0, size=x[3:8].shape)
    planes = x.reshape(SAMPLES, channels, *spatial)

    if kind == "max":
        sentinel = -(1 << 40)
        padded = pad_spatial(planes, pads, sentinel)
        result_values = None
        for _, index, out in window_slices(spatial, kernel, strides, pads, (1,) * len(kernel)):
            taps = padded[(slice(None), slice(None), *index)]
            result_values = taps if result_values is None else np.maximum(result_values, taps)
        assert (result_values > sentinel).all()
        scales = (0,) * window.positions
        raw = result_values
    else:
        padded = pad_spatial(planes, pads, 0)
        inside = pad_spatial(np.ones((1, 1, *spatial), dtype=np.int64), pads, 0)
        sums, counts = 0, 0
        for _, index, out in window_slices(spatial, kernel, strides, pads, (1,) * len(kernel)):
            sums = sums + padded[(slice(None), slice(None), *index)]
            counts = counts + inside[(0, 0, *index)]
        counts = counts.reshape(-1)
        assert len(set(counts.tolist())) > 1 and 9 in counts  # per-position divisors, not 2^k
        scales = tuple(int(round((1 << bits) / c)) for c in counts)
        raw = sums.reshape(SAMPLES, channels, -1) * np.array(scales)
    expected = apply_casts(raw.reshape(SAMPLES, -1), casts)

    def make(registers):
        return PoolUnit(
            kind=kind, window=window, channels=channels, scales=scales, input_shape=shape,
            casts=casts, registers=registers,
        )

    unit, registers = placed(make, placement)
    assert expected.shape == (SAMPLES, channels * window.positions)
    result = run_unit(unit, x, expected, tmp_path, gaps=0.3 if placement == "all" else 0.0)
    check(result, unit, registers)


# ---- AddUnit -------------------------------------------------------------------------------------


ADD_CASES = {
    # name: (shapes, shifts, casts)
    "signed-unsigned": ((signed(9), unsigned(5)), (0, 3), (Cast(1, "RND", "SAT", 8, True),)),
    "to-unsigned": ((signed(6), signed(10)), (4, 0), (Cast(2, "TRN", "SAT", 7, False),)),
}


@pytest.mark.parametrize(
    ("case", "placement"),
    [("signed-unsigned", "none"), ("signed-unsigned", "all"), ("to-unsigned", "alternate")],
)
def test_add_unit(case, placement, tmp_path):
    shapes, shifts, casts = ADD_CASES[case]
    count = 6
    rng = np.random.default_rng(len(case) + len(placement))
    a = random_raw(rng, shapes[0], (SAMPLES, count))
    b = random_raw(rng, shapes[1], (SAMPLES, count))
    expected = apply_casts((a << shifts[0]) + (b << shifts[1]), casts)

    def make(registers):
        return AddUnit(shapes=shapes, shifts=shifts, count=count, casts=casts, registers=registers)

    unit, registers = placed(make, placement)
    result = run_groups(unit, [a, b], expected, tmp_path, gaps=0.3 if placement != "none" else 0.0)
    check(result, unit, registers)


# ---- RouteUnit -----------------------------------------------------------------------------------


def test_route_transpose(tmp_path):
    shape, dims, permutation = signed(7), (2, 3, 4), (2, 0, 1)
    rng = np.random.default_rng(21)
    sources = np.transpose(np.arange(math.prod(dims)).reshape(dims), permutation).reshape(-1)

    def make(registers):
        return RouteUnit(
            input_groups=((shape, math.prod(dims)),), sources=tuple(int(s) for s in sources),
            casts=(None,), output_shape=shape, registers=registers,
        )

    unit, registers = placed(make, "none")
    x = random_raw(rng, shape, (SAMPLES, math.prod(dims)))
    expected = np.transpose(x.reshape(SAMPLES, *dims), (0, *(p + 1 for p in permutation)))
    result = run_unit(unit, x, expected.reshape(SAMPLES, -1), tmp_path)
    check(result, unit, registers)


def test_route_pad(tmp_path):
    shape, dims, pads = unsigned(5), (2, 3, 3), (0, 1, 2, 1, 0, 1)
    rng = np.random.default_rng(22)
    widths = [(pads[a], pads[3 + a]) for a in range(3)]
    sources = np.pad(np.arange(math.prod(dims)).reshape(dims), widths, constant_values=-1)

    def make(registers):
        return RouteUnit(
            input_groups=((shape, math.prod(dims)),),
            sources=tuple(int(s) for s in sources.reshape(-1)),
            casts=(None,), output_shape=shape, registers=registers,
        )

    unit, registers = placed(make, "all")
    x = random_raw(rng, shape, (SAMPLES, math.prod(dims)))
    expected = np.pad(x.reshape(SAMPLES, *dims), [(0, 0), *widths], constant_values=0)
    result = run_unit(unit, x, expected.reshape(SAMPLES, -1), tmp_path, gaps=0.3)
    check(result, unit, registers)


# Concat along axis 1 of [2, 3], [2, 2] and [2, 1] into [2, 6] of signed(6) elements: the first
# tensor is narrowed (RND, SAT), the second is already in the output format, the third gains a
# fractional bit (unsigned into signed, by a left shift that always fits).
CONCAT_INPUTS = (
    ((signed(8), (2, 3)), Cast(2, "RND", "SAT", 6, True)),
    ((signed(6), (2, 2)), None),
    ((unsigned(4), (2, 1)), Cast(-1, "TRN", "WRAP", 6, True)),
)
# The same with a wrapping cast on the third tensor (its left shift overflows 6 bits).
CONCAT_WRAP = CONCAT_INPUTS[:2] + (((unsigned(4), (2, 1)), Cast(-2, "TRN", "WRAP", 6, True)),)


@pytest.mark.parametrize(
    ("inputs", "placement"),
    [(CONCAT_INPUTS, "none"), (CONCAT_INPUTS, "all"), (CONCAT_WRAP, "none")],
    ids=["cast-fits-none", "cast-fits-all", "cast-wraps-none"],
)
def test_route_concat(inputs, placement, tmp_path):
    output_shape = signed(6)
    rng = np.random.default_rng(23 + len(placement))
    numbered, offset = [], 0
    for (_, dims), _ in inputs:
        numbered.append(np.arange(offset, offset + math.prod(dims)).reshape(dims))
        offset += math.prod(dims)
    sources = np.concatenate(numbered, axis=1).reshape(-1)

    def make(registers):
        return RouteUnit(
            input_groups=tuple((shape, math.prod(dims)) for (shape, dims), _ in inputs),
            sources=tuple(int(s) for s in sources),
            casts=tuple(c for _, c in inputs),
            output_shape=output_shape,
            registers=registers,
        )

    unit, registers = placed(make, placement)
    arrays = [random_raw(rng, shape, (SAMPLES, math.prod(dims))) for (shape, dims), _ in inputs]
    converted = [
        (apply_casts(x, (c,)) if c is not None else x).reshape(SAMPLES, *dims)
        for x, ((_, dims), c) in zip(arrays, inputs, strict=True)
    ]
    expected = np.concatenate(converted, axis=2).reshape(SAMPLES, -1)
    result = run_groups(unit, arrays, expected, tmp_path, gaps=0.3 if placement == "all" else 0.0)
    check(result, unit, registers)

"""GatherUnit, ScatterUnit and MatMulUnit under Verilator, against exact integer arithmetic.

The choices (which data or update element an output may take, under which index values) and the
matmul pairs are built here from the ONNX definitions of Gather, GatherND, GatherElements,
ScatterND, ScatterElements and MatMul. The expected outputs are computed independently, by
looping over the index values of every sample (negative values count from the end of the axis in
a signed index format; values outside the axis read 0 in a gather and are dropped by a scatter),
with numpy's integer matmul, and with the cast written from the ap_fixed definitions
(``tests.rtl.harness.cast``). Nothing expected is computed by the code under test.

Every unit is simulated with at least two register placements (none, every boundary, every
other boundary); the latency it reports must be the number of registered boundaries and the
latency measured. Each operand is its own data port (``run_groups``), as operands differ in width.
Every Verilator build takes ~15 s, so a few cases per unit run by default and the remaining
placements and cases only with ``--run-slow``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from amaranth.hdl import Shape, signed, unsigned

from rtlflow.rtl.arith import Cast
from rtlflow.rtl.index import GatherUnit, ScatterUnit
from rtlflow.rtl.matmul import MatMulUnit
from rtlflow.numerics.fixed_point import raw_range
from tests.rtl.test_window_units import (
    SAMPLES,
    apply_casts,
    check,
    placed,
    random_raw,
    run_groups,
)

# ---- index helpers -------------------------------------------------------------------------------


def codes(position: int, size: int, shape: Shape) -> tuple[int, ...]:
    """Index values of format ``shape`` selecting ``position`` on an axis of ``size`` (ONNX:
    ``position`` itself, and ``position - size`` when the format is signed)."""
    low, high = raw_range(shape.width, shape.signed)
    return tuple(v for v in (position, position - size) if low <= v <= high)


def resolve(value: int, size: int) -> int | None:
    """ONNX index normalisation written out: the axis position of ``value``, or None outside."""
    value = int(value)
    if value < 0:
        value += size
    return value if 0 <= value < size else None


def random_indices(rng: np.random.Generator, shape: Shape, size) -> np.ndarray:
    """Index values over the whole range of ``shape`` (so some are out of range), with the first
    samples all at one extreme (every index equal: many repeated targets)."""
    return random_raw(rng, shape, size)


def assert_covers(idx: np.ndarray, size: int, shape: Shape) -> None:
    """The index samples hold values outside an axis of ``size`` (where the format has such
    values) and, in a signed format, negative values that count from its end."""
    values = [int(v) for v in np.asarray(idx).reshape(-1)]
    low, high = raw_range(shape.width, shape.signed)
    if any(resolve(v, size) is None for v in range(low, high + 1)):
        assert any(resolve(v, size) is None for v in values)
    if shape.signed:
        assert any(v < 0 and resolve(v, size) is not None for v in values)


def gaps_for(placement: str) -> float:
    return 0.0 if placement == "none" else 0.3


def slow(*values):
    """A parameter set run only with --run-slow (every Verilator build takes ~15 s)."""
    return pytest.param(*values, marks=pytest.mark.slow)


# ---- GatherUnit ----------------------------------------------------------------------------------


def gather_axis0(n: int, f: int, e: int, index_shape: Shape):
    """Gather axis 0 of x [n, f] by idx [e]: per output (e, f) the choice of every row."""
    return tuple(
        tuple((row * f + col, ((i, codes(row, n, index_shape)),)) for row in range(n))
        for i in range(e)
        for col in range(f)
    )


def expect_gather_axis0(x, idx, n, f):
    out = np.zeros((len(x), idx.shape[1], f), dtype=np.int64)
    table = x.reshape(len(x), n, f)
    for s in range(len(x)):
        for i, value in enumerate(idx[s]):
            row = resolve(value, n)
            if row is not None:
                out[s, i] = table[s, row]
    return out.reshape(len(x), -1)


def gather_nd(dims: tuple[int, int, int], e: int, index_shape: Shape):
    """GatherND of x [a, b, f] by idx [e, 2]: output (e, f) = x[idx[e, 0], idx[e, 1], f]; each
    choice has two conditions (both coordinates)."""
    a, b, f = dims
    return tuple(
        tuple(
            (
                (r * b + c) * f + col,
                ((2 * i, codes(r, a, index_shape)), (2 * i + 1, codes(c, b, index_shape))),
            )
            for r in range(a)
            for c in range(b)
        )
        for i in range(e)
        for col in range(f)
    )


def expect_gather_nd(x, idx, dims, e):
    a, b, f = dims
    out = np.zeros((len(x), e, f), dtype=np.int64)
    table = x.reshape(len(x), a, b, f)
    for s in range(len(x)):
        for i in range(e):
            r, c = resolve(idx[s, 2 * i], a), resolve(idx[s, 2 * i + 1], b)
            if r is not None and c is not None:
                out[s, i] = table[s, r, c]
    return out.reshape(len(x), -1)


def gather_elements_axis1(rows: int, cols: int, j: int, index_shape: Shape):
    """GatherElements axis 1 of x [rows, cols] by idx [rows, j]: y[r, k] = x[r, idx[r, k]]."""
    return tuple(
        tuple((r * cols + c, ((r * j + k, codes(c, cols, index_shape)),)) for c in range(cols))
        for r in range(rows)
        for k in range(j)
    )


def expect_gather_elements_axis1(x, idx, rows, cols, j):
    out = np.zeros((len(x), rows, j), dtype=np.int64)
    table = x.reshape(len(x), rows, cols)
    for s in range(len(x)):
        for r in range(rows):
            for k in range(j):
                c = resolve(idx[s, r * j + k], cols)
                if c is not None:
                    out[s, r, k] = table[s, r, c]
    return out.reshape(len(x), -1)


GATHER_CASES = {
    # name: (kind, geometry, data shape, index shape)
    # 5 rows, 3-bit unsigned indices: codes 5..7 read 0
    "axis0-unsigned": ("axis0", (5, 3, 6), signed(7), unsigned(3)),
    # 5 rows, 4-bit signed indices: -5..-1 count from the end, -8..-6 and 5..7 read 0
    "axis0-signed": ("axis0", (5, 2, 7), unsigned(6), signed(4)),
    # [3, 2, 2] table, 4 coordinate pairs of 2-bit indices (row 3, column 2, 3 out of range)
    "nd-2coords": ("nd", ((3, 2, 2), 4), signed(5), unsigned(2)),
    # rows 3 x columns 3, 4 picks per row, 3-bit signed (-4 and 3 out of range)
    "elements-axis1": ("elements", (3, 3, 4), signed(6), signed(3)),
}


def gather_geometry(kind, geometry, index_shape):
    """(choices, data count, index count, size of the first indexed axis, reference function
    of (x, idx)) of a gather case."""
    if kind == "axis0":
        n, f, e = geometry
        return (
            gather_axis0(n, f, e, index_shape), n * f, e, n,
            lambda x, idx: expect_gather_axis0(x, idx, n, f),
        )
    if kind == "nd":
        dims, e = geometry
        return (
            gather_nd(dims, e, index_shape), math.prod(dims), 2 * e, dims[0],
            lambda x, idx: expect_gather_nd(x, idx, dims, e),
        )
    rows, cols, j = geometry
    return (
        gather_elements_axis1(rows, cols, j, index_shape), rows * cols, rows * j, cols,
        lambda x, idx: expect_gather_elements_axis1(x, idx, rows, cols, j),
    )


@pytest.mark.parametrize(
    ("case", "placement"),
    [
        ("axis0-unsigned", "none"),
        ("axis0-signed", "all"),
        ("nd-2coords", "alternate"),
        slow("axis0-unsigned", "all"),
        slow("axis0-signed", "none"),
        slow("nd-2coords", "none"),
        slow("elements-axis1", "all"),
        slow("elements-axis1", "none"),
    ],
)
def test_gather_unit(case, placement, tmp_path):
    kind, geometry, data_shape, index_shape = GATHER_CASES[case]
    rng = np.random.default_rng(100 + len(case) * 3 + len(placement))
    choices, data_count, index_count, size, reference = gather_geometry(
        kind, geometry, index_shape
    )
    x = random_raw(rng, data_shape, (SAMPLES, data_count))
    idx = random_indices(rng, index_shape, (SAMPLES, index_count))
    assert_covers(idx, size, index_shape)
    expected = reference(x, idx)
    assert (expected == 0).any() and (expected != 0).any()

    def make(registers):
        return GatherUnit(
            data_shape=data_shape, data_count=data_count, index_shape=index_shape,
            index_count=index_count, choices=choices, registers=registers,
        )

    unit, registers = placed(make, placement)
    assert unit.output_count == expected.shape[1]
    result = run_groups(unit, [x, idx], expected, tmp_path, gaps=gaps_for(placement))
    check(result, unit, registers)


# ---- ScatterUnit ---------------------------------------------------------------------------------


def scatter_nd_rows(n: int, f: int, e: int, index_shape: Shape):
    """ScatterND of updates [e, f] into data [n, f] by idx [e, 1]: per target (row, col) every
    update row that may land there, in update order."""
    return tuple(
        tuple((i * f + col, ((i, codes(row, n, index_shape)),)) for i in range(e))
        for row in range(n)
        for col in range(f)
    )


def scatter_nd_2coords(dims: tuple[int, int, int], e: int, index_shape: Shape):
    """ScatterND of updates [e, f] into data [a, b, f] by idx [e, 2] (two conditions each)."""
    a, b, f = dims
    return tuple(
        tuple(
            (
                i * f + col,
                ((2 * i, codes(r, a, index_shape)), (2 * i + 1, codes(c, b, index_shape))),
            )
            for i in range(e)
        )
        for r in range(a)
        for c in range(b)
        for col in range(f)
    )


def scatter_elements_axis0(n: int, f: int, e: int, index_shape: Shape):
    """ScatterElements axis 0 of updates [e, f] into data [n, f] by idx [e, f]:
    y[idx[i, col], col] <- updates[i, col]."""
    return tuple(
        tuple((i * f + col, ((i * f + col, codes(row, n, index_shape)),)) for i in range(e))
        for row in range(n)
        for col in range(f)
    )


def targets(kind: str, geometry, idx_row) -> list[int | None]:
    """Per update element (flat), the flat output it lands on, or None (dropped)."""
    result = []
    if kind == "nd-rows":
        n, f, e = geometry
        for i in range(e):
            row = resolve(idx_row[i], n)
            result += [None if row is None else row * f + col for col in range(f)]
    elif kind == "nd-2coords":
        (a, b, f), e = geometry
        for i in range(e):
            r, c = resolve(idx_row[2 * i], a), resolve(idx_row[2 * i + 1], b)
            dropped = r is None or c is None
            result += [None if dropped else (r * b + c) * f + col for col in range(f)]
    else:  # elements-axis0
        n, f, e = geometry
        for i in range(e):
            for col in range(f):
                row = resolve(idx_row[i * f + col], n)
                result.append(None if row is None else row * f + col)
    return result


def expect_scatter(kind, geometry, idx, updates, bases, reduction, shift):
    """Per sample: start from the (aligned) bases, then visit the updates in order: add them,
    or overwrite (so the last one wins); out-of-range updates are dropped."""
    out = np.array(bases, dtype=object).copy()
    for s in range(len(idx)):
        row = [int(v) for v in out[s]]
        for u, t in enumerate(targets(kind, geometry, idx[s])):
            if t is None:
                continue
            value = int(updates[s, u]) << shift
            row[t] = row[t] + value if reduction == "add" else value
        out[s] = row
    return out.astype(np.int64)


SCATTER_CASES = {
    # name: (kind, geometry, reduction, index shape, update shape, data shape, or the range
    #        [low, high) of a constant initial, shifts, casts)
    # 8 edges onto 4 nodes of 3 features, 3-bit unsigned indices: 4..7 are dropped
    "add-nd-data": (
        "nd-rows", (4, 3, 8), "add", unsigned(3), signed(7), signed(6), (1, 3),
        (Cast(3, "RND", "SAT", 8, True),),
    ),
    # the same geometry onto a constant initial, signed indices (-4..-1 from the end)
    "add-nd-initial": (
        "nd-rows", (4, 2, 7), "add", signed(4), signed(6), (-300, 300), (2, 0),
        (Cast(2, "RND_CONV", "SAT_SYM", 7, True),),
    ),
    # replace with duplicates (last wins), two coordinates, unsigned data, signed updates
    "none-nd-2coords-data": (
        "nd-2coords", ((2, 3, 2), 5), "none", unsigned(2), signed(6), unsigned(5), (0, 1),
        (Cast(1, "TRN", "WRAP", 6, True),),
    ),
    # ScatterElements axis 0, replace, onto a non-negative constant initial, signed indices
    "none-elements-initial": (
        "elements-axis0", (3, 2, 4), "none", signed(3), unsigned(5), (0, 300), (1, 0),
        (Cast(0, "TRN", "SAT", 6, False),),
    ),
    # replace onto a constant initial that is negative for most outputs (see the xfail below)
    "none-negative-initial": (
        "nd-rows", (4, 1, 3), "none", unsigned(2), signed(5), (-60, 20), (0, 0),
        (Cast(0, "TRN", "SAT", 8, True),),
    ),
    # ScatterElements axis 0, add onto run-time data, two casts
    "add-elements-data": (
        "elements-axis0", (3, 3, 5), "add", unsigned(2), unsigned(4), signed(5), (0, 2),
        (Cast(1, "RND", "WRAP", 9, True), Cast(1, "TRN", "SAT", 6, True)),
    ),
}


def scatter_geometry(kind, geometry, index_shape):
    """(choices, index count, update count, output count, size of the first indexed axis) of a
    scatter case."""
    if kind == "nd-rows":
        n, f, e = geometry
        return scatter_nd_rows(n, f, e, index_shape), e, e * f, n * f, n
    if kind == "nd-2coords":
        dims, e = geometry
        choices = scatter_nd_2coords(dims, e, index_shape)
        return choices, 2 * e, e * dims[2], math.prod(dims), dims[0]
    n, f, e = geometry
    return scatter_elements_axis0(n, f, e, index_shape), e * f, e * f, n * f, n


@pytest.mark.parametrize(
    ("case", "placement"),
    [
        ("add-nd-data", "all"),
        ("add-nd-initial", "none"),
        ("none-nd-2coords-data", "alternate"),
        ("none-elements-initial", "all"),
        ("none-negative-initial", "none"),
        slow("add-nd-data", "none"),
        slow("add-nd-data", "alternate"),
        slow("add-nd-initial", "all"),
        slow("none-nd-2coords-data", "none"),
        slow("none-nd-2coords-data", "all"),
        slow("add-elements-data", "all"),
        slow("add-elements-data", "none"),
        slow("none-elements-initial", "none"),
        slow("none-negative-initial", "all"),
    ],
)
def test_scatter_unit(case, placement, tmp_path):
    kind, geometry, reduction, index_shape, update_shape, base, shifts, casts = SCATTER_CASES[case]
    rng = np.random.default_rng(200 + len(case) * 5 + len(placement))
    choices, index_count, update_count, output_count, size = scatter_geometry(
        kind, geometry, index_shape
    )
    idx = random_indices(rng, index_shape, (SAMPLES, index_count))
    assert_covers(idx, size, index_shape)
    updates = random_raw(rng, update_shape, (SAMPLES, update_count))
    if isinstance(base, Shape):  # a run-time data operand
        data_shape, data_count = base, output_count
        data = random_raw(rng, data_shape, (SAMPLES, output_count))
        bases = data.astype(object) * (1 << shifts[1])
        initial = ()
    else:  # a constant initial (already aligned), drawn from the range ``base``
        data_shape, data_count = update_shape, 0
        initial = tuple(int(v) for v in rng.integers(*base, size=output_count))
        initial = (0,) + initial[1:]  # one output with no constant at all
        bases = np.array([initial] * SAMPLES, dtype=object)
    exact = expect_scatter(kind, geometry, idx, updates, bases, reduction, shifts[0])
    expected = apply_casts(exact, casts)

    def make(registers):
        return ScatterUnit(
            index_shape=index_shape, index_count=index_count, update_shape=update_shape,
            update_count=update_count, data_shape=data_shape,
            data_count=data_count, choices=choices, reduction=reduction, shifts=shifts,
            initial=initial, casts=casts, registers=registers,
        )

    unit, registers = placed(make, placement)
    assert unit.output_count == output_count
    inputs = [idx, updates] + ([data] if data_count else [])
    result = run_groups(unit, inputs, expected, tmp_path, gaps=gaps_for(placement))
    check(result, unit, registers)


def test_scatter_reference_sanity():
    """The reference's own semantics on a hand-checkable sample: repeated targets add, the last
    duplicate wins, out-of-range and negative (signed) indices behave as ONNX / rtlflow say."""
    idx = np.array([[0, 3, -1, 0, 7]])  # nodes 0, 3, 3 (=-1+4), 0, dropped
    updates = np.array([[1, 10, 100, 1000, 5]])  # one feature per edge
    bases = np.array([[50, 60, 70, 80]], dtype=object)
    added = expect_scatter("nd-rows", (4, 1, 5), idx, updates, bases, "add", 0)
    assert added.tolist() == [[50 + 1 + 1000, 60, 70, 80 + 10 + 100]]
    replaced = expect_scatter("nd-rows", (4, 1, 5), idx, updates, bases, "none", 1)
    assert replaced.tolist() == [[2000, 60, 70, 200]]


# ---- MatMulUnit ----------------------------------------------------------------------------------


def matmul_pairs(m: int, k: int, n: int):
    """Per output (row, col) of a [m, k] @ b [k, n]: the (a element, b element) pairs."""
    return tuple(
        tuple((row * k + j, j * n + col) for j in range(k)) for row in range(m) for col in range(n)
    )


MATMUL_CASES = {
    # name: ((m, k, n), a shape, b shape, casts)
    "signed": ((3, 4, 5), signed(6), signed(5), (Cast(3, "RND", "SAT", 8, True),)),
    "mixed-rnd-conv": ((2, 5, 3), unsigned(4), signed(6), (Cast(2, "RND_CONV", "WRAP", 7, True),)),
    # incidence: a is 0/1, products are selections; sums of up to 6 saturate signed(8)
    "incidence-a": ((4, 6, 3), unsigned(1), signed(7), (Cast(1, "RND", "SAT", 8, True),)),
    # the 0/1 operand on the right, two casts
    "incidence-b": (
        (3, 4, 2), signed(5), unsigned(1),
        (Cast(0, "TRN", "SAT", 6, True), Cast(1, "RND", "SAT", 5, False)),
    ),
}


@pytest.mark.parametrize(
    ("case", "placement"),
    [
        ("signed", "all"),
        ("incidence-a", "none"),
        slow("signed", "none"),
        slow("mixed-rnd-conv", "alternate"),
        slow("mixed-rnd-conv", "none"),
        slow("incidence-a", "all"),
        slow("incidence-b", "alternate"),
    ],
)
def test_matmul_unit(case, placement, tmp_path):
    (m, k, n), a_shape, b_shape, casts = MATMUL_CASES[case]
    rng = np.random.default_rng(300 + len(case) * 7 + len(placement))
    a = random_raw(rng, a_shape, (SAMPLES, m * k))
    b = random_raw(rng, b_shape, (SAMPLES, k * n))
    exact = np.matmul(a.reshape(SAMPLES, m, k), b.reshape(SAMPLES, k, n)).reshape(SAMPLES, -1)
    expected = apply_casts(exact, casts)

    def make(registers):
        return MatMulUnit(
            a_shape=a_shape, a_count=m * k, b_shape=b_shape, b_count=k * n,
            pairs=matmul_pairs(m, k, n), casts=casts, registers=registers,
        )

    unit, registers = placed(make, placement)
    assert unit.output_count == m * n
    result = run_groups(unit, [a, b], expected, tmp_path, gaps=gaps_for(placement))
    check(result, unit, registers)

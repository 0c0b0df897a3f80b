"""The constant matrix-vector optimiser against exact integer matrix products."""

from __future__ import annotations

import numpy as np
import pytest

from rtlflow import cmvm


def random_case(rng, n_out, n_in, span=40):
    weights = rng.integers(-span, span + 1, size=(n_out, n_in))
    weights *= rng.random((n_out, n_in)) < 0.75  # zeros
    powers = rng.random((n_out, n_in)) < 0.15  # powers of two, both signs
    weights[powers] = (rng.choice([-1, 1], powers.sum()) * 2 ** rng.integers(0, 6, powers.sum()))
    if n_in > 1:
        weights[:, -1] = weights[:, 0]  # a duplicate column
    if n_out > 1:
        weights[-1] = -weights[0]  # an output that is another's negation
    constants = rng.integers(-300, 300, size=n_out) * (rng.random(n_out) < 0.7)
    low = rng.integers(-128, 20, size=n_in)
    ranges = [(int(a), int(a + b)) for a, b in zip(low, rng.integers(0, 256, size=n_in))]
    return weights, constants, ranges


def check(graph: cmvm.AdderGraph, weights, constants, ranges, rng, samples=400):
    """Exact outputs on random inputs and the range corners; every node within its range."""
    x = np.stack([rng.integers(lo, hi + 1, size=samples) for lo, hi in ranges], -1).astype(object)
    x[0] = [lo for lo, _ in ranges]
    x[1] = [hi for _, hi in ranges]
    expected = x @ np.asarray(weights, dtype=object).T + np.asarray(constants, dtype=object)
    assert (graph.evaluate(x) == expected).all()
    values = [x[:, i] for i in range(len(ranges))]
    for adder in graph.adders:
        total = adder.constant + np.zeros(samples, dtype=object)
        for op in adder.operands:
            term = values[op.node] * (1 << op.shift)
            total = total - term if op.negated else total + term
        assert (total >= adder.low).all() and (total <= adder.high).all()
        assert len(adder.operands) <= 3
        values.append(total)


@pytest.mark.parametrize("arity", [2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_random_matrices_exact(seed, arity):
    rng = np.random.default_rng(seed)
    n_out, n_in = int(rng.integers(1, 12)), int(rng.integers(1, 12))
    weights, constants, ranges = random_case(rng, n_out, n_in)
    graph = cmvm.solve_matrix(weights, constants, ranges, arity=arity, depth_slack=seed % 3)
    check(graph, weights, constants, ranges, rng)


def test_sharing_saves_adders_over_plain_digits():
    rng = np.random.default_rng(7)
    weights = rng.integers(-127, 128, size=(16, 16))
    ranges = [(-128, 127)] * 16
    graph = cmvm.solve_matrix(weights, [0] * 16, ranges)
    digits = sum(len(cmvm.csd_digits(int(w))) for w in weights.reshape(-1))
    plain = digits - 16  # one adder fewer than terms, per output
    assert graph.adder_count() < 0.75 * plain
    check(graph, weights, [0] * 16, ranges, rng)


def test_depth_stays_at_a_plain_tree_without_slack():
    """With no slack every output is as shallow as an adder tree over its own digits."""
    rng = np.random.default_rng(3)
    weights = rng.integers(-200, 201, size=(10, 12))
    graph = cmvm.solve_matrix(weights, [0] * 10, [(-512, 511)] * 12)
    depth = graph.depths()
    for o, row in enumerate(weights):
        digits = sum(len(cmvm.csd_digits(int(w))) for w in row)
        assert depth[graph.outputs[o]] <= (digits - 1).bit_length()


def test_edge_cases():
    rng = np.random.default_rng(0)
    ranges = [(0, 1), (-3, 4)]  # a one-bit input: products are selections
    cases = [
        ([[0, 0], [0, 0]], [0, 5]),  # no weights: zero and a constant
        ([[1, 0], [0, -1]], [0, 0]),  # an input as it is, and negated
        ([[8, 0], [0, -16]], [3, 0]),  # shifts
        ([[-3, -5]], [0]),  # only negative terms
        ([[7, 7]], [-1]),
    ]
    for weights, constants in cases:
        graph = cmvm.solve_matrix(weights, constants, ranges)
        check(graph, weights, constants, ranges, rng)


def test_exact_ranges_are_tighter_than_intervals():
    """x - (x << 2) = -3x: the node's range is -3x's, not interval arithmetic's."""
    graph = cmvm.solve([[(0, -3)], [(0, -3)]], [0, 0], [(0, 100)])
    (adder,) = [a for a in graph.adders if len(a.operands) == 2]
    assert (adder.low, adder.high) in ((-300, 0), (0, 300))


def test_rows_with_sparse_indices_and_repeated_inputs():
    rng = np.random.default_rng(5)
    rows = [[(0, 3), (2, 5), (0, 4)], [(1, -7)], [(2, 5), (0, 7)]]  # input 0 twice in row 0
    weights = [[7, 0, 5], [0, -7, 0], [7, 0, 5]]
    ranges = [(-10, 10), (0, 50), (-4, 3)]
    graph = cmvm.solve(rows, [1, 2, 3], ranges, arity=3)
    check(graph, weights, [1, 2, 3], ranges, rng)


def test_bad_options():
    with pytest.raises(ValueError):
        cmvm.solve([[(0, 1)]], [0, 1], [(0, 1)])
    with pytest.raises(ValueError):
        cmvm.solve([[(0, 1)]], [0], [(0, 1)], arity=4)


@pytest.mark.parametrize("arity", [2, 3])
@pytest.mark.parametrize("seed", range(6))
def test_blocked_sharing_exact_and_as_shallow(seed, arity):
    """Past ``max_pairs`` the inputs are cut into blocks: still exact, no deeper and not much
    larger than sharing over all terms."""
    rng = np.random.default_rng(100 + seed)
    n_out, n_in = int(rng.integers(4, 12)), int(rng.integers(8, 24))
    weights, constants, ranges = random_case(rng, n_out, n_in, 300)
    rows = [[(i, int(w)) for i, w in enumerate(row) if w] for row in weights]
    whole = cmvm.solve(rows, constants, ranges, arity=arity, max_pairs=None)
    blocked = cmvm.solve(rows, constants, ranges, arity=arity, max_pairs=cmvm.pair_work(rows) // 3)
    check(blocked, weights, constants, ranges, rng)
    depth, whole_depth = blocked.depths(), whole.depths()
    assert max(depth[o] for o in blocked.outputs) <= max(whole_depth[o] for o in whole.outputs)
    assert blocked.adder_count() <= 1.3 * whole.adder_count()


def test_pair_work_counts_digit_pairs():
    assert cmvm.pair_work([[(0, 7), (1, 1)], [], [(2, 5)]]) == 3 + 0 + 1  # 7 = 8 - 1


def conv_problem(rng, size, c_in, c_out, k=3, pad=1):
    """A 2-D convolution (stride 1, zero padding) as rows over the flat [c_in, size, size]
    input, outputs in [c_out, positions] order, and its groups: the channels of a position."""
    weights = rng.integers(-60, 61, size=(c_out, c_in, k, k))
    out = size - k + 1 + 2 * pad
    positions = [(y, x) for y in range(out) for x in range(out)]
    rows = []
    for o in range(c_out):
        for y, x in positions:
            row = []
            for c in range(c_in):
                for dy in range(k):
                    for dx in range(k):
                        yy, xx = y + dy - pad, x + dx - pad
                        if 0 <= yy < size and 0 <= xx < size and weights[o, c, dy, dx]:
                            row.append(((c * size + yy) * size + xx, int(weights[o, c, dy, dx])))
            rows.append(row)
    dense = np.zeros((len(rows), c_in * size * size), dtype=object)
    for o, row in enumerate(rows):
        for i, w in row:
            dense[o, i] = w
    groups = [[o * len(positions) + p for o in range(c_out)] for p in range(len(positions))]
    return rows, dense, groups


@pytest.mark.parametrize("arity", [2, 3])
def test_grouped_solve_of_a_padded_convolution(arity):
    """Positions that repeat one pattern (the interior) are solved once and instanced; border
    positions (padding) are patterns of their own. Exact, and each instance's adders as wide
    as its own inputs need (the ranges differ per input)."""
    rng = np.random.default_rng(11)
    rows, dense, groups = conv_problem(rng, size=6, c_in=2, c_out=3)
    n_in = dense.shape[1]
    low = rng.integers(-100, 1, size=n_in)
    ranges = [(int(a), int(a + b)) for a, b in zip(low, rng.integers(0, 200, size=n_in))]
    constants = [int(c) for c in rng.integers(-50, 50, size=3) for _ in range(36)]
    graph = cmvm.solve_grouped(rows, constants, ranges, groups, arity=arity)
    check(graph, dense, constants, ranges, rng)  # also: every node within its range
    # the same problem over narrower inputs at one corner gets narrower adders there
    narrow = list(ranges)
    narrow[0] = (0, 1)
    assert sum(cmvm.bits_for(a.low, a.high) for a in cmvm.solve_grouped(
        rows, constants, narrow, groups, arity=arity).adders) < sum(
        cmvm.bits_for(a.low, a.high) for a in graph.adders)


def test_grouped_solve_tiles_and_empty_rows():
    rng = np.random.default_rng(12)
    rows, dense, _ = conv_problem(rng, size=5, c_in=1, c_out=2, pad=0)
    rows[1] = []  # an output nothing reads
    dense[1] = 0
    tiles = [[0, 1, 9, 10], [2, 3, 11, 12], [4, 5, 13, 14], [6, 7, 15, 16], [8, 17]]
    ranges = [(-8, 7)] * dense.shape[1]
    graph = cmvm.solve_grouped(rows, [0] * 18, ranges, tiles, arity=3)
    check(graph, dense, [0] * 18, ranges, rng)


def test_layers_solved_in_worker_processes_equal_those_solved_here():
    """The adder-graph pass solves its layers in worker processes (``solve_in_parallel``): the
    graphs are the ones solved in this process, and exact."""
    from rtlflow.passes.circuit_build_adder_graphs import _solve, solve_in_parallel

    rng = np.random.default_rng(11)
    cases = [random_case(rng, n_out, n_in) for n_out, n_in in ((9, 7), (4, 12), (6, 5))]
    problems = [
        ([[(i, int(w)) for i, w in enumerate(row) if w] for row in weights], list(constants),
         ranges, None, {"arity": 3, "max_pairs": cmvm.MAX_PAIRS})
        for weights, constants, ranges in cases
    ]  # fmt: skip
    assert solve_in_parallel(problems, jobs=2) == [None] * 3  # too little work to pay
    solved = solve_in_parallel(problems, jobs=2, min_pairs=0)
    assert solved == [_solve(*problem) for problem in problems]
    for graph, (weights, constants, ranges) in zip(solved, cases, strict=True):
        check(graph, weights, constants, ranges, rng)


def pair_counts(solver) -> dict[int, int]:
    """Every pattern's occurrences among the solver's terms, counted from scratch."""
    counts: dict[int, int] = {}
    for terms in solver.terms:
        ordered = sorted((s, n, g) for n, shifts in terms.items() for s, g in shifts.items())
        for i, (sa, na, ga) in enumerate(ordered):
            for sb, nb, gb in ordered[i + 1 :]:
                key = cmvm._pattern(na, nb, sb - sa, ga * gb > 0)
                counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.parametrize("block", [0, 5])
@pytest.mark.parametrize("seed", range(4))
def test_incremental_pair_counts_equal_a_recount(seed, block):
    """The greedy's counts, kept up to date in numpy step by step (a use's two terms counted
    off against every other term of its part, the new term counted on, several uses of one
    part in turn), equal a recount of the terms it ends with; the terms' arrays hold the same
    terms as its dictionaries."""
    rng = np.random.default_rng(seed)
    weights, _, ranges = random_case(rng, 14, 12, span=200)
    weights[3] = weights[4] * 2  # patterns that repeat within one output at two shifts
    weights[5, 6] = weights[5, 7] = 0b101101
    rows = [[(i, int(w)) for i, w in enumerate(row) if w] for row in weights]
    solver = cmvm._Solver(rows, ranges, depth_slack=1, block=block)
    solver.share(2)
    recount = pair_counts(solver)
    for key in set(recount) | set(solver.added):
        count = solver.added.get(key, 0) - solver.removed.get(key, 0)
        if count < -(1 << 39):
            count += cmvm._RETIRED
        assert count == recount.get(key, 0)
    for o, terms in enumerate(solver.terms):
        nodes, shifts, signs = solver.arrays[o][:, : solver.size[o]]
        held = {(int(n), int(s)): int(g) for n, s, g in zip(nodes, shifts, signs, strict=True)}
        assert held == {(n, s): g for n, shifts in terms.items() for s, g in shifts.items()}
    assert len(solver.patterns) > 10


def test_pattern_widths_in_numpy_equal_the_exact_ones():
    rng = np.random.default_rng(5)
    ranges = [(-3, 0), (0, 0), (5, 9), (-128, 127), (-(1 << 20), 1 << 20), (0, (1 << 30) - 1)]
    solver = cmvm._Solver([], ranges, depth_slack=0)
    n = len(ranges)
    keys = np.array(
        [
            cmvm._pattern(int(a), int(b), int(s), bool(p))
            for a, b, s, p in zip(
                rng.integers(0, n, 400), rng.integers(0, n, 400), rng.integers(0, 20, 400),
                rng.integers(0, 2, 400), strict=True,
            )
        ],
        np.int64,
    )  # fmt: skip
    solver._input_widths(keys)
    for key in keys.tolist():
        assert solver.widths[key] == solver._width(key)

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

"""AdderGraphUnit under Verilator: graphs solved for random matrices, scheduled over several
cycles, against exact integer matrix products and casts (ternary adders as the structural
LUT6_2 + carry cell, and as plain sums)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned

from rtlflow import cmvm, graph_schedule
from rtlflow.rtl.adder_graph import AdderGraphUnit, node_operators
from rtlflow.passes.circuit_build_adder_graphs import cast_result
from rtlflow.rtl.arith import Cast, shape_for_range
from tests.rtl.harness import cast, run_unit
from tests.unit.test_cmvm import random_case

CASTS = {
    "trn-wrap": (9, "TRN", "WRAP", 12, True),
    "rnd-conv-sat": (7, "RND_CONV", "SAT", 8, True),
    "unsigned-sat": (3, "TRN", "SAT", 10, False),
}


def graph_nodes(graph: cmvm.AdderGraph, cast_params, budget: float):
    """The unit's nodes for ``graph`` (adders, then one cast per output) and their cycles from
    the graph scheduler with a tight budget (delay: one unit per adder level)."""
    n = graph.n_inputs
    nodes = []
    for adder in graph.adders:
        operands = tuple((op.node, op.shift, op.negated) for op in adder.operands)
        nodes.append(("add", operands, adder.constant, adder.low, adder.high))
    ranges = list(graph.input_ranges) + [(a.low, a.high) for a in graph.adders]
    for node in graph.outputs:
        low, high = _cast_range(ranges[node], cast_params)
        nodes.append(("cast", node, cast_params, False, low, high))
        ranges.append((low, high))
    delays, operands = [0.0] * n, [()] * n
    for node in nodes:
        ops = node_operators((*node, 0), ranges)
        delays.append(1.0 if ops else 0.0)
        operands.append(tuple(v for v, _, _ in node[1]) if node[0] == "add" else (node[1],))
    outputs = tuple(range(n + len(graph.adders), n + len(nodes)))
    widths = tuple(shape_for_range(*r).width for r in ranges)
    schedule = graph_schedule.schedule(
        graph_schedule.Graph(n, tuple(operands), tuple(delays), widths, outputs), 0.0, budget
    )
    cycled = tuple((*node, schedule.cycles[n + i]) for i, node in enumerate(nodes))
    return cycled, outputs, schedule.latency


def _cast_range(source, params):
    """The range the hardware gives a cast's result (what the unit checks its nodes against)."""
    return cast_result(*source, Cast(*params), rounded=False)


@pytest.mark.parametrize(
    ("seed", "carry", "cast_name", "rows"),
    [
        (1, "CARRY8", "trn-wrap", 1),
        (2, "CARRY4", "rnd-conv-sat", 1),
        (3, None, "unsigned-sat", 2),
        (4, "CARRY8", "rnd-conv-sat", 2),
    ],
    ids=["carry8", "carry4", "plain-two-rows", "carry8-two-rows"],
)
def test_adder_graph_unit_matches_integer_arithmetic(seed, carry, cast_name, rows, tmp_path):
    rng = np.random.default_rng(seed)
    weights, constants, _ = random_case(rng, 7, 9, span=300)
    width = 10
    ranges = [(-(1 << (width - 1)), (1 << (width - 1)) - 1)] * 9
    graph = cmvm.solve_matrix(weights, constants, ranges, arity=3)
    params = CASTS[cast_name]
    nodes, outputs, cycles = graph_nodes(graph, params, budget=2.0)
    assert cycles >= 2  # registers inside the graph, not only at its edges
    unit = AdderGraphUnit(
        input_shape=signed(width),
        inputs=tuple(ranges),
        nodes=nodes,
        outputs=outputs,
        output_shape=signed(params[3]) if params[4] else unsigned(params[3]),
        rows=rows,
        cycles=cycles,
        carry=carry,
    )
    assert unit.latency == cycles
    samples = 300
    x = rng.integers(ranges[0][0], ranges[0][1] + 1, size=(samples, rows * 9))
    x[0], x[1] = ranges[0][0], ranges[0][1]
    expected = []
    for sample in x:
        out = []
        for r in range(rows):
            sums = np.asarray(weights, dtype=object) @ sample[r * 9 : (r + 1) * 9].astype(object)
            out += [cast(int(s + c), *params) for s, c in zip(sums, constants, strict=True)]
        expected.append(out)
    result = run_unit(unit, x, np.array(expected), tmp_path)
    assert result.passed, result.details
    assert result.latency_cycles and set(result.latency_cycles) == {cycles}

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
from rtlflow.rtl.adder_graph_text import adder_graph_verilog
from tests.rtl.harness import PairedUnit, cast, run_unit
from tests.unit.test_cmvm import random_case

CASTS = {
    "trn-wrap": (9, "TRN", "WRAP", 12, True),
    "rnd-conv-sat": (7, "RND_CONV", "SAT", 8, True),
    "unsigned-sat": (3, "TRN", "SAT", 10, False),
    "narrow-wrap": (9, "RND", "WRAP", 5, True),
    "sat-sym-up": (-2, "TRN", "SAT_SYM", 14, True),
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
        (5, "CARRY8", "narrow-wrap", 1),
        (6, None, "sat-sym-up", 1),
    ],
    ids=["carry8", "carry4", "plain-two-rows", "carry8-two-rows", "narrow", "sat-sym-shift-up"],
)
def test_adder_graph_unit_matches_integer_arithmetic(seed, carry, cast_name, rows, tmp_path):
    """Built by Amaranth, and written as Verilog text (``adder_graph_verilog``, what a compile
    writes), side by side in one simulation: both equal the exact integer products and
    casts."""
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
        registers=(cycles + 1,) if cast_name == "narrow-wrap" else (),  # an output register
    )
    assert unit.latency == cycles + (cast_name == "narrow-wrap")
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
    text = adder_graph_verilog(unit, "graph")
    assert "][" not in text  # no part-select of a part-select: tools disagree on those
    both = np.array([out + out for out in expected])  # the Amaranth unit's, then the text's
    result = run_unit(PairedUnit(unit, "graph", text), x, both, tmp_path)
    assert result.passed, result.details
    assert result.latency_cycles and set(result.latency_cycles) == {unit.latency}


def _evaluate(unit: AdderGraphUnit, inputs: list[int], bits: tuple[int, ...] | None) -> list[int]:
    """The graph's outputs for one row, every value (inputs too) cut to its low ``bits`` (two's
    complement, wrapped) when given."""
    values: list[int] = []

    def keep(index: int, value: int) -> int:
        if bits is None:
            return value
        width = bits[index]
        value &= (1 << width) - 1
        return value - (1 << width) if width and value >> (width - 1) else value

    for index, value in enumerate(inputs):
        values.append(keep(index, value))
    for node in unit.nodes:
        if node[0] == "add":
            total = node[2] + sum(
                (-1 if negated else 1) * (values[v] << shift) for v, shift, negated in node[1]
            )
        else:
            total = cast(values[node[1]], *node[2])
        values.append(keep(len(values), total))
    return [values[v] for v in unit.outputs]


@pytest.mark.parametrize("cast_name", ["trn-wrap", "narrow-wrap", "rnd-conv-sat"])
def test_live_bits_are_all_the_outputs_read(cast_name):
    """``live``: the bits of each value the outputs depend on. Cut every value to them and the
    outputs stay the same (exact integers, random inputs); under a wrapping cast the sums above
    the output's top bit are dead, so some values are narrower than their range."""
    rng = np.random.default_rng(7)
    weights, constants, _ = random_case(rng, 7, 9, span=300)
    ranges = [(-512, 511)] * 9
    graph = cmvm.solve_matrix(weights, constants, ranges, arity=3)
    nodes, outputs, cycles = graph_nodes(graph, CASTS[cast_name], budget=2.0)
    unit = AdderGraphUnit(
        input_shape=signed(10), inputs=tuple(ranges), nodes=nodes, outputs=outputs,
        output_shape=signed(CASTS[cast_name][3]), cycles=cycles,
    )
    widths = [shape_for_range(*r).width for r in unit.ranges]
    assert all(0 <= live <= width for live, width in zip(unit.live, widths, strict=True))
    narrower = [live < width for live, width in zip(unit.live, widths, strict=True)]
    if cast_name == "narrow-wrap":  # 5 bits kept from bit 9: a sum's bits above 13 are dead
        assert any(narrower)
    if CASTS[cast_name][2] != "WRAP":  # a saturation reads every bit
        assert not any(narrower)
    for _ in range(200):
        x = [int(v) for v in rng.integers(-512, 512, size=9)]
        assert _evaluate(unit, x, unit.live) == _evaluate(unit, x, None)


def test_known_plan_is_what_build_records():
    """The plan stated without building (operators at the live widths, registers at the live
    bits) equals the one a dry run of ``build`` records."""
    from amaranth.hdl import Module, Signal

    from rtlflow.rtl.pipeline import Pipeline

    rng = np.random.default_rng(11)
    weights, constants, _ = random_case(rng, 6, 8, span=200)
    ranges = [(-512, 511)] * 8
    graph = cmvm.solve_matrix(weights, constants, ranges, arity=3)
    nodes, outputs, cycles = graph_nodes(graph, CASTS["narrow-wrap"], budget=2.0)
    unit = AdderGraphUnit(
        input_shape=signed(10), inputs=tuple(ranges), nodes=nodes, outputs=outputs,
        output_shape=signed(5), rows=2, cycles=cycles, carry="CARRY8",
    )
    dry_run = Pipeline(Module(), frozenset(), Signal(name="dry_valid"), dry_run=True)
    dry_run.module._MustUse__silence = True
    unit.build(dry_run.module, dry_run, unit.input_terms())
    assert dry_run.plan(unit.plan.input_bits) == unit.plan
    assert any(live < shape_for_range(*r).width for live, r in zip(unit.live, unit.ranges))

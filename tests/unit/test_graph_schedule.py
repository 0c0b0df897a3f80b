"""Register placement inside adder graphs: the as-soon-as-possible latency, every path within
the clock budget, and no more register bits than registering as soon as possible."""

from __future__ import annotations

import numpy as np
import pytest

from rtlflow import graph_schedule
from rtlflow.graph_schedule import Graph


def random_graph(rng, inputs=6, ops=60) -> Graph:
    operands, delays, widths = [()] * inputs, [0.0] * inputs, [int(w) for w in rng.integers(2, 9, inputs)]
    for v in range(inputs, inputs + ops):
        k = int(rng.integers(1, 4))
        operands.append(tuple(int(u) for u in rng.choice(v, size=k, replace=False)))
        delays.append(float(rng.choice([0.0, 0.6, 0.8, 1.1, 0.885, 1.26, 0.57])))  # sums round
        widths.append(min(40, max(widths[u] for u in operands[-1]) + int(rng.integers(0, 3))))
    readers = {u for ops_ in operands for u in ops_}
    outputs = tuple(v for v in range(inputs, inputs + ops) if v not in readers) or (inputs + ops - 1,)
    return Graph(inputs, tuple(operands), tuple(delays), tuple(widths), outputs)


def register_bits(graph: Graph, cycles) -> int:
    last = list(cycles)
    for v, ops in enumerate(graph.operands):
        for u in ops:
            last[u] = max(last[u], cycles[v])
    latency = max(cycles)
    for v in graph.outputs:
        last[v] = latency
    return sum(graph.width[v] * (last[v] - cycles[v]) for v in range(graph.size))


def check_timing(graph: Graph, cycles, arrival: float, budget: float) -> float:
    """Every path within the budget (or one op alone); the slowest path."""
    ready = []
    for v in range(graph.size):
        if v < graph.n_inputs:
            assert cycles[v] == 0
            ready.append(arrival)
            continue
        assert all(cycles[u] <= cycles[v] for u in graph.operands[v])
        start = max([0.0] + [ready[u] for u in graph.operands[v] if cycles[u] == cycles[v]])
        ready.append(start + graph.delay[v])
        assert ready[-1] <= budget + 1e-9 or start == 0.0  # a single op longer than the budget
    return max(ready)


@pytest.mark.parametrize("seed", range(16))
def test_schedule_keeps_latency_timing_and_saves_registers(seed):
    rng = np.random.default_rng(seed)
    graph = random_graph(rng)
    budget, arrival = 2.0, float(rng.choice([0.0, 0.9]))
    result = graph_schedule.schedule(graph, arrival, budget)
    asap = graph_schedule._earliest(graph, {}, arrival, budget, 0)
    asap_cycles = [c for c, _ in asap]
    assert result.latency == max(asap_cycles)
    assert max(result.cycles) == result.latency
    assert result.slowest == pytest.approx(check_timing(graph, result.cycles, arrival, budget))
    assert register_bits(graph, result.cycles) <= register_bits(graph, asap_cycles)


def test_a_narrow_layer_input_is_registered_rather_than_wide_sums():
    """Inputs of 2 bits feed wide adders: the cut goes before the adders."""
    operands = [(), (), (0, 1), (0, 1), (2, 3)]
    graph = Graph(2, tuple(operands), (0, 0, 1.0, 1.0, 1.0), (2, 2, 30, 30, 31), (4,))
    result = graph_schedule.schedule(graph, 1.5, 2.0)  # the inputs arrive late in cycle 0
    assert result.latency == 1
    assert result.cycles[2] == result.cycles[3] == 1  # registers hold the 4 input bits

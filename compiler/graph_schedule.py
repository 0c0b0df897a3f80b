"""Register placement inside an adder graph: the fewest flip-flops at the fewest cycles.

The graph's ops get clock cycles in two steps. As soon as possible first: an op joins the cycle
of its latest operand unless the path through it would not fit the clock budget, which gives the
unit's number of cycles L (the minimum for its input arrival). As late as possible second, for
the same L: the latest cycle (and time in it) at which each value can be ready without delaying
the outputs. Every boundary between two cycles is then placed by a minimum cut: the values
computed before it are closed under operands, contain everything that cannot be later and
nothing that cannot be earlier, and the cut costs the bits of every value that a later cycle
reads. So the registers sit where the values are narrowest: before a wide adder tree rather than
inside it, at a layer's narrow inputs rather than among its partial sums. Boundaries are cut in
order, each from the as-soon-as-possible times the previous cut leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

#: a capacity no cut can pay
_INFINITE = 1 << 30
#: ns below which two times are equal (sums of delays in a different order differ by rounding)
_EPSILON = 1e-9


@dataclass(frozen=True)
class Graph:
    """Values 0 .. n_inputs - 1 are inputs; value n_inputs + k is op k. ``operands[v]``: the
    values op v reads; ``delay[v]``: ns of logic; ``width[v]``: bits a register of it holds."""

    n_inputs: int
    operands: tuple[tuple[int, ...], ...]
    delay: tuple[float, ...]
    width: tuple[int, ...]
    outputs: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.operands)


@dataclass(frozen=True)
class GraphSchedule:
    cycles: tuple[int, ...]  # per value
    latency: int
    arrival: float  # ns into the last cycle at which the outputs are ready
    slowest: float  # longest register-to-register path (ns)


def _earliest(
    graph: Graph, fixed: dict[int, int], arrival: float, budget: float, first: int
) -> list[tuple[int, float]]:
    """As-soon-as-possible (cycle, ready time) of every value not in ``fixed`` (value -> cycle,
    all before ``first``, registered into it), starting in cycle ``first``."""
    times: list[tuple[int, float]] = []
    for v in range(graph.size):
        if v in fixed:
            times.append((fixed[v], 0.0))
            continue
        if v < graph.n_inputs:
            times.append((first, arrival))
            continue
        reads = [times[u] if u not in fixed else (first - 1, 0.0) for u in graph.operands[v]]
        cycle = max([first] + [c for c, _ in reads])
        start = max([0.0] + [t for c, t in reads if c == cycle])
        delay = graph.delay[v]
        if delay and start > 0 and start + delay > budget + _EPSILON:
            cycle, start = cycle + 1, 0.0
        times.append((cycle, start + delay))
    return times


def _latest(graph: Graph, latency: int, out_time: float, budget: float, readers) -> list[tuple[int, float]]:
    """As-late-as-possible (cycle, ready time) of every value for ``latency`` cycles, the
    outputs ready by ``out_time`` in the last."""
    latest: list[tuple[int, float]] = [(latency, budget)] * graph.size
    outputs = set(graph.outputs)
    for v in reversed(range(graph.size)):
        bound = (latency, out_time) if v in outputs else (latency, budget)
        for u in readers[v]:
            cycle, ready = latest[u]
            start = ready - graph.delay[u]
            if start > _EPSILON or graph.delay[u] == 0:
                need = (cycle, max(start, 0.0))
            else:
                need = (cycle - 1, budget)
            bound = min(bound, need)
        if graph.delay[v] and bound[1] < graph.delay[v] - _EPSILON:  # cannot finish in that cycle
            bound = (bound[0] - 1, budget)
        latest[v] = bound
    return latest


def schedule(graph: Graph, arrival: float, budget: float) -> GraphSchedule:
    """Cycles for every value of ``graph`` with inputs ``arrival`` ns into cycle 0."""
    readers: list[list[int]] = [[] for _ in range(graph.size)]
    for v, operands in enumerate(graph.operands):
        for u in sorted(set(operands)):
            readers[u].append(v)
    times = _earliest(graph, {}, arrival, budget, 0)
    latency = max((c for c, _ in times), default=0)
    out_time = max((t for v in graph.outputs for c, t in [times[v]] if c == latency), default=0.0)
    latest = _latest(graph, latency, out_time, budget, readers)
    fixed: dict[int, int] = {}
    for boundary in range(1, latency + 1):
        before = _cut(graph, readers, fixed, times, latest, boundary)
        for v in before:
            fixed[v] = boundary - 1
        times = _earliest(graph, fixed, 0.0, budget, boundary)
    cycles = tuple(fixed.get(v, times[v][0]) for v in range(graph.size))
    ready = path_times(graph, cycles, arrival)
    final = max((ready[v] for v in graph.outputs if cycles[v] == latency), default=0.0)
    return GraphSchedule(cycles, latency, final, max(ready, default=0.0))


def path_times(graph: Graph, cycles: tuple[int, ...], arrival: float) -> list[float]:
    """When each value is ready in its cycle (ns): an op starts when the operands of its own
    cycle are ready (the inputs ``arrival`` ns into cycle 0; an earlier cycle's come from
    registers, at 0)."""
    ready: list[float] = []
    for v in range(graph.size):
        if v < graph.n_inputs:
            ready.append(arrival if cycles[v] == 0 else 0.0)
            continue
        start = max((ready[u] for u in graph.operands[v] if cycles[u] == cycles[v]), default=0.0)
        ready.append(start + graph.delay[v])
    return ready


def _cut(graph, readers, fixed, times, latest, boundary: int) -> list[int]:
    """The values (not yet fixed) that stay before ``boundary``: a minimum cut."""
    free = [v for v in range(graph.size) if v not in fixed]
    n = graph.size
    node = list(range(n))
    source, sink = 2 * n, 2 * n + 1
    rows, cols, caps = [], [], []

    def edge(a: int, b: int, capacity: int) -> None:
        rows.append(a)
        cols.append(b)
        caps.append(capacity)

    outputs = set(graph.outputs)
    for v in range(n):
        early = v in fixed or times[v][0] < boundary
        if v in fixed or v < graph.n_inputs or latest[v][0] < boundary:
            edge(source, node[v], _INFINITE)  # must be before
        elif not early:
            edge(node[v], sink, _INFINITE)  # cannot be before
        for u in readers[v]:
            edge(node[u], node[v], _INFINITE)  # a reader before means its operand before
            edge(n + v, node[u], _INFINITE)
        if readers[v] or v in outputs:
            edge(node[v], n + v, graph.width[v])  # the register, paid when a reader is after
        if v in outputs:
            edge(n + v, sink, _INFINITE)
    matrix = csr_matrix((np.array(caps, dtype=np.int32), (rows, cols)), shape=(2 * n + 2,) * 2)
    flow = maximum_flow(matrix, source, sink, method="dinic").flow
    residual = (matrix - flow).tocsr()
    residual.data = np.where(residual.data > 0, residual.data, 0)
    residual.eliminate_zeros()
    reached = set(breadth_first_order(residual, source, return_predecessors=False).tolist())
    return [v for v in free if node[v] in reached]

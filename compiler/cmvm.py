"""Constant matrix-vector products as shift-add graphs (multiplierless constant arithmetic).

``y[o] = sum_i w[o][i] * x[i] + c[o]`` with integer constants becomes a graph of adders: every
weight is split into canonical signed digits (CSD: the fewest non-zero digits ±2^k), then the most
frequent pair of digit terms across *all* outputs, ``a ± (b << d)``, is computed once and reused
(greedy common-subexpression elimination, after Hartley), until no pair occurs twice. What is left
of each output is summed by an adder tree that combines the shallowest terms first, and the
constant is added last, on its own (a constant operand alone on a carry chain needs no LUTs).

Depth: every output may use at most ``ceil(log2(terms)) + depth_slack`` adder levels, where
``terms`` is its number of CSD digits: the depth of a plain adder tree over them. A shared pair of
terms of equal depth never deepens a tree, so the bound costs little sharing.

Widths: each node's value is a known integer combination of the inputs, so its exact range (and
bit width) follows from the input ranges; no adder is wider than the values it can carry.

Scale: the greedy's work grows with the pairs of digit terms (``pair_work``). Past ``MAX_PAIRS``
the inputs are cut into blocks and pairs are shared within a block only; ``solve_grouped``
solves outputs that repeat one pattern over shifted inputs (a convolution's tiles of positions)
once and instances the solution.

The graph is plain data (tuples of integers). ``rtlflow.rtl.adder_graph`` builds it in hardware and
``AdderGraph.evaluate`` computes it in numpy for tests.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from rtlflow.numerics.fixed_point import csd_digits


@dataclass(frozen=True)
class Operand:
    """``± (value of node << shift)``."""

    node: int
    shift: int = 0
    negated: bool = False


@dataclass(frozen=True)
class Adder:
    """``sum of operands + constant``: two operands (one carry chain), or one operand and a
    constant (a constant add), or no operand (a constant)."""

    operands: tuple[Operand, ...]
    constant: int
    low: int
    high: int


@dataclass(frozen=True)
class AdderGraph:
    """Nodes 0 .. n_inputs - 1 are the inputs; node n_inputs + k is ``adders[k]``. Output o is
    the value of node ``outputs[o]``."""

    input_ranges: tuple[tuple[int, int], ...]
    adders: tuple[Adder, ...]
    outputs: tuple[int, ...]

    @property
    def n_inputs(self) -> int:
        return len(self.input_ranges)

    def node_range(self, node: int) -> tuple[int, int]:
        if node < self.n_inputs:
            return self.input_ranges[node]
        adder = self.adders[node - self.n_inputs]
        return adder.low, adder.high

    def depths(self) -> list[int]:
        """Adder levels from the inputs to every node (constant adds count as a level)."""
        depth = [0] * self.n_inputs
        for adder in self.adders:
            depth.append(1 + max((depth[op.node] for op in adder.operands), default=-1))
        return depth

    def evaluate(self, inputs: np.ndarray) -> np.ndarray:
        """The outputs for integer ``inputs`` of shape [..., n_inputs] (object or int64)."""
        values = [inputs[..., i] for i in range(self.n_inputs)]
        for adder in self.adders:
            total = adder.constant
            for op in adder.operands:
                term = values[op.node] * (1 << op.shift)
                total = total - term if op.negated else total + term
            values.append(total + np.zeros_like(inputs[..., 0]))
        return np.stack([values[o] for o in self.outputs], axis=-1)

    def adder_count(self) -> int:
        """Adders with two operands (carry chains that need LUTs)."""
        return sum(len(adder.operands) == 2 for adder in self.adders)


def bits_for(low: int, high: int) -> int:
    """Two's-complement (or unsigned, when low >= 0) width of [low, high]."""
    if low >= 0:
        return max(high.bit_length(), 1)
    return max((-low - 1).bit_length(), high.bit_length()) + 1


def _range_of(coefficients: dict[int, int], input_ranges) -> tuple[int, int]:
    low = high = 0
    for i, c in coefficients.items():
        a, b = c * input_ranges[i][0], c * input_ranges[i][1]
        low += min(a, b)
        high += max(a, b)
    return low, high


#: pairs of digit terms (``pair_work``) up to which sharing is sought among all of a problem's
#: terms: the greedy's time grows with them (a few seconds for a million)
MAX_PAIRS = 1_000_000

#: fields of a heap entry (``_Solver._entry``): node ids, shifts and widths below 2^31
_FIELD = 32
_HALF = 1 << (_FIELD - 1)
_BIG = 1 << 62  # above any count


class _Solver:
    """The greedy state: per output its terms (node -> shift -> sign), pair counts, node facts."""

    def __init__(self, rows, input_ranges, depth_slack: int, block: int = 0):
        self.input_ranges = [(int(low), int(high)) for low, high in input_ranges]
        n = len(self.input_ranges)
        self.coefficients: list[dict[int, int]] = [{i: 1} for i in range(n)]
        self.offsets: list[int] = [0] * n  # the constant part of each node's value
        self.ranges: list[tuple[int, int]] = list(self.input_ranges)
        self.depth: list[int] = [0] * n
        self.patterns: list[tuple[int, int, int, int]] = []  # of every node made by sharing
        # the terms (node -> shift -> sign) of each part of an output: with ``block``, the
        # inputs of every ``block`` consecutive indices are one part, and pairs of terms are
        # only counted (and shared) within a part
        self.terms: list[dict[int, dict[int, int]]] = []
        self.output_of: list[int] = []  # the output of each part
        self.limit: list[int] = []  # the most sum of 2^depth over a part's terms may reach
        self.holders: dict[int, set[int]] = {}  # node -> the parts with a term of it
        for o, row in enumerate(rows):
            weights: dict[int, int] = {}
            for index, weight in row:
                weights[index] = weights.get(index, 0) + int(weight)
            parts: dict[int, dict[int, dict[int, int]]] = {}
            for index, weight in weights.items():
                for sign, power in csd_digits(weight):
                    part = parts.setdefault(index // block if block else 0, {})
                    part.setdefault(index, {})[power] = sign
            size = sum(len(shifts) for part in parts.values() for shifts in part.values())
            # ceil(log2(digits)) + slack: the depth of a plain adder tree, plus what is
            # allowed; each part gets its share, so that the whole output stays within it
            limit = 1 << ((max(size, 1) - 1).bit_length() + depth_slack)
            for part in parts.values() or [{}]:
                for index in part:
                    self.holders.setdefault(index, set()).add(len(self.terms))
                digits = sum(len(shifts) for shifts in part.values())
                self.terms.append(part)
                self.output_of.append(o)
                self.limit.append(limit * digits // size if len(parts) > 1 else limit)
        # per part, sum of 2^depth over its terms (inputs: depth 0)
        self.weight = [sum(len(shifts) for shifts in part.values()) for part in self.terms]
        counts: Counter = Counter()
        for terms in self.terms:
            ordered = sorted((s, n, g) for n, shifts in terms.items() for s, g in shifts.items())
            counts.update(
                (na, nb, sb - sa, ga * gb)
                for i, (sa, na, ga) in enumerate(ordered)
                for sb, nb, gb in ordered[i + 1 :]
            )
        self.counts: dict[tuple[int, int, int, int], int] = dict(counts)

    def _score(self, key) -> tuple[int, int]:
        """Most occurrences first, then the narrower adder."""
        na, nb, shift, sign = key
        (la, ha), (lb, hb) = self.ranges[na], self.ranges[nb]
        lb, hb = (lb << shift, hb << shift) if sign > 0 else (-(hb << shift), -(lb << shift))
        return -self.counts[key], bits_for(la + lb, ha + hb) - shift

    def _entry(self, key) -> int:
        """The heap entry of ``key``: its score, then the pattern itself, as one integer that
        orders as the tuple (score, key) does (integers compare far faster than tuples)."""
        uses, width = self._score(key)
        na, nb, shift, sign = key
        entry = ((_BIG + uses) << _FIELD | (width + _HALF)) << _FIELD | na
        return ((entry << _FIELD | nb) << _FIELD | shift) << 1 | (sign > 0)

    @staticmethod
    def _key(entry: int) -> tuple[int, int, int, int]:
        mask = (1 << _FIELD) - 1
        sign = 1 if entry & 1 else -1
        entry >>= 1
        return (entry >> 2 * _FIELD) & mask, (entry >> _FIELD) & mask, entry & mask, sign

    def _occurrences(self, key) -> list[tuple[int, int]]:
        """(part, shift of the a-term) of every non-overlapping use that keeps the depth bound."""
        na, nb, shift, sign = key
        grow = (1 << (max(self.depth[na], self.depth[nb]) + 1))
        grow -= (1 << self.depth[na]) + (1 << self.depth[nb])
        found = []
        holders_a, holders_b = self.holders.get(na, ()), self.holders.get(nb, ())
        if len(holders_b) < len(holders_a):
            holders_a, holders_b = holders_b, holders_a
        for o in sorted(o for o in holders_a if o in holders_b):
            terms = self.terms[o]
            first, second = terms[na], terms[nb]
            weight, bound = self.weight[o], self.limit[o]
            used: set[int] = set()  # shifts of na taken as a partner (na == nb)
            for s in sorted(first):
                g = first[s]
                if s in used or second.get(s + shift) != g * sign:
                    continue
                if grow > 0 and weight + grow > bound:
                    break
                weight += grow
                used |= {s, s + shift} if na == nb else set()
                found.append((o, s))
        return found

    def _pop(self, o: int, node: int, shift: int) -> int:
        """Take the term ``node << shift`` out of output ``o`` (pair counts untouched)."""
        shifts = self.terms[o][node]
        sign = shifts.pop(shift)
        if not shifts:
            del self.terms[o][node]
            self.holders[node].discard(o)
        self.weight[o] -= 1 << self.depth[node]
        return sign

    def _replace(self, o: int, key, s: int, node: int, touched: set) -> None:
        """In output ``o``, the terms of pattern ``key`` at shift ``s`` become ``node << s``:
        the pairs they made with the other terms are counted off, the new term's counted on.
        A pattern is (node a, node b, shift of b over a, relative sign), a the term of the
        lower shift (of the lower node at equal shifts)."""
        na, nb, shift, sign = key
        g = self._pop(o, na, s)
        self._pop(o, nb, s + shift)
        counts = self.counts
        counts[key] -= 1
        sb = s + shift
        gb = g * sign
        get, add = counts.get, touched.add
        for other, shifts in self.terms[o].items():
            below_a, below_b = other < na, other < nb  # (``node`` is above every other node)
            for t, h in shifts.items():
                hg = h * g
                if t < s or (t == s and below_a):
                    counts[(other, na, s - t, hg)] -= 1
                else:
                    counts[(na, other, t - s, hg)] -= 1
                if t < sb or (t == sb and below_b):
                    counts[(other, nb, sb - t, h * gb)] -= 1
                else:
                    counts[(nb, other, t - sb, h * gb)] -= 1
                k = (other, node, s - t, hg) if t <= s else (node, other, t - s, hg)
                count = get(k, 0) + 1
                counts[k] = count
                if count >= 2:  # from two: a cheap superset of any min_uses
                    add(k)
        self.terms[o].setdefault(node, {})[s] = g
        self.holders.setdefault(node, set()).add(o)
        self.weight[o] += 1 << self.depth[node]

    def share(self, min_uses: int = 2) -> None:
        """Greedy sharing of the most frequent pattern until none occurs ``min_uses`` times.

        The heap holds, lazily, at least one entry per pattern no worse than its current score:
        a popped entry whose score is stale goes back with the current one, and the patterns a
        step made more frequent are pushed once after it."""
        heap = [self._entry(k) for k, c in self.counts.items() if c >= min_uses]
        heapq.heapify(heap)
        while heap:
            entry = heapq.heappop(heap)
            key = self._key(entry)
            if self.counts.get(key, 0) < min_uses:
                continue
            current = self._entry(key)
            if current != entry:
                heapq.heappush(heap, current)
                continue
            found = self._occurrences(key)
            if len(found) < min_uses:
                self.counts[key] = -(1 << 40)  # never again: depth bounds only tighten
                continue
            node = self._new_node(key)
            touched: set = set()
            for o, s in found:
                self._replace(o, key, s, node, touched)
            for k in touched:
                if self.counts[k] >= min_uses:
                    heapq.heappush(heap, self._entry(k))

    def _new_node(self, key) -> int:
        na, nb, shift, sign = key
        coefficients = dict(self.coefficients[na])
        for i, c in self.coefficients[nb].items():
            coefficients[i] = coefficients.get(i, 0) + sign * (c << shift)
        coefficients = {i: c for i, c in coefficients.items() if c}
        self.coefficients.append(coefficients)
        self.offsets.append(0)
        self.ranges.append(_range_of(coefficients, self.input_ranges))
        self.depth.append(max(self.depth[na], self.depth[nb]) + 1)
        self.patterns.append(key)
        return len(self.depth) - 1


def solve(
    rows: Sequence[Sequence[tuple[int, int]]],
    constants: Sequence[int],
    input_ranges: Sequence[tuple[int, int]],
    *,
    depth_slack: int = 0,
    arity: int = 2,
    min_uses: int = 2,
    max_pairs: int | None = MAX_PAIRS,
) -> AdderGraph:
    """The adder graph of ``y[o] = sum over rows[o] of weight * x[index] + constants[o]``.

    ``rows[o]``: (input index, integer weight) pairs; ``input_ranges[i]``: the integer range of
    input i. ``depth_slack``: adder levels an output may use beyond a plain tree's. ``arity``:
    operands per adder of the output trees, 2 or 3 (ternary adders, one carry chain each).
    ``min_uses``: a pair of terms is shared when it occurs at least this often. ``max_pairs``:
    beyond this many pairs of digit terms (``pair_work``) the inputs are cut into blocks of
    consecutive indices and pairs are shared within a block only (None: never)."""
    if len(rows) != len(constants):
        raise ValueError("one constant per output")
    if arity not in (2, 3) or min_uses < 2:
        raise ValueError("arity is 2 or 3 and min_uses at least 2")
    block = 0
    if max_pairs is not None:
        work = pair_work(rows)
        if work > max_pairs:
            block = -(-len(input_ranges) // -(-work // max_pairs))
    solver = _Solver(rows, input_ranges, depth_slack, block)
    solver.share(min_uses)
    return _build(solver, [int(c) for c in constants], arity)


def solve_matrix(weights, constants, input_ranges, **options) -> AdderGraph:
    """``solve`` for a dense matrix ``weights[o][i]``."""
    rows = [[(i, int(w)) for i, w in enumerate(row) if w] for row in np.asarray(weights, object)]
    return solve(rows, constants, input_ranges, **options)


def pair_work(rows: Sequence[Sequence[tuple[int, int]]]) -> int:
    """The pairs of CSD digit terms ``solve`` counts (its work grows with them)."""
    total = 0
    for row in rows:
        digits = sum(len(csd_digits(int(w))) for _, w in row)
        total += digits * (digits - 1) // 2
    return total


def solve_grouped(
    rows: Sequence[Sequence[tuple[int, int]]],
    constants: Sequence[int],
    input_ranges: Sequence[tuple[int, int]],
    groups: Sequence[Sequence[int]],
    **options,
) -> AdderGraph:
    """``solve`` for outputs in ``groups`` that repeat one pattern over shifted inputs (the
    output channels of a convolution at each position). Each distinct group, its input indices
    taken relative to its lowest, is solved once over the union of its instances' input ranges
    and instanced at every group that repeats it, each adder as wide as that instance's exact
    range. Sharing is found within a group (across weights and output channels); across groups
    only identical adders are merged. The work grows with the positions, not their square.
    ``groups`` partition the outputs."""
    if len(rows) != len(constants):
        raise ValueError("one constant per output")
    classes: dict[tuple, list[tuple[Sequence[int], int]]] = {}
    for members in groups:
        base = min((k for o in members for k, _ in rows[o]), default=0)
        key = tuple(
            (tuple((k - base, int(w)) for k, w in rows[o]), int(constants[o])) for o in members
        )
        classes.setdefault(key, []).append((members, base))
    n = len(input_ranges)
    adders: list[Adder] = []
    made: dict[tuple, int] = {}  # identical adders of different instances are one
    outputs: list[int | None] = [None] * len(rows)
    for key, instances in classes.items():
        used = sorted({k for row, _ in key for k, _ in row})
        compact = {k: j for j, k in enumerate(used)}
        ranges = [
            (
                min(input_ranges[base + k][0] for _, base in instances),
                max(input_ranges[base + k][1] for _, base in instances),
            )
            for k in used
        ]
        graph = solve(
            [[(compact[k], w) for k, w in row] for row, _ in key],
            [c for _, c in key],
            ranges,
            **options,
        )
        coefficients = _node_coefficients(graph)
        for members, base in instances:
            inputs = [input_ranges[base + k] for k in used]
            node_map = [base + k for k in used]
            for adder, (terms, offset) in zip(graph.adders, coefficients[len(used) :]):
                operands = tuple(replace(op, node=node_map[op.node]) for op in adder.operands)
                made_key = (operands, adder.constant)
                if made_key not in made:
                    low, high = _range_of(terms, inputs)
                    adders.append(Adder(operands, adder.constant, low + offset, high + offset))
                    made[made_key] = n + len(adders) - 1
                node_map.append(made[made_key])
            for o, node in zip(members, graph.outputs, strict=True):
                outputs[o] = node_map[node]
    assert all(o is not None for o in outputs), "the groups cover every output"
    ranges = tuple((int(a), int(b)) for a, b in input_ranges)
    return AdderGraph(ranges, tuple(adders), tuple(outputs))


def _combination(operands, constant: int, coefficients, offsets) -> tuple[dict[int, int], int]:
    """The value of ``sum of operands + constant`` as (input -> integer coefficient, constant),
    from its operands' nodes' ``coefficients`` and ``offsets``."""
    terms: dict[int, int] = {}
    offset = constant
    for op in operands:
        sign = -1 if op.negated else 1
        for i, c in coefficients[op.node].items():
            terms[i] = terms.get(i, 0) + ((sign * c) << op.shift)
        offset += (sign * offsets[op.node]) << op.shift
    return {i: c for i, c in terms.items() if c}, offset


def _node_coefficients(graph: AdderGraph) -> list[tuple[dict[int, int], int]]:
    """Every node's value as (input -> integer coefficient, constant)."""
    coefficients: list[dict[int, int]] = [{i: 1} for i in range(graph.n_inputs)]
    offsets = [0] * graph.n_inputs
    for adder in graph.adders:
        terms, offset = _combination(adder.operands, adder.constant, coefficients, offsets)
        coefficients.append(terms)
        offsets.append(offset)
    return list(zip(coefficients, offsets, strict=True))


def _build(solver: _Solver, constants: list[int], arity: int) -> AdderGraph:
    """The shared nodes as adders, then every output's tree and constant."""
    n = len(solver.input_ranges)
    adders: list[Adder] = []
    # node ids of the solver map one-to-one onto graph nodes for the shared ones
    for node, (na, nb, shift, sign) in enumerate(solver.patterns, start=n):
        low, high = solver.ranges[node]
        adders.append(Adder((Operand(na), Operand(nb, shift, sign < 0)), 0, low, high))
    builder = _TreeBuilder(solver, adders, arity)
    merged: list[dict[int, dict[int, int]]] = [{} for _ in constants]
    for o, terms in zip(solver.output_of, solver.terms, strict=True):
        merged[o].update(terms)  # the parts of an output hold different nodes
    outputs = [builder.output(terms, c) for terms, c in zip(merged, constants, strict=True)]
    return AdderGraph(tuple(solver.input_ranges), tuple(adders), tuple(outputs))


#: the node of the constant item while an output's tree is built
_CONSTANT = -1


class _TreeBuilder:
    """Sums each output's remaining terms and its constant, ``arity`` operands per adder:
    shallowest first (Huffman order, so no output exceeds its depth bound), the nearest shifts
    among equally deep terms; subtraction where signs differ. The constant is one more
    operand: it joins the first adder, where it costs the fewest levels."""

    def __init__(self, solver: _Solver, adders: list[Adder], arity: int):
        self.solver, self.adders, self.arity = solver, adders, arity
        self.n = len(solver.input_ranges)
        self.made: dict[tuple, int] = {}  # identical tree adders across outputs are one

    def _node(self, operands: tuple[Operand, ...], constant: int) -> int:
        key = (operands, constant)
        if key in self.made:
            return self.made[key]
        solver = self.solver
        coefficients, offset = _combination(operands, constant, solver.coefficients, solver.offsets)
        low, high = _range_of(coefficients, solver.input_ranges)
        low, high = low + offset, high + offset
        solver.coefficients.append(coefficients)
        solver.offsets.append(offset)
        solver.ranges.append((low, high))
        solver.depth.append(1 + max((solver.depth[op.node] for op in operands), default=-1))
        self.adders.append(Adder(operands, constant, low, high))
        node = self.n + len(self.adders) - 1
        assert node == len(solver.depth) - 1
        self.made[key] = node
        return node

    def output(self, terms: dict[int, dict[int, int]], constant: int) -> int:
        depth = self.solver.depth
        # (depth, shift, node, sign) of each operand; the constant is node _CONSTANT
        pending = sorted(
            (depth[n], s, n, g) for n, shifts in terms.items() for s, g in shifts.items()
        )
        if constant:
            pending.insert(0, (-1, 0, _CONSTANT, 1))
        first = True
        while len(pending) > 1:
            # Huffman order for k-ary trees: with an even count, one adder takes two
            k = 2 if self.arity == 2 or (first and len(pending) % 2 == 0) else 3
            first = False
            chosen = [pending.pop(0)]
            for _ in range(min(k, len(pending) + 1) - 1):
                level = pending[0][0]
                near = min(
                    (t for t in pending if t[0] == level),
                    key=lambda t: (abs(t[1] - chosen[0][1]), t[1], t[2]),
                )
                pending.remove(near)
                chosen.append(near)
            pending.append(self._combine(chosen, constant))
            pending.sort()
        if not pending:
            return self._node((), 0)
        _, shift, node, sign = pending[0]
        if node == _CONSTANT:
            return self._node((), constant)
        if shift == 0 and sign > 0:
            return node
        return self._node((Operand(node, shift, sign < 0),), 0)

    def _combine(self, items, constant: int):
        """Pending operands as one adder whose result is positive when any operand is."""
        variables = [t for t in items if t[2] != _CONSTANT]
        sign = 1 if any(t[3] > 0 for t in variables) else -1
        value = sign * constant if len(variables) < len(items) else 0
        low = min(t[1] for t in variables)
        if value:
            low = min(low, (value & -value).bit_length() - 1)
        ordered = sorted(variables, key=lambda t: (t[1], t[2]))
        operands = tuple(Operand(n, s - low, g != sign) for _, s, n, g in ordered)
        node = self._node(operands, value >> low)
        return self.solver.depth[node], low, node, sign

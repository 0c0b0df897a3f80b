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

The graph is plain data (tuples of integers). ``rtlflow.rtl.adder_graph`` builds it in hardware and
``AdderGraph.evaluate`` computes it in numpy for tests.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

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


class _Solver:
    """The greedy state: per output its terms (node -> shift -> sign), pair counts, node facts."""

    def __init__(self, rows, input_ranges, depth_slack: int):
        self.input_ranges = [(int(low), int(high)) for low, high in input_ranges]
        n = len(self.input_ranges)
        self.coefficients: list[dict[int, int]] = [{i: 1} for i in range(n)]
        self.offsets: list[int] = [0] * n  # the constant part of each node's value
        self.ranges: list[tuple[int, int]] = list(self.input_ranges)
        self.depth: list[int] = [0] * n
        self.patterns: list[tuple[int, int, int, int]] = []  # of every node made by sharing
        self.terms: list[dict[int, dict[int, int]]] = []
        for row in rows:
            weights: dict[int, int] = {}
            for index, weight in row:
                weights[index] = weights.get(index, 0) + int(weight)
            terms: dict[int, dict[int, int]] = {}
            for index, weight in weights.items():
                for sign, power in csd_digits(weight):
                    terms.setdefault(index, {})[power] = sign
            self.terms.append(terms)
        sizes = [sum(len(shifts) for shifts in terms.values()) for terms in self.terms]
        # ceil(log2(digits)) + slack: the depth of a plain adder tree, plus what is allowed
        self.bound = [(max(size, 1) - 1).bit_length() + depth_slack for size in sizes]
        self.weight = sizes[:]  # per output, sum of 2^depth over its terms (inputs: depth 0)
        self.counts: dict[tuple[int, int, int, int], int] = {}
        counts = self.counts
        for terms in self.terms:
            ordered = sorted((s, node, g) for node, shifts in terms.items() for s, g in shifts.items())
            for i, (sa, na, ga) in enumerate(ordered):
                for sb, nb, gb in ordered[i + 1 :]:
                    key = (na, nb, sb - sa, ga * gb)
                    counts[key] = counts.get(key, 0) + 1

    def _score(self, key) -> tuple[int, int]:
        """Heap priority: most occurrences first, then the narrower adder."""
        na, nb, shift, sign = key
        (la, ha), (lb, hb) = self.ranges[na], self.ranges[nb]
        lb, hb = (lb << shift, hb << shift) if sign > 0 else (-(hb << shift), -(lb << shift))
        return -self.counts[key], bits_for(la + lb, ha + hb) - shift

    def _occurrences(self, key) -> list[tuple[int, int]]:
        """(output, shift of the a-term) of every non-overlapping use that keeps the depth bound."""
        na, nb, shift, sign = key
        grow = (1 << (max(self.depth[na], self.depth[nb]) + 1))
        grow -= (1 << self.depth[na]) + (1 << self.depth[nb])
        found = []
        for o, terms in enumerate(self.terms):
            first, second = terms.get(na), terms.get(nb)
            if first is None or second is None:
                continue
            weight, bound = self.weight[o], 1 << self.bound[o]
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

    def _remove(self, o: int, node: int, shift: int) -> int:
        terms = self.terms[o]
        sign = terms[node].pop(shift)
        if not terms[node]:
            del terms[node]
        self.weight[o] -= 1 << self.depth[node]
        counts = self.counts
        # a pattern is (node a, node b, shift of b over a, relative sign), a the term of the
        # lower shift (of the lower node at equal shifts)
        for other, shifts in terms.items():
            for s, g in shifts.items():
                if (s, other) < (shift, node):
                    counts[(other, node, shift - s, g * sign)] -= 1
                else:
                    counts[(node, other, s - shift, g * sign)] -= 1
        return sign

    def _add(self, o: int, node: int, shift: int, sign: int, heap: list) -> None:
        terms = self.terms[o]
        existing = terms.get(node, {}).get(shift)
        if existing is not None:  # x + x = x << 1; x - x = 0
            self._remove(o, node, shift)
            if existing == sign:
                self._add(o, node, shift + 1, sign, heap)
            return
        counts = self.counts
        for other, shifts in terms.items():
            for s, g in shifts.items():
                if (s, other) < (shift, node):
                    k = (other, node, shift - s, g * sign)
                else:
                    k = (node, other, s - shift, g * sign)
                count = counts.get(k, 0) + 1
                counts[k] = count
                if count >= 2:  # pushed from two: a cheap superset of any min_uses
                    heapq.heappush(heap, (self._score(k), k))
        terms.setdefault(node, {})[shift] = sign
        self.weight[o] += 1 << self.depth[node]

    def share(self, min_uses: int = 2) -> None:
        """Greedy sharing of the most frequent pattern until none occurs ``min_uses`` times."""
        heap = [(self._score(k), k) for k, c in self.counts.items() if c >= min_uses]
        heapq.heapify(heap)
        while heap:
            score, key = heapq.heappop(heap)
            if self.counts.get(key, 0) < min_uses:
                continue
            current = self._score(key)
            if current != score:
                heapq.heappush(heap, (current, key))
                continue
            found = self._occurrences(key)
            if len(found) < min_uses:
                self.counts[key] = -(1 << 40)  # never again: depth bounds only tighten
                continue
            node = self._new_node(key)
            na, nb, shift, _ = key
            for o, s in found:
                g = self._remove(o, na, s)
                self._remove(o, nb, s + shift)
                self._add(o, node, s, g, heap)

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
) -> AdderGraph:
    """The adder graph of ``y[o] = sum over rows[o] of weight * x[index] + constants[o]``.

    ``rows[o]``: (input index, integer weight) pairs; ``input_ranges[i]``: the integer range of
    input i. ``depth_slack``: adder levels an output may use beyond a plain tree's. ``arity``:
    operands per adder of the output trees, 2 or 3 (ternary adders, one carry chain each).
    ``min_uses``: a pair of terms is shared when it occurs at least this often."""
    if len(rows) != len(constants):
        raise ValueError("one constant per output")
    if arity not in (2, 3) or min_uses < 2:
        raise ValueError("arity is 2 or 3 and min_uses at least 2")
    solver = _Solver(rows, input_ranges, depth_slack)
    solver.share(min_uses)
    return _build(solver, [int(c) for c in constants], arity)


def solve_matrix(weights, constants, input_ranges, **options) -> AdderGraph:
    """``solve`` for a dense matrix ``weights[o][i]``."""
    rows = [[(i, int(w)) for i, w in enumerate(row) if w] for row in np.asarray(weights, object)]
    return solve(rows, constants, input_ranges, **options)


def _build(solver: _Solver, constants: list[int], arity: int) -> AdderGraph:
    """The shared nodes as adders, then every output's tree and constant."""
    n = len(solver.input_ranges)
    adders: list[Adder] = []
    # node ids of the solver map one-to-one onto graph nodes for the shared ones
    for node, (na, nb, shift, sign) in enumerate(solver.patterns, start=n):
        low, high = solver.ranges[node]
        adders.append(Adder((Operand(na), Operand(nb, shift, sign < 0)), 0, low, high))
    builder = _TreeBuilder(solver, adders, arity)
    outputs = [builder.output(terms, c) for terms, c in zip(solver.terms, constants, strict=True)]
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
        coefficients: dict[int, int] = {}
        offset = constant
        for op in operands:
            sign = -1 if op.negated else 1
            for i, c in solver.coefficients[op.node].items():
                coefficients[i] = coefficients.get(i, 0) + ((sign * c) << op.shift)
            offset += (sign * solver.offsets[op.node]) << op.shift
        coefficients = {i: c for i, c in coefficients.items() if c}
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

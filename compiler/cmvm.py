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

import bisect
import heapq
from collections import _count_elements  # type: ignore[attr-defined]
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

#: a pattern (node a, node b, shift of b over a, relative sign) is one integer that orders as
#: the tuple does (``_pattern``): node ids below 2^24, shifts below 2^8
_NODE_BITS, _SHIFT_BITS = 24, 8
_PATTERN_BITS = 2 * _NODE_BITS + _SHIFT_BITS + 1
#: fields of a heap entry above its pattern (``_Solver._entry``): widths below 2^31
_FIELD = 32
_HALF = 1 << (_FIELD - 1)
_BIG = 1 << 62  # above any count
#: subtracted from a pattern's count to retire it
_RETIRED = 1 << 40


def _pattern(na, nb, shift, positive):
    """The integer of a pattern (``positive``: the relative sign is +); on Python integers or
    element-wise on numpy arrays."""
    return ((na << _NODE_BITS | nb) << _SHIFT_BITS | shift) << 1 | positive


def _unpack(key: int) -> tuple[int, int, int, int]:
    """(node a, node b, shift, sign ±1) of a pattern's integer."""
    node_mask, shift_mask = (1 << _NODE_BITS) - 1, (1 << _SHIFT_BITS) - 1
    rest = key >> 1
    shift = rest & shift_mask
    rest >>= _SHIFT_BITS
    return rest >> _NODE_BITS, rest & node_mask, shift, 1 if key & 1 else -1


class _Solver:
    """The greedy state: per part of an output its terms (node -> shift -> sign, and the same as
    arrays for counting in numpy), pair counts, node facts.

    A pattern's count is ``added[key] - removed[key]``: both only grow, by whole arrays of
    patterns at a time (``collections._count_elements``, in C), so that a step updates its
    counts without a Python loop over the terms it touches."""

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
        # per part its terms as arrays (nodes, shifts, signs), the first ``size`` entries in use,
        # and where each (node, shift) is in them; a step takes two terms and gives one, so
        # the arrays never grow
        self.arrays: list[np.ndarray] = []
        self.size: list[int] = []
        self.index: list[dict[tuple[int, int], int]] = []
        pairs = []
        for terms in self.terms:
            ordered = sorted((s, n, g) for n, shifts in terms.items() for s, g in shifts.items())
            table = np.array([(n, s, g) for s, n, g in ordered], np.int64).reshape(-1, 3)
            if len(table) and int(table[:, 1].max()) >> _SHIFT_BITS:
                raise ValueError("weights of more than 255 bits")
            self.arrays.append(table.T.copy())
            self.size.append(len(table))
            self.index.append({(n, s): k for k, (s, n, _) in enumerate(ordered)})
            first, second = np.triu_indices(len(table), 1)
            nodes, shifts, signs = table.T
            pairs.append(
                _pattern(
                    nodes[first], nodes[second], shifts[second] - shifts[first],
                    signs[first] * signs[second] > 0,
                )
            )  # fmt: skip
        every = np.concatenate(pairs or [np.zeros(0, np.int64)])
        keys, counts = np.unique(every, return_counts=True)
        self.added: dict[int, int] = dict(zip(keys.tolist(), counts.tolist(), strict=True))
        self.removed: dict[int, int] = {}
        self.widths: dict[int, int] = {}  # of the patterns the heap has seen

    def _width(self, key: int) -> int:
        """The adder's width less the shift (the tie-break: the narrower adder first)."""
        na, nb, shift, sign = _unpack(key)
        (la, ha), (lb, hb) = self.ranges[na], self.ranges[nb]
        lb, hb = (lb << shift, hb << shift) if sign > 0 else (-(hb << shift), -(lb << shift))
        return bits_for(la + lb, ha + hb) - shift

    def _input_widths(self, keys: np.ndarray) -> None:
        """``_width`` of patterns of two inputs, in numpy (when every value stays below 2^52,
        where a float's exponent is the bit length)."""
        if not len(keys):
            return
        shift = (keys >> 1) & ((1 << _SHIFT_BITS) - 1)
        largest = max(max(abs(low), abs(high)) for low, high in self.input_ranges)
        if largest.bit_length() + int(shift.max()) + 2 > 52:
            return
        low, high = np.array(self.input_ranges, np.int64).reshape(-1, 2).T
        rest = keys >> (1 + _SHIFT_BITS)
        na, nb = rest >> _NODE_BITS, rest & ((1 << _NODE_BITS) - 1)
        positive = (keys & 1).astype(bool)
        lb = np.where(positive, low[nb] << shift, -(high[nb] << shift))
        hb = np.where(positive, high[nb] << shift, -(low[nb] << shift))
        lo, hi = low[na] + lb, high[na] + hb

        def length(x):  # int.bit_length of |x|
            return np.frexp(np.abs(x).astype(np.float64))[1].astype(np.int64)

        bits = np.where(
            lo >= 0, np.maximum(length(hi), 1), np.maximum(length(-lo - 1), length(hi)) + 1
        )
        self.widths.update(zip(keys.tolist(), (bits - shift).tolist(), strict=True))

    def _entry(self, key: int, count: int) -> int:
        """The heap entry of ``key`` occurring ``count`` times: most occurrences first, then the
        narrower adder, then the pattern itself, as one integer that orders as that tuple does
        (integers compare far faster than tuples). A pattern's width never changes."""
        width = self.widths.get(key)
        if width is None:
            width = self.widths[key] = self._width(key)
        return ((_BIG - count) << _FIELD | (width + _HALF)) << _PATTERN_BITS | key

    def _occurrences(self, key: int) -> list[tuple[int, int]]:
        """(part, shift of the a-term) of every non-overlapping use that keeps the depth bound."""
        na, nb, shift, sign = _unpack(key)
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
        """Take the term ``node << shift`` out of part ``o`` (pair counts untouched)."""
        shifts = self.terms[o][node]
        sign = shifts.pop(shift)
        if not shifts:
            del self.terms[o][node]
            self.holders[node].discard(o)
        self.weight[o] -= 1 << self.depth[node]
        # out of the arrays: the last entry takes its place
        index, table = self.index[o], self.arrays[o]
        at = index.pop((node, shift))
        last = self.size[o] - 1
        if at != last:
            moved = table[:, last]
            table[:, at] = moved
            index[(int(moved[0]), int(moved[1]))] = at
        self.size[o] = last
        return sign

    def _push(self, o: int, node: int, shift: int, sign: int) -> None:
        """Put the term ``sign * node << shift`` into part ``o``."""
        self.terms[o].setdefault(node, {})[shift] = sign
        self.holders.setdefault(node, set()).add(o)
        self.weight[o] += 1 << self.depth[node]
        at = self.size[o]
        self.arrays[o][:, at] = (node, shift, sign)
        self.index[o][(node, shift)] = at
        self.size[o] = at + 1

    def _replace(self, key: int, found: list[tuple[int, int]], node: int) -> np.ndarray:
        """At every (part, shift) of ``found``, the two terms of pattern ``key`` become ``node <<
        shift``: the pairs they made with the other terms are counted off; returns the patterns
        the new terms make with the others (counted on by the caller). A pattern is (node a,
        node b, shift of b over a, relative sign), a the term of the lower shift (of the lower
        node at equal shifts); ``node`` is above every other node.

        The uses are replaced in numpy all at once, except that a second use in one part waits
        for the first (it pairs with the first's new term): in rounds."""
        na, nb, shift, sign = _unpack(key)
        rounds: list[list[tuple[int, int]]] = []
        seen: dict[int, int] = {}
        for o, s in found:
            r = seen[o] = seen.get(o, -1) + 1
            if r == len(rounds):
                rounds.append([])
            rounds[r].append((o, s))
        made = []
        for uses in rounds:
            g = [self._pop(o, na, s) for o, s in uses]
            for o, s in uses:
                self._pop(o, nb, s + shift)
            self.removed[key] = self.removed.get(key, 0) + len(uses)
            tables = [self.arrays[o][:, : self.size[o]] for o, _ in uses]
            nodes, shifts, signs = np.concatenate(tables, axis=1) if len(uses) > 1 else tables[0]
            sizes = [table.shape[1] for table in tables]
            at = np.repeat(np.array([s for _, s in uses], np.int64), sizes)  # a's shift
            positive = signs * np.repeat(np.array(g, np.int64), sizes) > 0  # relative to a
            apart = shifts - at
            below = (apart < 0) | ((apart == 0) & (nodes < na))
            with_a = np.where(
                below, _pattern(nodes, na, -apart, positive), _pattern(na, nodes, apart, positive)
            )
            apart_b = apart - shift
            positive_b = positive if sign > 0 else ~positive
            below = (apart_b < 0) | ((apart_b == 0) & (nodes < nb))
            with_b = np.where(
                below,
                _pattern(nodes, nb, -apart_b, positive_b),
                _pattern(nb, nodes, apart_b, positive_b),
            )
            _count_elements(self.removed, with_a.tolist())
            _count_elements(self.removed, with_b.tolist())
            made.append(
                np.where(
                    apart <= 0,
                    _pattern(nodes, node, -apart, positive),
                    _pattern(node, nodes, apart, positive),
                )
            )
            for (o, s), sign_a in zip(uses, g, strict=True):
                self._push(o, node, s, sign_a)
        return np.concatenate(made) if len(made) > 1 else made[0]

    def share(self, min_uses: int = 2) -> None:
        """Greedy sharing of the most frequent pattern until none occurs ``min_uses`` times.

        The heap holds, lazily, an entry no worse than its current score for every pattern it
        has seen: a popped entry whose count is stale goes back with the current one, and the
        patterns a step made (all with its new node) are pushed once after it. The initial
        patterns wait outside it, most frequent first, and enter a count at a time when they
        could tie or beat its best (a count only falls): most fall below ``min_uses`` first."""
        added, removed = self.added, self.removed
        keys = np.fromiter(added.keys(), np.int64, len(added))
        counts = np.fromiter(added.values(), np.int64, len(added))
        order = np.argsort(-counts, kind="stable")
        frequent = counts[order] >= min_uses
        self._input_widths(keys[order][frequent])
        waiting = keys[order][frequent].tolist()
        levels = counts[order][frequent].tolist()
        waited = 0
        heap: list[int] = []
        mask = (1 << _PATTERN_BITS) - 1
        pop, push = heapq.heappop, heapq.heappush
        while heap or waited < len(waiting):
            if waited < len(waiting):
                best = _BIG - (heap[0] >> (_PATTERN_BITS + _FIELD)) if heap else 0
                level = levels[waited]
                if level >= best:
                    while waited < len(waiting) and levels[waited] == level:
                        key = waiting[waited]
                        waited += 1
                        count = level - removed.get(key, 0)
                        if count >= min_uses:
                            push(heap, self._entry(key, count))
                    continue
            entry = pop(heap)
            key = entry & mask
            count = added.get(key, 0) - removed.get(key, 0)
            if count < min_uses:
                continue
            if entry >> (_PATTERN_BITS + _FIELD) != _BIG - count:
                push(heap, self._entry(key, count))
                continue
            found = self._occurrences(key)
            if len(found) < min_uses:
                removed[key] = removed.get(key, 0) + _RETIRED  # depth bounds only tighten
                continue
            node = self._new_node(key)
            if node >> _NODE_BITS:
                raise ValueError("more than 2^24 adder graph nodes")
            made_keys, made_counts = np.unique(self._replace(key, found, node), return_counts=True)
            for k, c in zip(made_keys.tolist(), made_counts.tolist(), strict=True):
                added[k] = c  # patterns with the new node: none counted before
                c -= removed.get(k, 0)
                if c >= min_uses:
                    push(heap, self._entry(k, c))

    def _new_node(self, key: int) -> int:
        na, nb, shift, sign = _unpack(key)
        coefficients = dict(self.coefficients[na])
        for i, c in self.coefficients[nb].items():
            coefficients[i] = coefficients.get(i, 0) + sign * (c << shift)
        coefficients = {i: c for i, c in coefficients.items() if c}
        self.coefficients.append(coefficients)
        self.offsets.append(0)
        self.ranges.append(_range_of(coefficients, self.input_ranges))
        self.depth.append(max(self.depth[na], self.depth[nb]) + 1)
        self.patterns.append((na, nb, shift, sign))
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
                same = bisect.bisect_left(pending, (level + 1,))  # sorted: the level's end
                near = min(
                    pending[:same], key=lambda t: (abs(t[1] - chosen[0][1]), t[1], t[2])
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

"""ThresholdUnit: quantizers as comparisons against constants: the number of thresholds passed."""

from __future__ import annotations

from collections import Counter

from amaranth.hdl import Const, Module, Mux, Value

from rtlflow.rtl.arith import (
    Cast, Operator, Term, add, add_level, choose, fit, shape_for_range,
)  # fmt: skip
from rtlflow.rtl.dense import reduce_trees
from rtlflow.rtl.pipeline import (
    Pipeline,
    Unit,
    cast_stages,
    cross_groups,
    cross_terms,
    start_terms,
)

#: above this many thresholds per element, a binary search replaces the row of comparators
SEARCH_ABOVE = 15


class ThresholdUnit(Unit):
    """``y_i = base_i + #{k: x_i >= thresholds_i[k]}``.

    Up to ``SEARCH_ABOVE`` thresholds per element: one comparison with each distinct threshold
    inside the input's range (one at or below it is a constant 1, one above it a constant 0, a
    repeated one counts its multiplicity), then an adder tree counts. More (an 8-bit quantizer
    has 255): a binary search over the sorted thresholds, one step per bit of the count, each a
    constant picked by the bits found so far and one comparison. Then the base is added and the
    output cast (only a width change: the levels fit).

    Latency: the registers chosen; throughput 1 per cycle.
    """

    def __init__(
        self,
        *,
        thresholds: tuple[tuple[int, ...], ...],
        base: tuple[int, ...],
        input_shape,
        count: int,
        casts: tuple[Cast, ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if len(thresholds) != count or len(base) != count:
            raise ValueError("one threshold list and one base per element")
        for row in thresholds:
            if list(row) != sorted(row):
                raise ValueError("thresholds must be non-decreasing")
        self.thresholds, self.base, self.casts = tuple(map(tuple, thresholds)), tuple(base), casts
        self.search = max((len(row) for row in self.thresholds), default=0) > SEARCH_ABOVE
        super().__init__(
            input_shape=input_shape,
            input_count=count,
            output_shape=casts[-1].shape,
            output_count=count,
            registers=registers,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        xs = start_terms(pipeline, inputs)
        counts = self._search(pipeline, xs) if self.search else self._compare(pipeline, xs)
        results, operators = [], []
        for total, base in zip(counts, self.base, strict=True):
            if base:
                total, operator = add(total, Term.constant(base))
                operators.append(operator)
            results.append(total)
        results = cross_terms(pipeline, "base", operators, results)
        return [term.value for term in cast_stages(pipeline, results, self.casts)]

    def _compare(self, pipeline: Pipeline, xs: list[Term]) -> list[Term]:
        """A comparator per distinct threshold, then an adder tree per element."""
        trees, operators = [], []
        for x, row in zip(xs, self.thresholds, strict=True):
            constant, bits = 0, []
            for threshold, times in sorted(Counter(row).items()):
                if threshold <= x.low:
                    constant += times
                elif threshold <= x.high:
                    bits.append(Term(Mux(x.value >= threshold, times, 0), 0, times))
                    operators.append(("add", x.width, 0))  # a comparison: a carry chain
            if constant:
                bits.append(Term.constant(constant))
            trees.append(bits or [Term.constant(0)])
        grouped = cross_groups(pipeline, "compare", operators, trees)
        return reduce_trees(pipeline, grouped, add_level, "count")

    def _search(self, pipeline: Pipeline, xs: list[Term]) -> list[Term]:
        """``c = 0; for j = b-1 .. 0: c += 2^j if x >= t[c + 2^j - 1]``: the number of sorted
        thresholds at or below x (thresholds past the end count as never reached)."""
        bits = max(len(row) for row in self.thresholds).bit_length()
        rows = []
        for x, row in zip(xs, self.thresholds, strict=True):
            clamped = [min(max(t, x.low), x.high + 1) for t in row]
            rows.append(clamped + [x.high + 1] * (2**bits - 1 - len(clamped)))
        groups = [[x, Term(Const(0, 1), 0, 0)] for x in xs]
        for j in reversed(range(bits)):
            operators: list[Operator] = []
            stepped = []
            for (x, count), row in zip(groups, rows, strict=True):
                candidates = [row[high + 2**j - 1] for high in range(0, 2**bits, 2 ** (j + 1))]
                shape = shape_for_range(min(candidates), max(candidates))
                if len(set(candidates)) == 1:
                    threshold: Value = Const(candidates[0], shape)
                else:
                    index = count.value >> (j + 1)  # the bits found so far
                    index = index[: bits - j - 1] if len(index) > bits - j - 1 else index
                    table = [Const(v, shape) for v in candidates]
                    threshold = choose(pipeline.module, table, index, "threshold")
                    operators.append(("rom", shape.width, len(candidates)))
                operators.append(("add", max(x.width, shape.width) + 1, 0))  # the comparison
                passed = Mux(x.value >= threshold, 2**j, 0)
                high = count.high + 2**j
                stepped.append([x, Term(fit(count.value | passed, 0, high), 0, high)])
            groups = cross_groups(pipeline, f"search {bits - j}", operators, stepped)
        return [count for _, count in groups]

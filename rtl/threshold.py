"""ThresholdUnit: quantizers as comparisons against constants, then a count of the levels passed."""

from __future__ import annotations

from collections import Counter

from amaranth.hdl import Module, Mux, Value

from rtlflow.rtl.arith import Cast, Term, add, add_level
from rtlflow.rtl.dense import reduce_trees
from rtlflow.rtl.pipeline import (
    Pipeline,
    Unit,
    cast_stages,
    cross_groups,
    cross_terms,
    start_terms,
)


class ThresholdUnit(Unit):
    """``y_i = base_i + #{k: x_i >= thresholds_i[k]}``.

    Step 1 compares each element with its distinct thresholds (a threshold at or below the
    input's range is a constant 1, one above it a constant 0; a threshold repeated m times
    counts m); then an adder tree counts per element, with the base and the constant levels
    added at its root; then the output cast (only a width change: the levels fit).

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
        trees, operators = [], []
        for x, row, base in zip(xs, self.thresholds, self.base, strict=True):
            constant, bits = base, []
            for threshold, times in sorted(Counter(row).items()):
                if threshold <= x.low:
                    constant += times
                elif threshold <= x.high:
                    bits.append(Term(Mux(x.value >= threshold, times, 0), 0, times))
                    operators.append(("add", x.width, 0))  # a comparison: a carry chain
            trees.append((bits or [Term.constant(0)], constant))
        grouped = cross_groups(pipeline, "compare", operators, [bits for bits, _ in trees])
        counts = reduce_trees(pipeline, grouped, add_level, "count")
        results, operators = [], []
        for total, (_, constant) in zip(counts, trees, strict=True):
            if constant:
                total, operator = add(total, Term.constant(constant))
                operators.append(operator)
            results.append(total)
        results = cross_terms(pipeline, "base", operators, results)
        return [term.value for term in cast_stages(pipeline, results, self.casts)]

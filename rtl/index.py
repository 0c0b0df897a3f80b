"""GatherUnit and ScatterUnit: elements placed by index values that arrive with each input.

A graph network's edges come with every event, so which node feeds an edge (gather) and which
node an edge's message lands on (scatter) are decided in hardware. Both units first *decode*:
one comparator per (index element, node) pair, shared by everything that asks the same question
(an index value v selects axis position v, or v + size for a negative v in a signed format;
anything else selects nothing). Then:

- gather: each output element is a one-hot multiplexer over the data elements it can read
  (AND-OR; no match reads 0);
- scatter: each output element starts from its data (or a constant) and either adds every
  update whose indices select it, gated by its match, in a pairwise adder tree (``add``), or
  takes the last matching update (``none``, a priority multiplexer). Then the output casts.

II = 1; the compiler places registers after the decode, the selection and each adder level.
"""

from __future__ import annotations

from functools import reduce
from operator import and_, or_

from amaranth.hdl import Const, Module, Mux, Shape, Value

from rtlflow.rtl.arith import Cast, Operator, Term, add_level, fit, shape_for_range
from rtlflow.rtl.dense import reduce_trees
from rtlflow.rtl.pipeline import (
    Pipeline,
    Unit,
    cast_stages,
    cross_groups,
    cross_terms,
    start_terms,
)

#: A condition: (flat index element, the index values that satisfy it).
Condition = tuple[int, tuple[int, ...]]
#: A choice: (flat source or update element, the conditions that must all hold to take it).
Choice = tuple[int, tuple[Condition, ...]]


def decode(
    pipeline: Pipeline, indices: list[Term], groups: list[list[Choice]], carried: list[Term]
) -> tuple[list[list[Value]], list[Term]]:
    """The match bit of every choice in ``groups``, one comparator per distinct condition set;
    crosses the boundary after the decode together with ``carried`` (the values to select)."""
    matches: dict[tuple[Condition, ...], int] = {}
    bits: list[Value] = []
    operators: list[Operator] = []
    for group in groups:
        for _, conditions in group:
            if conditions in matches:
                continue
            tests = [
                reduce(or_, [indices[position].value == code for code in codes])
                for position, codes in conditions
            ]
            matches[conditions] = len(bits)
            bits.append(reduce(and_, tests))
            width = sum(len(indices[position].value) for position, _ in conditions)
            operators.append(("equal", width, sum(len(codes) for _, codes in conditions)))
    values = pipeline.stage("decode", operators, bits + [t.value for t in carried])
    crossed = [
        Term(v, t.low, t.high, t.negated)
        for v, t in zip(values[len(bits) :], carried, strict=True)
    ]
    selected = [[values[matches[conditions]] for _, conditions in group] for group in groups]
    return selected, crossed


class GatherUnit(Unit):
    """``y[o] = x[s]`` for the choice ``(s, conditions)`` of output o whose conditions hold on
    the index elements, or 0 when none does.

    Parameters
    ----------
    data_shape, data_count : elements of x.
    index_shape, index_count : elements of the index tensor.
    choices : per output element, its choices (see ``Choice``).
    """

    def __init__(
        self,
        *,
        data_shape: Shape,
        data_count: int,
        index_shape: Shape,
        index_count: int,
        choices: tuple[tuple[Choice, ...], ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        self.data_count, self.choices = data_count, tuple(choices)
        super().__init__(
            input_shape=data_shape,
            input_count=data_count + index_count,
            output_shape=data_shape,
            output_count=len(choices),
            registers=registers,
            stall=stall,
            input_groups=((data_shape, data_count), (index_shape, index_count)),
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        inputs = start_terms(pipeline, inputs)
        data, indices = inputs[: self.data_count], inputs[self.data_count :]
        matches, data = decode(pipeline, indices, [list(c) for c in self.choices], data)
        outputs, operators = [], []
        shape = Shape.cast(self.output_shape)
        for choices, bits in zip(self.choices, matches, strict=True):
            if not choices:
                outputs.append(Const(0, shape))
                continue
            gated = [Mux(bit, data[s].value, 0) for (s, _), bit in zip(choices, bits, strict=True)]
            outputs.append(reduce(or_, gated))
            operators.append(("mux", shape.width, len(choices)))
        return pipeline.stage("select", operators, outputs)


class ScatterUnit(Unit):
    """``y[t] = cast(reduce(base[t], updates selected for t))``, base the data (or ``initial``).

    Parameters
    ----------
    index_shape, index_count ; update_shape, update_count ; data_shape, data_count : the
        operands in this order (no data operand when ``data_count`` is 0).
    choices : per output element, its choices over the updates (see ``Choice``), in order.
    reduction : ``add`` or ``none`` (the last matching update wins).
    shifts : left shifts aligning updates and data to the result's LSB before the casts.
    initial : per output element, the constant base (aligned) when there is no data operand.
    casts : from the aligned result to the output.
    """

    def __init__(
        self,
        *,
        index_shape: Shape,
        index_count: int,
        update_shape: Shape,
        update_count: int,
        data_shape: Shape,
        data_count: int,
        choices: tuple[tuple[Choice, ...], ...],
        reduction: str,
        shifts: tuple[int, int],
        initial: tuple[int, ...],
        casts: tuple[Cast, ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if reduction not in ("add", "none"):
            raise ValueError(f"reduction must be add or none, got {reduction!r}")
        self.counts = (index_count, update_count, data_count)
        self.choices, self.reduction = tuple(choices), reduction
        self.shifts, self.initial, self.casts = tuple(shifts), tuple(initial), tuple(casts)
        groups = [(index_shape, index_count), (update_shape, update_count)]
        if data_count:
            groups.append((data_shape, data_count))
        super().__init__(
            input_shape=index_shape,
            input_count=0,
            output_shape=casts[-1].shape,
            output_count=len(choices),
            registers=registers,
            stall=stall,
            input_groups=tuple(groups),
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        inputs = start_terms(pipeline, inputs)
        n_index, n_update, _ = self.counts
        indices = inputs[:n_index]
        updates = [_shifted(t, self.shifts[0]) for t in inputs[n_index : n_index + n_update]]
        if self.counts[2]:
            bases = [_shifted(t, self.shifts[1]) for t in inputs[n_index + n_update :]]
        else:
            bases = [Term(Const(v, shape_for_range(v, v)), v, v) for v in self.initial]
        matches, carried = decode(
            pipeline, indices, [list(c) for c in self.choices], updates + bases
        )
        updates, bases = carried[: len(updates)], carried[len(updates) :]
        if self.reduction == "add":
            trees, operators = [], []
            for choices, bits, base in zip(self.choices, matches, bases, strict=True):
                tree = [base] if base.high or base.low else []
                for (u, _), bit in zip(choices, bits, strict=True):
                    update = updates[u]
                    low, high = min(update.low, 0), max(update.high, 0)
                    tree.append(Term(Mux(bit, update.value, 0), low, high, update.negated))
                    operators.append(("select", update.width, 0))
                trees.append(tree or [Term.constant(0)])
            trees = cross_groups(pipeline, "gate", operators, trees)
            results = reduce_trees(pipeline, trees, add_level, "add level")
        else:
            results, operators = [], []
            for choices, bits, base in zip(self.choices, matches, bases, strict=True):
                value, low, high = base.value, base.low, base.high
                for (u, _), bit in zip(choices, bits, strict=True):
                    value = Mux(bit, updates[u].value, value)
                    low, high = min(low, updates[u].low), max(high, updates[u].high)
                results.append(Term(fit(value, low, high), low, high))
                operators.append(("mux", results[-1].width, len(choices) + 1))
            results = cross_terms(pipeline, "select", operators, results)
        return [t.value for t in cast_stages(pipeline, results, self.casts)]


def _shifted(term: Term, shift: int) -> Term:
    return Term(term.value << shift, term.low << shift, term.high << shift, term.negated)


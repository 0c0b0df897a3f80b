"""FoldedUnit: a row-wise unit time-multiplexed over its rows (reuse factor on rows).

A softmax, a layer normalisation or an activation MatMul treats many rows (tokens, heads) the
same way. Folded by R, one copy of the logic for a slice of the rows serves the R slices in R
consecutive cycles: the input is latched (forced boundary 0), a multiplexer per inner input
element picks the current phase's slice (``select``), the inner unit's steps follow with the
registers the compiler chose, and a collection register per output element takes each phase's
results (forced last boundary). One inference every R cycles (II = R); latency
``|registers ∪ forced| + R - 1``. Phases may be padded: a source of -1 feeds 0 and a
destination of -1 is dropped. A dense layer's rows, and a convolution's output positions (a
padding tap is a source of -1), fold the same way onto its adder graph: given
``row_module``, the graph's rows of a phase are instances of that one-row module (the Verilog
holds the graph once, as ``RowsUnit`` does for an unfolded layer).
"""

from __future__ import annotations

from dataclasses import replace

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, ResetSignal, Signal, Value

from rtlflow.rtl.adder_graph import AdderGraphUnit
from rtlflow.rtl.arith import Term, choose, extend, wire
from rtlflow.rtl.pipeline import Pipeline, Step, Unit, latch_phases


class FoldedUnit(Unit):
    """The ``inner`` unit applied to ``len(sources)`` phases.

    Parameters
    ----------
    inner : (unit class, its parameters as sorted (name, value) pairs): the unit for one phase,
        built inside this unit (its ``build`` runs with this unit's pipeline).
    input_groups : the outer input groups ((shape, count) per tensor).
    sources : per phase, for each inner input element the outer flat input index (-1: zero).
    destinations : per phase, for each inner output element the outer flat output index (-1:
        dropped).
    output_count : outer output elements.
    row_module : with an inner ``AdderGraphUnit``, the Verilog module of one of its rows
        (``row_registers`` gives its registers): each row becomes an instance of it.
    """

    #: the boundary of this unit at which the inner unit's boundary 0 sits (after the latch)
    INNER_OFFSET = 1

    def __init__(
        self,
        *,
        inner: tuple[type[Unit], tuple[tuple[str, object], ...]],
        input_groups: tuple,
        sources: tuple[tuple[int, ...], ...],
        destinations: tuple[tuple[int, ...], ...],
        output_count: int,
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
        row_module: str | None = None,
    ):
        if len(sources) != len(destinations) or len(sources) < 2:
            raise ValueError("one source and one destination list per phase, at least two")
        unit_class, params = inner
        self.inner = unit_class(**dict(params))
        self.inner._MustUse__silence = True  # never elaborated: its build runs inside this unit
        if row_module is not None and not isinstance(self.inner, AdderGraphUnit):
            raise ValueError("row modules are for an inner adder graph")
        self.row_module = row_module
        self.sources, self.destinations = tuple(sources), tuple(destinations)
        self.phases = len(sources)
        self.extra_latency = self.phases - 1 + self.inner.extra_latency
        self.ii = self.phases * self.inner.ii
        super().__init__(
            input_shape=input_groups[0][0],
            input_count=0,
            output_shape=self.inner.output_shape,
            output_count=output_count,
            registers=registers,
            stall=stall,
            input_groups=input_groups,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        phases = self.phases
        taken = pipeline.valid
        # boundary 0: the input latch, held for the phases of one inference
        held, phase, active = latch_phases(m, pipeline, inputs, phases)

        # select: each inner input element takes its source of the current phase
        selected, operators = select_phase(m, held, self.sources, phase, taken, active)
        bits = sum(len(t.value) for t in selected)
        pipeline.steps.append(Step("select", tuple(operators), bits))

        # the inner unit's steps, its boundary b being this unit's boundary b + 1
        offset = pipeline.boundary
        assert offset == self.INNER_OFFSET
        inner = inner_pipeline(pipeline, active, [phase])
        if isinstance(self.inner, AdderGraphUnit) and (
            self.row_module is not None or pipeline.dry_run
        ):  # the dry run records the graph's plan, which it states without being built
            outputs = self._row_instances(m, inner, selected)
        else:
            outputs = self.inner.build(m, inner, selected)
        # named once: each phase's collection below reads them (Amaranth checks every statement's
        # whole expression, once per phase otherwise)
        outputs = [
            o if isinstance(o, Signal | Const) else wire(m, o, f"inner{j}")
            for j, o in enumerate(outputs)
        ]
        merge_inner(pipeline, inner, offset)
        (tag,) = inner.tags
        return collect_phases(m, pipeline, outputs, inner.valid, tag, self.destinations,
                              self.output_shape, self.output_count)  # fmt: skip

    @staticmethod
    def row_registers(registers: frozenset[int], graph: AdderGraphUnit) -> frozenset[int]:
        """The registers of the row module of an inner adder graph, this unit's being
        ``registers``."""
        shifted = {b - FoldedUnit.INNER_OFFSET for b in registers}
        return frozenset(b for b in shifted if 0 <= b < graph.plan.boundaries)

    def _row_instances(self, m: Module, inner: Pipeline, selected: list[Term]) -> list[Value]:
        """The inner adder graph's rows as instances of ``row_module``; the pipeline left as
        the graph's own build leaves it (its steps and forced boundaries, valid and the phase
        tag delayed by its latency)."""
        graph = self.inner
        assert isinstance(graph, AdderGraphUnit)
        registers = self.row_registers(self.registers, graph)
        latency = graph.plan.latency(registers)
        n_in, n_out = graph.n_in, len(graph.outputs)
        element_in, element_out = graph.input_shape, graph.output_shape
        outputs: list[Value] = []
        for row in range(graph.rows):
            terms = selected[row * n_in : (row + 1) * n_in]
            payload = Signal(element_out.width * n_out, name=f"row{row}_y")
            ports = {
                "i_x__payload": Cat(
                    extend(t.value, element_in.width)[: element_in.width] for t in terms
                ),
                "i_x__valid": inner.valid,
                "o_y__payload": payload,
                "o_y__valid": Signal(name=f"row{row}_valid"),
            }
            if latency:
                ports |= {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
            if self.stall:
                ports["i_en"] = self.en
            m.submodules[f"row{row}"] = Instance(self.row_module or "row", **ports)
            for j in range(n_out):
                bits = payload[j * element_out.width : (j + 1) * element_out.width]
                outputs.append(bits.as_signed() if element_out.signed else bits)
        for cycle in range(latency):
            inner.valid = inner.register(inner.valid, f"row_b{cycle + 1}_valid", reset=True)
            inner.tags = [
                inner.register(tag, f"row_b{cycle + 1}_tag{i}", reset=True)
                for i, tag in enumerate(inner.tags)
            ]
        plan = graph.plan
        inner.steps = list(plan.steps)
        inner.forced = set(plan.forced)
        inner.memory_boundaries = set(plan.memory_boundaries)
        inner.boundary = plan.boundaries
        return outputs


def select_phase(
    m: Module,
    held: list[Term],
    sources: tuple[tuple[int, ...], ...],
    phase: Signal,
    taken: Value,
    active: Value,
) -> tuple[list[Term], list]:
    """Each inner input element as its source of the current ``phase`` (``latch_phases``: 0
    after ``taken``, counting while ``active``) among ``held`` (-1: zero), a multiplexer
    where the phases' sources differ; and the operators. An element with fewer distinct
    sources than phases (a head's keys, read by all of the head's phases) is a multiplexer of
    those, its choice a register beside the phase counter (the same for every element that
    follows the same pattern): the decoding sits before that register, not in the data path."""
    selected, operators = [], []
    phases = len(sources)
    choices: dict[tuple[int, ...], Signal] = {}
    for element in range(len(sources[0])):
        picks = [sources[p][element] for p in range(phases)]
        distinct = list(dict.fromkeys(picks))
        terms = [held[s] if s >= 0 else Term.constant(0) for s in distinct]
        if len(distinct) == 1:
            selected.append(terms[0])
            continue
        index: Value = phase
        if len(distinct) < phases:
            pattern = tuple(distinct.index(s) for s in picks)
            if pattern not in choices:
                number = len(choices)
                codes = [Const(c, range(len(distinct))) for c in pattern]
                choice = choices[pattern] = Signal(range(len(distinct)), name=f"choice{number}")
                with m.If(taken):
                    m.d.sync += choice.eq(codes[0])
                with m.Elif(active):  # the next phase's (past the last: any)
                    m.d.sync += choice.eq(choose(m, codes, phase + 1, f"next_choice{number}"))
                operators.append(("rom", len(choice), phases))
            index = choices[pattern]
        low, high = min(t.low for t in terms), max(t.high for t in terms)
        selected.append(Term(choose(m, [t.value for t in terms], index), low, high))
        operators.append(("mux", max(t.width for t in terms), len(distinct)))
    return selected, operators


def collect_phases(
    m: Module,
    pipeline: Pipeline,
    outputs: list[Value],
    valid: Value,
    tag: Value,
    destinations: tuple[tuple[int, ...], ...],
    shape,
    count: int,
) -> list[Value]:
    """The collection (a forced boundary): each phase's ``outputs`` (valid with its ``tag``)
    into the output registers ``destinations`` name (-1: dropped); the pipeline's valid is
    then high once, after the last phase."""
    phases = len(destinations)
    collected = [Signal(shape, name=f"out{j}", reset_less=True) for j in range(count)]
    pipeline.stage_forced("collect", [], shape.width * count)
    for p, chosen in enumerate(destinations):
        with m.If(valid & (tag == p)):
            m.d.sync += [
                collected[d].eq(value) for d, value in zip(chosen, outputs, strict=True) if d >= 0
            ]
    done = Signal(name="fold_valid")
    m.d.sync += done.eq(valid & (tag == phases - 1))
    pipeline.valid, pipeline.tags = done, []
    missing = set(range(count)) - {d for ds in destinations for d in ds}
    return [Const(0, shape) if j in missing else collected[j] for j in range(count)]


def inner_pipeline(
    pipeline: Pipeline, valid: Value, tags: list[Value], *, registered: bool = False
) -> Pipeline:
    """A pipeline for a unit built inside ``pipeline`` from its current boundary on (the
    inner unit's boundary b is the outer one's current boundary + b); ``registered``: the
    inner boundary 0 is forced."""
    offset = pipeline.boundary
    registers = frozenset(b - offset for b in pipeline.registers if b >= offset)
    if registered:
        registers |= {0}
        pipeline.forced.add(offset)
    return Pipeline(pipeline.module, registers, valid, list(tags), dry_run=pipeline.dry_run)


def merge_inner(pipeline: Pipeline, inner: Pipeline, offset: int) -> None:
    """``pipeline`` continued by what ``inner_pipeline`` built from boundary ``offset`` (the
    inner steps' value labels renumbered after the ones already there: each pipeline numbers
    its own from 0)."""
    base = 1 + max((label for step in pipeline.steps for label, _ in step.carried), default=-1)
    pipeline.steps += [
        replace(step, carried=tuple((label + base, bits) for label, bits in step.carried))
        if base and step.carried else step
        for step in inner.steps
    ]
    pipeline.forced |= {b + offset for b in inner.forced}
    pipeline.memory_boundaries |= {b + offset for b in inner.memory_boundaries}
    pipeline.boundary = offset + inner.boundary

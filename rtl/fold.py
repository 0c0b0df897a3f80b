"""FoldedUnit: a row-wise unit time-multiplexed over its rows (reuse factor on rows).

A softmax, a layer normalisation or an activation MatMul treats many rows (tokens, heads) the
same way. Folded by R, one copy of the logic for a slice of the rows serves the R slices in R
consecutive cycles: the input is latched (forced boundary 0), a multiplexer per inner input
element picks the current phase's slice (``select``), the inner unit's steps follow with the
registers the compiler chose, and a collection register per output element takes each phase's
results (forced last boundary). One inference every R cycles (II = R); latency
``|registers ∪ forced| + R - 1``. Phases may be padded: a source of -1 feeds 0 and a
destination of -1 is dropped.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal, Value

from rtlflow.rtl.arith import Term, choose
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
    """

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
    ):
        if len(sources) != len(destinations) or len(sources) < 2:
            raise ValueError("one source and one destination list per phase, at least two")
        unit_class, params = inner
        self.inner = unit_class(**dict(params))
        self.inner._MustUse__silence = True  # never elaborated: its build runs inside this unit
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
        # boundary 0: the input latch, held for the phases of one inference
        held, phase, active = latch_phases(m, pipeline, inputs, phases)

        # select: each inner input element takes its source of the current phase
        selected, operators = [], []
        for element in range(len(self.sources[0])):
            picks = [self.sources[p][element] for p in range(phases)]
            terms = [held[s] if s >= 0 else Term.constant(0) for s in picks]
            low, high = min(t.low for t in terms), max(t.high for t in terms)
            if len(set(picks)) == 1:
                selected.append(terms[0])
                continue
            selected.append(Term(choose(m, [t.value for t in terms], phase), low, high))
            operators.append(("mux", max(t.width for t in terms), phases))
        bits = sum(len(t.value) for t in selected)
        pipeline.steps.append(Step("select", tuple(operators), bits))

        # the inner unit's steps, its boundary b being this unit's boundary b + 1
        offset = pipeline.boundary
        inner = Pipeline(
            m,
            frozenset(b - offset for b in pipeline.registers if b >= offset),
            active,
            [phase],
            dry_run=pipeline.dry_run,
        )
        outputs = self.inner.build(m, inner, selected)
        # named once: each phase's collection below reads them (Amaranth checks every statement's
        # whole expression, once per phase otherwise)
        outputs = [
            o if isinstance(o, Signal | Const) else _wire(m, o, f"inner{j}")
            for j, o in enumerate(outputs)
        ]
        pipeline.steps += inner.steps
        pipeline.forced |= {b + offset for b in inner.forced}
        pipeline.memory_boundaries |= {b + offset for b in inner.memory_boundaries}
        pipeline.boundary = offset + inner.boundary
        (tag,) = inner.tags

        # collect: each phase's results into their output registers (forced boundary)
        shape = self.output_shape
        collected = [Signal(shape, name=f"out{j}", reset_less=True) for j in range(self.output_count)]
        pipeline.stage_forced("collect", [], shape.width * self.output_count)
        for p, destinations in enumerate(self.destinations):
            with m.If(inner.valid & (tag == p)):
                m.d.sync += [
                    collected[d].eq(value)
                    for d, value in zip(destinations, outputs, strict=True)
                    if d >= 0
                ]
        done = Signal(name="fold_valid")
        m.d.sync += done.eq(inner.valid & (tag == phases - 1))
        pipeline.valid, pipeline.tags = done, []
        missing = set(range(self.output_count)) - {d for ds in self.destinations for d in ds}
        return [Const(0, shape) if j in missing else collected[j]
                for j in range(self.output_count)]


def _wire(m: Module, value: Value, name: str) -> Signal:
    wire = Signal(value.shape(), name=name)
    m.d.comb += wire.eq(value)
    return wire


"""FoldedAttentionUnit: ``softmax(a @ b) @ v`` folded over its rows, the score matrix never whole.

Folded separately, the scores MatMul, the softmax and the mixing MatMul each latch their input,
run R phases and collect their whole result: the score matrix (tokens² values a head) crosses
two unit boundaries and sits in three banks of registers, and a 64-token layer's is wider than a
port. Fused, one phase's rows run through all three: ``a``'s rows of the phase with the ``b`` of
its batch (multiplexed from the input latch, as ``FoldedUnit`` does), their scores, the softmax
of those rows, and their mix with the ``v`` of the batch; only the results are collected.

``v`` is read when a phase reaches the mixing stage, L cycles after it left the latch, while
the latch may already hold a later inference: the phase's ``v`` (its batch's, selected with its
rows) travels beside it, delayed by the L registers the phase crosses (a shift register, LUTs
in synthesis).
The mixing stage's first boundary is a register. II = the phases; latency
``|registers ∪ forced| + phases - 1``.
"""

from __future__ import annotations

from dataclasses import replace

from amaranth.hdl import Cat, Module, Value

from rtlflow.numerics.fixed_point import raw_range
from rtlflow.rtl.arith import Term
from rtlflow.rtl.fold import collect_phases, inner_pipeline, merge_inner, select_phase
from rtlflow.rtl.matmul import MatMulUnit
from rtlflow.rtl.pipeline import Pipeline, Step, Unit, latch_phases
from rtlflow.rtl.softmax import SoftmaxUnit


class FoldedAttentionUnit(Unit):
    """``y = softmax(a @ b) @ v``, ``len(sources)`` phases of the rows.

    Parameters
    ----------
    scores, softmax, mix : the parameters (sorted (name, value) pairs) of one phase's
        ``MatMulUnit`` (its a: the phase's rows, its b: their batch's), ``SoftmaxUnit`` (the
        phase's rows of scores) and ``MatMulUnit`` (a: the softmax's results in order, b: the
        batch's ``v``).
    input_groups : (shape, count) of a, b and v.
    sources : per phase, for each input of ``scores`` the flat index into a then b (-1: zero).
    values : per phase, for each b input of ``mix`` the flat index into v (-1: zero).
    destinations : per phase, for each output of ``mix`` the flat output index (-1: dropped).
    output_count : outer output elements.
    """

    def __init__(
        self,
        *,
        scores: tuple[tuple[str, object], ...],
        softmax: tuple[tuple[str, object], ...],
        mix: tuple[tuple[str, object], ...],
        input_groups: tuple,
        sources: tuple[tuple[int, ...], ...],
        values: tuple[tuple[int, ...], ...],
        destinations: tuple[tuple[int, ...], ...],
        output_count: int,
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if not len(sources) == len(values) == len(destinations) >= 2:
            raise ValueError("one source, value and destination list per phase, at least two")
        if len(input_groups) != 3:
            raise ValueError("three inputs: a, b and v")
        self.stages = (MatMulUnit(**dict(scores)), SoftmaxUnit(**dict(softmax)),
                       MatMulUnit(**dict(mix)))  # fmt: skip
        for stage in self.stages:
            stage._MustUse__silence = True  # never elaborated: built inside this unit
        self.sources, self.values = tuple(sources), tuple(values)
        self.destinations = tuple(destinations)
        self.phases = len(sources)
        self.extra_latency = self.phases - 1
        self.ii = self.phases
        super().__init__(
            input_shape=input_groups[0][0],
            input_count=0,
            output_shape=self.stages[2].output_shape,
            output_count=output_count,
            registers=registers,
            stall=stall,
            input_groups=input_groups,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        phases = self.phases
        taken = pipeline.valid
        (_, a_count), (_, b_count), _ = self.input_groups
        # boundary 0: the input latch, held for the phases of one inference
        held, phase, active = latch_phases(m, pipeline, inputs, phases)
        # select: the phase's rows of a, the b and the v of their batch
        selected, operators = select_phase(m, held, self.sources, phase, taken, active)
        v, used = select_phase(m, held[a_count + b_count :], self.values, phase, taken, active)
        pipeline.steps.append(Step("select", tuple(operators + used), _bits(selected + v)))
        first = len(pipeline.steps) - 1
        v_bits = _bits(v)

        scores_stage, softmax_stage, mix_stage = self.stages
        terms, valid, tags = self._stage(pipeline, scores_stage, selected, active, [phase])
        pipeline.steps.append(Step("hand-off", (), _bits(terms)))
        terms, valid, tags = self._stage(pipeline, softmax_stage, terms, valid, tags)

        # the phase's v, delayed by the registers the phase has crossed since it was selected
        # (one wide value: shift register LUTs in synthesis)
        line: Value = Cat(t.value for t in v)
        crossed = pipeline.registers | pipeline.forced
        for boundary in range(1, pipeline.boundary):
            if boundary in crossed:
                line = pipeline.register(line, f"v_b{boundary}")
        carried = ((_V_LABEL, v_bits),)
        for index in range(first + 1, len(pipeline.steps)):  # alive after every step to here
            step = pipeline.steps[index]
            pipeline.steps[index] = replace(
                step, bits_after=step.bits_after + v_bits, carried=step.carried + carried
            )
        mixed, offset = [], 0
        for t in v:
            bits = line[offset : offset + len(t.value)]
            mixed.append(Term(bits.as_signed() if t.value.shape().signed else bits, t.low, t.high))
            offset += len(t.value)
        pipeline.steps.append(Step("hand-off", (), _bits(terms + mixed)))
        outputs, valid, tags = self._stage(
            pipeline, mix_stage, terms + mixed, valid, tags, registered=True
        )
        values = [t.value for t in outputs]
        (tag,) = tags
        return collect_phases(m, pipeline, values, valid, tag, self.destinations,
                              self.output_shape, self.output_count)  # fmt: skip

    @staticmethod
    def _stage(
        pipeline: Pipeline,
        unit: Unit,
        inputs: list[Term],
        valid: Value,
        tags: list[Value],
        *,
        registered: bool = False,
    ) -> tuple[list[Term], Value, list[Value]]:
        """``unit`` built on ``inputs`` from the pipeline's boundary; its outputs as terms, the
        valid and tags beside them."""
        offset = pipeline.boundary
        inner = inner_pipeline(pipeline, valid, tags, registered=registered)
        outputs = unit.build(pipeline.module, inner, inputs)
        merge_inner(pipeline, inner, offset)
        low, high = raw_range(unit.output_shape.width, unit.output_shape.signed)
        return [Term(Value.cast(o), low, high) for o in outputs], inner.valid, inner.tags


def _bits(terms: list[Term]) -> int:
    return sum(len(t.value) for t in terms)


#: the label of v in the steps' ``carried`` (the stages' own labels count from 0)
_V_LABEL = -1

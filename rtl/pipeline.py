"""Pipeline plans, the helper that places registers while a unit is built, and the unit base class.

A unit describes its combinational logic as a sequence of steps (multiply, one adder-tree level,
a cast, a table read, ...). Boundary 0 sits before the first step and boundary b after step b, so a
plan of n steps has n + 1 boundaries. The compiler chooses which boundaries hold registers from its
delay model; the unit is then built with exactly those registers. Some boundaries are forced: a
table memory's address register, an accumulator, the input latch of a reuse-factor loop.

Every unit is built by one method, ``build``, run twice: once as a dry run with no registers,
which records the plan, and once for real. Plan and hardware therefore cannot disagree.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field, replace

from amaranth.hdl import Cat, Const, EnableInserter, Module, Shape, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rtlflow.rtl.arith import Cast, Operator, Term, apply_cast, extend, wire
from rtlflow.numerics.fixed_point import raw_range


@dataclass(frozen=True)
class Step:
    """One step of combinational logic: its operators and the bits alive after it.

    ``carried`` lists the values alive after the step that it passed on unchanged from the
    boundary before it, as (label, bits): a label names one value over all the boundaries it
    crosses (registered or not), so a value held over several registers can be followed.
    """

    name: str
    operators: tuple[Operator, ...]
    bits_after: int
    carried: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Plan:
    """A unit's steps, the bits entering it, its forced boundaries and loop latency."""

    steps: tuple[Step, ...]
    input_bits: int
    forced: frozenset[int] = frozenset()
    memory_boundaries: frozenset[int] = frozenset()
    extra_latency: int = 0
    ii: int = 1

    @property
    def boundaries(self) -> int:
        return len(self.steps) + 1

    def bits_at(self, boundary: int) -> int:
        """Bits a register at ``boundary`` would hold (memory outputs excluded)."""
        return self.input_bits if boundary == 0 else self.steps[boundary - 1].bits_after

    def latency(self, registers: frozenset[int]) -> int:
        return len(registers | self.forced) + self.extra_latency


@dataclass
class Pipeline:
    """Crosses boundaries while a unit is built, registering values (and valid) where asked."""

    module: Module
    registers: frozenset[int]
    valid: Value
    tags: list[Value] = field(default_factory=list)
    boundary: int = 0
    steps: list[Step] = field(default_factory=list)
    forced: set[int] = field(default_factory=set)
    memory_boundaries: set[int] = field(default_factory=set)
    dry_run: bool = False
    #: id of a value (or of a register holding it unchanged) -> its label; the values are kept
    #: alive in ``_pinned`` so that no id is reused while the unit is built
    _labels: dict[int, int] = field(default_factory=dict)
    _pinned: list[Value] = field(default_factory=list)
    _previous: frozenset[int] = frozenset()  # the labels at the last boundary crossed

    def start(self, values: list[Value]) -> list[Value]:
        """Cross boundary 0 (before the first step)."""
        assert self.boundary == 0
        self._previous = frozenset(self._label(v) for v in values if not isinstance(v, Const))
        return self._cross(values)

    def stage(
        self,
        name: str,
        operators: list[Operator],
        values: list[Value],
        *,
        memory_reads: int = 0,
        force: bool = False,
    ) -> list[Value]:
        """Record the step that produced ``values`` and cross the boundary after it.

        The first ``memory_reads`` values are outputs of synchronous memory reads whose addresses
        this step computed: such a boundary is forced and the memory holds those values.
        ``force`` registers the boundary whatever the schedule says (a delay line).
        """
        held = [
            (self._label(v), len(v)) for v in values[memory_reads:] if not isinstance(v, Const)
        ]
        carried = tuple(entry for entry in held if entry[0] in self._previous)
        self.steps.append(Step(name, tuple(operators), sum(bits for _, bits in held), carried))
        self._previous = frozenset(label for label, _ in held)
        if memory_reads:
            self.memory_boundaries.add(self.boundary)
        if memory_reads or force:
            self.forced.add(self.boundary)
        return self._cross(values, memory_reads=memory_reads)

    def stage_forced(self, name: str, operators: list[Operator], bits: int) -> int:
        """Record a step whose following boundary the caller registers itself (an accumulator,
        an input latch); returns that boundary. The caller updates ``valid`` and ``tags``."""
        if name:
            self.steps.append(Step(name, tuple(operators), bits))
        self._previous = frozenset()
        boundary = self.boundary
        self.forced.add(boundary)
        self.boundary += 1
        return boundary

    def plan(self, input_bits: int, extra_latency: int = 0, ii: int = 1) -> Plan:
        return Plan(
            tuple(self.steps),
            input_bits,
            frozenset(self.forced),
            frozenset(self.memory_boundaries),
            extra_latency,
            ii,
        )

    def wires(self, terms: list[Term], name: str) -> list[Term]:
        """Each term's value as a named combinational wire (signals and constants as they are)."""
        named = []
        for term in terms:
            if not isinstance(term.value, (Signal, Const)):
                term = replace(term, value=wire(self.module, term.value, name))
            named.append(term)
        return named

    def register(self, value: Value, name: str, *, reset: bool = False) -> Signal:
        register = Signal(value.shape(), name=name, reset_less=not reset)
        self.module.d.sync += register.eq(value)
        return register

    def _label(self, value: Value) -> int:
        label = self._labels.get(id(value))
        if label is None:
            label = self._labels[id(value)] = len(self._pinned)
            self._pinned.append(value)
        return label

    def _cross(self, values: list[Value], *, memory_reads: int = 0) -> list[Value]:
        boundary = self.boundary
        self.boundary += 1
        if boundary not in self.registers and boundary not in self.forced:
            return values
        self.valid = self.register(self.valid, f"b{boundary}_valid", reset=True)
        self.tags = [
            self.register(tag, f"b{boundary}_tag{i}", reset=True) for i, tag in enumerate(self.tags)
        ]
        crossed = []
        for index, value in enumerate(values):
            if index >= memory_reads and not isinstance(value, Const):
                register = self.register(value, f"b{boundary}_v{index}")
                self._labels[id(register)] = self._label(value)  # the same value, a cycle later
                self._pinned.append(register)
                value = register
            crossed.append(value)
        return crossed


def cross_terms(pipeline: Pipeline, name: str, operators: list[Operator], terms: list[Term]):
    """``Pipeline.stage`` for ranged terms: the values move, ranges and signs stay."""
    values = pipeline.stage(name, operators, [term.value for term in terms])
    return [Term(v, t.low, t.high, t.negated) for v, t in zip(values, terms, strict=True)]


def start_terms(pipeline: Pipeline, terms: list[Term]) -> list[Term]:
    """``Pipeline.start`` for ranged terms."""
    values = pipeline.start([term.value for term in terms])
    return [Term(v, t.low, t.high, t.negated) for v, t in zip(values, terms, strict=True)]


def cross_groups(
    pipeline: Pipeline, name: str, operators: list[Operator], groups: list[list[Term]]
) -> list[list[Term]]:
    """``cross_terms`` over a list of groups, keeping the grouping."""
    flat = cross_terms(pipeline, name, operators, [term for group in groups for term in group])
    result, position = [], 0
    for group in groups:
        result.append(flat[position : position + len(group)])
        position += len(group)
    return result


def cast_stages(
    pipeline: Pipeline, terms: list[Term], casts: tuple[Cast, ...], *, rounded: bool = False
) -> list[Term]:
    """One step per cast; ``rounded``: the first cast's rounding offset is already in the terms."""
    for index, cast in enumerate(casts):
        operators: list[Operator] = []
        results = []
        for term in terms:
            result, used = apply_cast(term, cast, rounded=rounded and index == 0)
            operators += used
            results.append(result)
        terms = cross_terms(pipeline, f"cast {index}", operators, results)
    return terms


def latch_phases(
    m: Module, pipeline: Pipeline, inputs: list[Term], phases: int
) -> tuple[list[Term], Signal, Signal]:
    """Boundary 0 as an input latch held for ``phases`` cycles (a reuse-factor loop): the held
    terms, the phase counter (0 .. phases - 1) and the flag that is high while it runs."""
    pipeline.stage_forced("", [], 0)
    held = []
    for index, term in enumerate(inputs):
        register = Signal(term.value.shape(), name=f"hold{index}", reset_less=True)
        with m.If(pipeline.valid):
            m.d.sync += register.eq(term.value)
        held.append(Term(register, term.low, term.high, term.negated))
    phase = Signal(range(phases), name="phase")
    active = Signal(name="active")
    with m.If(pipeline.valid):
        m.d.sync += [phase.eq(0), active.eq(1)]
    with m.Elif(active):
        m.d.sync += [phase.eq(phase + 1), active.eq(phase != phases - 1)]
    return held, phase, active


def vector(shape: Shape, count: int) -> stream.Signature:
    """An always-ready stream carrying ``count`` elements of ``shape`` (element i at bits i*W)."""
    return stream.Signature(data.ArrayLayout(shape, count), always_ready=True)


class Unit(wiring.Component):
    """A pipelined unit: ``x`` in, ``y`` out, one input every ``ii`` cycles, fixed latency.

    Members
    -------
    x : ``In(stream.Signature(ArrayLayout(input_shape, n_in), always_ready=True))``
        Input vector; an input is taken whenever ``x.valid`` is high.
    y : ``Out(stream.Signature(ArrayLayout(output_shape, n_out), always_ready=True))``
        Output vector, valid ``latency`` cycles after its input.

    Subclasses implement ``build``; ``plan`` describes the steps and ``latency`` the cycles.
    """

    def __init__(
        self,
        *,
        input_shape: Shape,
        input_count: int,
        output_shape: Shape,
        output_count: int,
        registers: frozenset[int] | tuple[int, ...] = (),
        input_groups: tuple[tuple[Shape, int], ...] = (),
        stall: bool = False,
        take: bool = False,
    ):
        """``input_groups``: for units reading several tensors of different element shapes,
        ``(shape, count)`` per tensor; the input payload is then their elements packed in
        order (``input_shape`` and ``input_count`` are ignored). ``stall``: the unit has an
        ``en`` input; while it is low every register of the unit holds (backpressure).
        ``take``: the unit has a ``take`` output, low in the cycles it does not take an input
        (the design's ``in_ready``, for a unit that reads a design input)."""
        self.stall = stall
        self.input_groups = tuple((Shape.cast(shape), count) for shape, count in input_groups)
        if not self.input_groups:
            self.input_groups = ((Shape.cast(input_shape), input_count),)
        self.input_shape, self.input_count = self.input_groups[0][0], sum(
            count for _, count in self.input_groups
        )
        self.output_shape, self.output_count = Shape.cast(output_shape), output_count
        input_bits = sum(shape.width * count for shape, count in self.input_groups)

        def members() -> dict:
            if len(self.input_groups) == 1:
                payload = vector(self.input_shape, self.input_count)
            else:
                payload = stream.Signature(input_bits, always_ready=True)
            ports = {"x": In(payload), "y": Out(vector(self.output_shape, output_count))}
            return ports | ({"en": In(1)} if stall else {}) | ({"take": Out(1)} if take else {})

        self._ports = members  # the signature's ports, made when first asked for (__getattr__)
        self.registers = frozenset(registers)
        plan = self.__dict__.pop("_known_plan", None) or self.known_plan(input_bits)
        if plan is None:
            dry_run = Pipeline(Module(), frozenset(), Signal(name="dry_valid"), dry_run=True)
            dry_run.module._MustUse__silence = True  # built only to record the plan
            self.build(dry_run.module, dry_run, self.input_terms())
            plan = dry_run.plan(
                self.held_bits if self.held_bits is not None else input_bits,
                self.extra_latency,
                self.ii,
            )
        self.plan = plan
        bad = sorted(b for b in self.registers if not 0 <= b < self.plan.boundaries)
        if bad:
            raise ValueError(f"register boundaries {bad} outside 0..{self.plan.boundaries - 1}")

    def __getattr__(self, name: str):
        """The component's signature and ports (``x``, ``y``, ``en``, ``take``), made when first
        asked for: most units of a compile are built only for their plan, or to be written as
        text, and never need them (making their signals was a tenth of a small compile)."""
        ports = None if name.startswith("__") else self.__dict__.pop("_ports", None)
        if ports is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        wiring.Component.__init__(self, ports())
        return getattr(self, name)

    #: cycles a reuse-factor loop adds beyond the registers; cycles between inputs
    extra_latency: int = 0
    ii: int = 1
    #: bits a register at boundary 0 holds, when not the input (a line buffer, a collector)
    held_bits: int | None = None

    @property
    def latency(self) -> int:
        return self.plan.latency(self.registers)

    def known_plan(self, input_bits: int) -> Plan | None:
        """The plan, when a unit can state it without being built (the dry run of ``build``
        otherwise records it); it must be exactly what ``build`` would record."""
        return None

    def input_terms(self) -> list[Term]:
        """One ranged term per input element, groups in order."""
        if len(self.input_groups) == 1:
            low, high = raw_range(self.input_shape.width, self.input_shape.signed)
            return [Term(self.x.payload[i], low, high) for i in range(self.input_count)]
        terms, offset = [], 0
        for shape, count in self.input_groups:
            low, high = raw_range(shape.width, shape.signed)
            for _ in range(count):
                bits = self.x.payload[offset : offset + shape.width]
                terms.append(Term(bits.as_signed() if shape.signed else bits, low, high))
                offset += shape.width
        return terms

    @abstractmethod
    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        """Build the unit's logic with ``pipeline``; return the output elements."""

    def elaborate(self, platform) -> Module:
        m = Module()
        pipeline = Pipeline(m, self.registers, self.x.valid)
        outputs = self.build(m, pipeline, self.input_terms())
        assert len(outputs) == self.output_count
        # one statement for the whole output vector: a statement per element would make
        # Amaranth walk every bit of the payload once per element
        width = self.output_shape.width
        m.d.comb += self.y.payload.as_value().eq(
            Cat(extend(Value.cast(value), width)[:width] for value in outputs)
        )
        m.d.comb += self.y.valid.eq(pipeline.valid)
        return EnableInserter(self.en)(m) if self.stall else m

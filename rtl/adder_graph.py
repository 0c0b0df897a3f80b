"""AdderGraphUnit: constant arithmetic as a scheduled graph of adders (multiplierless).

The unit computes a ``shiftadd`` implementation region (``rtlflow.dialects.shiftadd``) given as
plain tuples. Each node is computed in its own clock cycle (from the cycle in which the input
arrives); a value read in a later cycle goes through one register per cycle in between, kept
once however many nodes read it. Registers therefore sit wherever the schedule put them, node by
node, not at fixed levels of a tree. ``rows`` copies of the graph work on consecutive slices of
the input (a dense layer's leading dimensions).

Node kinds (``kind`` first):

- ``("add", ((value, shift, negated), ...), constant, low, high, cycle)``: up to three operands;
  three (or two and a constant) make a ternary adder, built from LUT6_2 and carry primitives
  when ``carry`` names the family's carry primitive (``rtlflow.rtl.primitives``), else as a plain
  sum; the low bits that only one operand reaches are wires.
- ``("multiply", value, constant, low, high, cycle)``: a product on a DSP slice.
- ``("cast", value, (shift, rounding, overflow, width, signed), rounded, low, high, cycle)``.

Values are numbered inputs first (one row), then nodes in order; ``outputs`` lists the values
that form one row of the output.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, Value

from rtlflow.numerics.fixed_point import bits_for_range
from rtlflow.rtl.arith import Cast, Operator, Term, apply_cast, extend, fit, shape_for_range
from rtlflow.rtl.pipeline import Pipeline, Plan, Step, Unit
from rtlflow.rtl.primitives import TernaryAdderKind, ternary_adder

Node = tuple


def node_cycle(node: Node) -> int:
    return node[-1]


def node_range(node: Node) -> tuple[int, int]:
    return node[-3], node[-2]


def _width(low: int, high: int) -> int:
    return bits_for_range(low, max(high, low))[0]


class AdderGraphUnit(Unit):
    """``rows`` copies of an adder graph; latency ``cycles`` (plus one with an output register).

    Parameters
    ----------
    input_shape : shape of one input element.
    inputs : (low, high) of each input element of a row.
    nodes : the graph, as described in the module docstring.
    outputs : the value of each output element of a row.
    output_shape : shape of one output element.
    rows : copies of the graph.
    cycles : the cycle of the outputs (every node's cycle is at most this).
    carry : ``"CARRY8"``, ``"CARRY4"`` or None: how ternary adders are built.
    registers : ``(cycles + 1,)`` registers the outputs.
    """

    def __init__(
        self,
        *,
        input_shape,
        inputs: tuple[tuple[int, int], ...],
        nodes: tuple[Node, ...],
        outputs: tuple[int, ...],
        output_shape,
        rows: int = 1,
        cycles: int = 0,
        carry: str | None = None,
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if any(node_cycle(n) > cycles or node_cycle(n) < 0 for n in nodes):
            raise ValueError("node cycles must lie in 0 .. cycles")
        self.ranges = tuple(inputs) + tuple(node_range(n) for n in nodes)
        self.cycle_of = (0,) * len(inputs) + tuple(node_cycle(n) for n in nodes)
        self.n_in, self.nodes, self.outputs = len(inputs), tuple(nodes), tuple(outputs)
        self.rows, self.cycles, self.carry = rows, cycles, carry
        last = list(self.cycle_of)  # the last cycle that reads each value
        for node in nodes:
            for value in _reads(node):
                last[value] = max(last[value], node_cycle(node))
        for value in outputs:
            last[value] = cycles
        self.last_use = tuple(last)
        self.live = self._live_bits()
        super().__init__(
            input_shape=input_shape,
            input_count=rows * len(inputs),
            output_shape=output_shape,
            output_count=rows * len(outputs),
            registers=registers,
            stall=stall,
        )

    def known_plan(self, input_bits: int) -> Plan:
        """One step per cycle (the operators of its nodes, all rows), the boundaries between
        cycles forced: what ``build`` records, without building."""
        operators: list[list[Operator]] = [[] for _ in range(self.cycles + 1)]
        for index, node in enumerate(self.nodes):
            live = self.live[self.n_in + index]
            operators[node_cycle(node)] += node_operators(node, self.ranges, live)
        output_bits = self.rows * sum(
            _width(*self.ranges[v]) for v in self.outputs if not self._constant(v)
        )
        steps = tuple(  # every row's nodes in turn, as build makes them
            Step(
                f"cycle {c}",
                tuple(ops * self.rows),
                self.bits_crossing(c + 1) if c < self.cycles else output_bits,
            )
            for c, ops in enumerate(operators)
        )
        return Plan(steps, input_bits, frozenset(range(1, self.cycles + 1)))

    def _constant(self, value: int) -> bool:
        """Whether a value is a constant (built as a Const, never registered)."""
        if value < self.n_in:
            return False
        node = self.nodes[value - self.n_in]
        if node[0] == "add":
            return not node[1]
        return node[0] == "cast" and self._constant(node[1])

    def bits_crossing(self, boundary: int) -> int:
        """Register bits between cycle ``boundary - 1`` and ``boundary`` that something reads
        (``live``), all rows."""
        return self.rows * sum(
            self.live[v]
            for v in range(len(self.ranges))
            if self.cycle_of[v] < boundary <= self.last_use[v]
        )

    def _live_bits(self) -> tuple[int, ...]:
        """Of each value, the low bits that something reads. A wrapping cast reads its source
        only up to its output's top bit, and a sum reads its operands only up to its own top
        live bit (carries run upwards), so the bits above are dead: synthesis removes them,
        with their registers and adder bits. The hardware is built at full width."""
        widths = [_width(*r) for r in self.ranges]
        live = [0] * len(widths)
        for value in self.outputs:
            live[value] = widths[value]
        for index in reversed(range(len(self.nodes))):
            node, top = self.nodes[index], min(live[self.n_in + index], widths[self.n_in + index])
            if top <= 0:
                continue
            if node[0] == "add":
                reads = [(value, top - shift) for value, shift, _ in node[1]]
            elif node[0] == "multiply":  # the low bits of a product need the low bits alone
                reads = [(node[1], top)]
            else:
                shift, _, overflow, width, _ = node[2]
                reads = [(node[1], shift + width if overflow == "WRAP" else widths[node[1]])]
            for value, bits in reads:
                live[value] = max(live[value], bits)
        return tuple(min(bits, width) for bits, width in zip(live, widths, strict=True))

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        pipeline.start([])
        rows = [_Row(self, m, r, inputs[r * self.n_in : (r + 1) * self.n_in]) for r in range(self.rows)]
        by_cycle: list[list[int]] = [[] for _ in range(self.cycles + 1)]
        for index, node in enumerate(self.nodes):
            by_cycle[node_cycle(node)].append(self.n_in + index)
        for cycle, values in enumerate(by_cycle):
            operators: list[Operator] = []
            for row in rows:
                for value in values:
                    operators += row.compute(value)
            if cycle < self.cycles:
                pipeline.stage_forced(f"cycle {cycle}", operators, self.bits_crossing(cycle + 1))
                pipeline.valid = pipeline.register(pipeline.valid, f"b{cycle + 1}_valid", reset=True)
                pipeline.tags = [  # a folded graph's phase travels with its values
                    pipeline.register(tag, f"b{cycle + 1}_tag{i}", reset=True)
                    for i, tag in enumerate(pipeline.tags)
                ]
            else:
                results = [row.at(v, self.cycles) for row in rows for v in self.outputs]
                return pipeline.stage(f"cycle {cycle}", operators, results)
        raise AssertionError("unreachable")


def _reads(node: Node) -> list[int]:
    if node[0] == "add":
        return [value for value, _, _ in node[1]]
    return [node[1]]


class _Row:
    """One copy of the graph: each value's signal per cycle, registers made when first read."""

    def __init__(self, unit: AdderGraphUnit, m: Module, row: int, inputs: list[Term]):
        self.unit, self.m, self.row = unit, m, row
        self.signals: dict[tuple[int, int], Value] = {}
        for value, term in enumerate(inputs):
            low, high = unit.ranges[value]
            self.signals[(value, 0)] = fit(term.value, low, high)

    def at(self, value: int, cycle: int) -> Value:
        """The signal of ``value`` in ``cycle`` (registered from its own cycle on)."""
        key = (value, cycle)
        if key not in self.signals:
            if cycle <= self.unit.cycle_of[value]:
                raise AssertionError("a value is read before it is computed")
            earlier = self.at(value, cycle - 1)
            register = Signal(earlier.shape(), name=f"r{self.row}_v{value}_c{cycle}", reset_less=True)
            self.m.d.sync += register.eq(earlier)
            self.signals[key] = register
        return self.signals[key]

    def term(self, value: int, cycle: int) -> Term:
        low, high = self.unit.ranges[value]
        return Term(self.at(value, cycle), low, high)

    def compute(self, value: int) -> list[Operator]:
        """Build node ``value`` in its cycle; the operators it used."""
        unit = self.unit
        node = unit.nodes[value - unit.n_in]
        cycle, (low, high) = node_cycle(node), node_range(node)
        kind = node[0]
        if kind == "cast":
            cast = Cast(*node[2])
            result, _ = apply_cast(self.term(node[1], cycle), cast, rounded=node[3])
            assert (result.low, result.high) == (low, high), "cast range differs from its node"
            signal = result.value
        elif kind == "multiply":
            signal = fit(self.term(node[1], cycle).value * node[2], low, high)
        else:
            operands = [(self.term(v, cycle), shift, negated) for v, shift, negated in node[1]]
            signal = self._sum(node, operands, f"r{self.row}_n{value}")
        if not isinstance(signal, Signal | Const):  # named once: every reader uses the net
            net = Signal(signal.shape(), name=f"r{self.row}_v{value}")
            self.m.d.comb += net.eq(signal)
            signal = net
        self.signals[(value, cycle)] = signal
        return node_operators(node, unit.ranges, unit.live[value])

    def _sum(self, node: Node, operands, name: str) -> Value:
        constant, (low, high) = node[2], node_range(node)
        layout = _ternary_layout(node, self.unit.carry)
        if layout is not None:
            return self._ternary(operands, constant, layout, low, high, name)
        total: Value | int = constant
        for term, shift, negated in operands:
            shifted = term.value << shift
            total = total - shifted if negated else total + shifted
        if isinstance(total, int):
            return Const(total, shape_for_range(low, high))
        return fit(total, low, high)

    def _ternary(self, operands, constant: int, layout, low: int, high: int, name: str) -> Value:
        """A three-input sum (three operands, or two and the constant) on one carry chain: each
        operand as the bits from the chain's start of ``x << shift`` (inverted inside the adder
        when negated, its +1 a carry-in), the constant as a third operand of its bits."""
        kind, start = layout
        width = _width(low, high)
        vectors: list[Value] = []
        low_bits: Value | None = None
        for term, shift, negated in operands:
            shifted = Cat(Const(0, shift), extend(term.value, width - shift))[:width]
            vectors.append(shifted[start:])
            if not negated and shift < start:
                low_bits = shifted[:start]
        raw = constant & ((1 << width) - 1)
        if len(vectors) < 3:
            vectors.append(Const(raw >> start, width - start))
        if start and low_bits is None:  # only the constant (or nothing) reaches the low bits
            low_bits = Const(raw & ((1 << start) - 1), start)
        upper = Signal(width - start, name=f"{name}_sum")
        self.m.submodules[name] = ternary_adder(kind, *vectors, upper)
        value = upper if not start else Cat(low_bits, upper)
        return value.as_signed() if shape_for_range(low, high).signed else value


def ternary_kind(starts, constant: int, low: int, high: int, carry: str):
    """The ``TernaryAdderKind`` of a ternary sum and the first bit of its chain (the bits below
    are wires); ``starts``: (shift, negated) of each variable operand."""
    start = _passthrough(list(starts), constant)
    inverted = tuple(negated for _, negated in starts) + (False,) * (3 - len(starts))
    carries = sum(negated for _, negated in starts)
    return TernaryAdderKind(_width(low, high) - start, inverted, carries, carry), start


def _ternary_layout(node: Node, carry: str | None):
    """(kind, chain start) of a node built as a ternary adder module, else None."""
    if carry is None or node[0] != "add":
        return None
    operands, constant = node[1], node[2]
    if not (len(operands) == 3 or (len(operands) == 2 and constant)):
        return None
    starts = [(shift, negated) for _, shift, negated in operands]
    low, high = node_range(node)
    if _width(low, high) <= _passthrough(starts, constant):
        return None
    return ternary_kind(starts, constant, low, high, carry)


def node_operators(node: Node, ranges, live: int | None = None) -> list[Operator]:
    """The operators of a node (what the delay and resource models read), from its ranges:
    ``add2`` (two operands: carry-chain bits, bits needing LUTs), ``add3`` (a ternary adder),
    ``add_constant`` (one operand and a constant, or a negation: the carry chain alone), the
    cast's operators, ``multiply``. ``live``: the low bits of a sum that something reads
    (``AdderGraphUnit.live``); the adder bits above them are counted as removed."""
    kind, (low, high) = node[0], node_range(node)
    if kind == "cast":
        source = ranges[node[1]]
        term = Term(Const(0, shape_for_range(*source)), *source)
        return apply_cast(term, Cast(*node[2]), rounded=node[3])[1]
    if kind == "multiply":
        return [("dsp_multiply", _width(*ranges[node[1]]), abs(node[2]).bit_length() + 1)]
    operands, constant = node[1], node[2]
    starts = [(shift, negated) for _, shift, negated in operands]
    width = _width(low, high) if live is None else min(live, _width(low, high))
    chain = width - _passthrough(starts, constant)
    if not operands or (len(operands) == 1 and not operands[0][2] and not constant) or chain <= 0:
        return []  # a constant, a shift, or bits no one reads: wiring
    if len(operands) == 1:
        return [("add_constant", chain, 0)]
    if len(operands) == 2 and not constant:
        return [("add2", chain, _overlap(operands, ranges, width))]
    return [("add3", chain, 0)]


def _passthrough(starts: list[tuple[int, bool]], constant: int) -> int:
    """Low bits that one summand alone reaches (wires, not adder bits): below the second
    summand's first bit when the lowest is added, not subtracted. ``starts``: (shift, negated)
    of the operands; the constant starts at its lowest set bit."""
    starts = sorted(starts + ([((constant & -constant).bit_length() - 1, False)] if constant else []))
    if len(starts) < 2 or starts[0][1] or starts[0][0] == starts[1][0]:
        return starts[0][0] if starts else 0
    return starts[1][0]


def _overlap(operands, ranges, width: int) -> int:
    """Bits of a two-operand sum where both operands carry signals: what needs LUTs (a bit
    that one operand reaches only by zero extension passes through the carry chain alone)."""
    reach = []
    for value, shift, _ in operands:
        low, high = ranges[value]
        top = width if low < 0 else min(width, shift + _width(low, high))
        reach.append((shift, top))
    (a0, a1), (b0, b1) = reach
    return max(0, min(a1, b1) - max(a0, b0))

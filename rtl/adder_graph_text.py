"""An ``AdderGraphUnit`` written straight to Verilog text, without Amaranth and Yosys.

A dense layer's adder graph is thousands of small adders; elaborating it in Amaranth and having
Yosys write it takes most of a compile. The graph is a plain netlist, so this writer prints it
directly: one wire per value, one ``rtlflow_add3`` instance per ternary adder, one register per
value and cycle it waits, the valid chain with its reset, the ports the unit's Amaranth
signature has (``x__payload``, ``x__valid``, ``y__payload``, ``y__valid``, and ``clk``/``rst``
when clocked, ``en`` when it stalls). It computes what ``AdderGraphUnit.build`` computes, bit
for bit: every value is held in the width of its exact range (signed when the range reaches
below 0), which represents the same integer whatever width Amaranth gave it, and every sum is
taken modulo 2^width of its result, exact because the result lies in its range.
"""

from __future__ import annotations

from rtlflow.rtl.adder_graph import AdderGraphUnit, _ternary_layout, node_cycle
from rtlflow.rtl.arith import Cast, round_half_even, shape_for_range

#: a value in the text: a wire or register name with its width, or an integer constant
Operand = tuple[str, int, bool] | int


def _literal(value: int, width: int) -> str:
    return f"{width}'h{value % (1 << width):x}"


def _extend(operand: Operand, width: int) -> str:
    """``operand`` (a constant, or a plain name: a part-select of a part-select is not
    Verilog-2005, and tools read it differently) as exactly ``width`` bits (two's complement
    of its integer, wrapped)."""
    if isinstance(operand, int):
        return _literal(operand, width)
    name, bits, is_signed = operand
    if width == bits:
        return name
    if width < bits:
        return f"{name}[{width - 1}:0]"
    fill = f"{{{width - bits}{{{name}[{bits - 1}]}}}}" if is_signed else f"{width - bits}'h0"
    return f"{{{fill}, {name}}}"


def _shifted(operand: Operand, shift: int, width: int) -> str | None:
    """``operand << shift`` as ``width`` bits (None when nothing of it is left)."""
    if shift >= width:
        return None
    if shift == 0:
        return _extend(operand, width)
    return f"{{{_extend(operand, width - shift)}, {shift}'h0}}"


class _Text:
    """The module's text as it is written: declarations, assignments, instances, registers."""

    def __init__(self, unit: AdderGraphUnit):
        self.unit = unit
        self.declarations: list[str] = []
        self.statements: list[str] = []
        self.registers: list[tuple[str, str, bool]] = []  # (target, source, has a reset)
        self.values: dict[tuple[int, int, int], Operand] = {}  # (row, value, cycle)

    def wire(self, name: str, width: int, source: str) -> str:
        self.declarations.append(f"  wire [{width - 1}:0] {name};")
        self.statements.append(f"  assign {name} = {source};")
        return name

    def register(self, name: str, width: int, source: str, *, reset: bool = False) -> str:
        self.declarations.append(f"  reg [{width - 1}:0] {name} = {_literal(0, width)};")
        self.registers.append((name, source, reset))
        return name

    # ---- values ------------------------------------------------------------------------

    def shape(self, value: int) -> tuple[int, bool]:
        low, high = self.unit.ranges[value]
        return shape_for_range(low, high).width, low < 0

    def at(self, row: int, value: int, cycle: int) -> Operand:
        """``value`` of ``row`` in ``cycle``: registered once per cycle from its own on."""
        key = (row, value, cycle)
        if key not in self.values:
            if cycle <= self.unit.cycle_of[value]:
                raise AssertionError("a value is read before it is computed")
            earlier = self.at(row, value, cycle - 1)
            width, is_signed = self.shape(value)
            name = self.register(f"r{row}_v{value}_c{cycle}", width, _extend(earlier, width))
            self.values[key] = (name, width, is_signed)
        return self.values[key]

    def compute(self, row: int, value: int) -> None:
        unit = self.unit
        node = unit.nodes[value - unit.n_in]
        cycle = node_cycle(node)
        width, is_signed = self.shape(value)
        name = f"r{row}_v{value}"
        if node[0] == "cast":
            source = self._cast(row, value, node)
        elif node[0] == "multiply":
            source = self._multiply(self.at(row, node[1], cycle), node[2], width)
        else:
            operands = [(self.at(row, v, cycle), s, n) for v, s, n in node[1]]
            if not operands:  # a constant
                self.values[(row, value, cycle)] = node[2]
                return
            layout = _ternary_layout(node, unit.carry)
            if layout is not None:
                source = self._ternary(f"r{row}_n{value}", operands, node[2], layout, width)
            else:
                source = self._sum(operands, node[2], width)
        self.values[(row, value, cycle)] = (self.wire(name, width, source), width, is_signed)

    # ---- nodes -------------------------------------------------------------------------

    @staticmethod
    def _sum(operands, constant: int, width: int) -> str:
        text = _literal(constant, width)
        for operand, shift, negated in operands:
            shifted = _shifted(operand, shift, width)
            if shifted is not None:
                text += f" {'-' if negated else '+'} {shifted}"
        return text

    def _ternary(self, name: str, operands, constant: int, layout, width: int) -> str:
        """As ``_Row._ternary``: the operands from the chain's start on a ``rtlflow_add3``,
        the bits below it wires (the one operand, or the constant, that reaches them)."""
        kind, start = layout
        vectors: list[str] = []
        low_bits: str | None = None
        for index, (operand, shift, negated) in enumerate(operands):
            shifted = _shifted(operand, shift, width) or _literal(0, width)
            wire = self.wire(f"{name}_o{index}", width, shifted)
            vectors.append(f"{wire}[{width - 1}:{start}]")
            if not negated and shift < start:
                low_bits = f"{wire}[{start - 1}:0]"
        raw = constant % (1 << width)
        if len(vectors) < 3:
            vectors.append(_literal(raw >> start, width - start))
        if start and low_bits is None:
            low_bits = _literal(raw, start)
        upper = f"{name}_sum"
        self.declarations.append(f"  wire [{width - start - 1}:0] {upper};")
        inverted = sum(int(flag) << i for i, flag in enumerate(kind.inverted))
        carry_bits = 8 if kind.carry == "CARRY8" else 4
        self.statements.append(
            f"  rtlflow_add3 #(.WIDTH({kind.width}), .INVERT(3'd{inverted}), "
            f".CARRIES({kind.carries}), .CARRY_BITS({carry_bits})) {name} "
            f"(.a({vectors[0]}), .b({vectors[1]}), .c({vectors[2]}), .y({upper}));"
        )
        return upper if not start else f"{{{upper}, {low_bits}}}"

    @staticmethod
    def _multiply(operand: Operand, constant: int, width: int) -> str:
        """A product by a constant (a DSP slice's), both operands signed: Verilog extends them
        to the result's width and keeps the low bits, the exact product modulo 2^width."""
        bits = abs(constant).bit_length() + 1
        factor = f"$signed({_literal(constant, bits)})"
        if isinstance(operand, int):
            return _literal(operand * constant, width)
        name, _, is_signed = operand
        value = f"$signed({name})" if is_signed else f"$signed({{1'b0, {name}}})"
        return f"{value} * {factor}"

    def _cast(self, row: int, value: int, node) -> str:
        """``apply_cast``: the rounding constant (unless already added), the shift (half to
        even where asked), then saturation or wrapping, on a working width that holds every
        intermediate value."""
        source_value, cast, rounded = node[1], Cast(*node[2]), node[3]
        operand = self.at(row, source_value, node_cycle(node))
        low, high = self.unit.ranges[source_value]
        constant = 0 if rounded else cast.rounding_constant
        low, high = low + constant, high + constant
        result_width, _ = self.shape(value)
        width = (max(shape_for_range(low, high).width, result_width, cast.width)
                 + abs(cast.shift) + 2)
        name = f"r{row}_v{value}"
        text = self.wire(f"{name}_t", width, f"{_extend(operand, width)} + {_literal(constant, width)}")
        shift = cast.shift
        if shift > 0:
            shifted = f"{{{{{shift}{{{text}[{width - 1}]}}}}, {text}[{width - 1}:{shift}]}}"
            if cast.rounding == "RND_CONV":
                half = 1 << (shift - 1)
                low, high = round_half_even(low - half, shift), round_half_even(high - half, shift)
                down = self.wire(f"{name}_d", width, shifted)
                tie = f"({text}[{shift - 1}:0] == {_literal(0, shift)})"
                shifted = f"{{{down}[{width - 1}:1], {down}[0] & ~{tie}}}"
            else:
                low, high = low >> shift, high >> shift
        elif shift < 0:
            shifted = f"{{{text}[{width - 1 + shift}:0], {-shift}'h0}}"
            low, high = low << -shift, high << -shift
        else:
            shifted = text
        result = self.wire(f"{name}_s", width, shifted)
        if low >= cast.saturation_low and high <= cast.max_raw:
            return f"{result}[{result_width - 1}:0]"
        if cast.overflow in ("SAT", "SAT_SYM"):
            if high > cast.max_raw:
                top = _literal(cast.max_raw, width)
                result = self.wire(
                    f"{name}_h", width,
                    f"($signed({result}) > $signed({top})) ? {top} : {result}",
                )
            if low < cast.saturation_low:
                bottom = _literal(cast.saturation_low, width)
                result = self.wire(
                    f"{name}_l", width,
                    f"($signed({result}) < $signed({bottom})) ? {bottom} : {result}",
                )
        return f"{result}[{result_width - 1}:0]"


def adder_graph_verilog(unit: AdderGraphUnit, name: str) -> str:
    """The Verilog module ``name`` of ``unit`` (its registers and stall as built)."""
    text = _Text(unit)
    element = unit.input_shape.width
    for row in range(unit.rows):
        for k in range(unit.n_in):
            base = (row * unit.n_in + k) * element
            width, is_signed = text.shape(k)
            if width <= element:  # the low bits that hold the range (Amaranth's ``fit``)
                source = f"x__payload[{base + width - 1}:{base}]"
            else:
                top = f"x__payload[{base + element - 1}]"
                fill = f"{{{width - element}{{{top}}}}}" if unit.input_shape.signed else (
                    f"{width - element}'h0")
                source = f"{{{fill}, x__payload[{base + element - 1}:{base}]}}"
            wire = text.wire(f"r{row}_i{k}", width, source)
            text.values[(row, k, 0)] = (wire, width, is_signed)

    registers = unit.registers | unit.plan.forced
    valid = "x__valid"

    def cross(boundary: int) -> None:
        nonlocal valid
        if boundary in registers:
            valid = text.register(f"b{boundary}_valid", 1, valid, reset=True)

    cross(0)
    by_cycle: list[list[int]] = [[] for _ in range(unit.cycles + 1)]
    for index, node in enumerate(unit.nodes):
        by_cycle[node_cycle(node)].append(unit.n_in + index)
    results: list[Operand] = []
    for cycle, values in enumerate(by_cycle):
        for row in range(unit.rows):
            for value in values:
                text.compute(row, value)
        if cycle < unit.cycles:
            valid = text.register(f"b{cycle + 1}_valid", 1, valid, reset=True)
        else:
            results = [text.at(row, v, unit.cycles)
                       for row in range(unit.rows) for v in unit.outputs]
    boundary = unit.cycles + 1
    if boundary in registers:
        registered = []
        for index, result in enumerate(results):
            if not isinstance(result, int):
                _, width, is_signed = result
                result = (text.register(f"b{boundary}_v{index}", width, result[0]), width,
                          is_signed)
            registered.append(result)
        results = registered
    cross(boundary)

    out = unit.output_shape.width
    payload = ", ".join(_extend(result, out) for result in reversed(results))
    clocked = unit.latency > 0
    ports = ["x__valid", "x__payload", "y__valid", "y__payload"]
    if clocked:
        ports += ["clk", "rst"]
    if unit.stall:
        ports.append("en")
    lines = [f"module {name}({', '.join(ports)});"]
    lines += [
        f"  input [{unit.input_count * element - 1}:0] x__payload;",
        "  input x__valid;",
        f"  output [{unit.output_count * out - 1}:0] y__payload;",
        "  output y__valid;",
    ]
    if clocked:
        lines += ["  input clk;", "  input rst;"]
    if unit.stall:
        lines.append("  input en;")
    lines += text.declarations
    lines += text.statements
    lines.append(f"  assign y__payload = {{{payload}}};")
    lines.append(f"  assign y__valid = {valid};")
    for target, source, reset in text.registers:
        update = f"{target} <= {source};"
        if unit.stall:
            update = f"if (en) {update}"
        if reset:
            update = f"if (rst) {target} <= 1'h0; else {update}"
        lines.append(f"  always @(posedge clk) {update}")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"

"""Components written as Verilog text straight from their Amaranth statements.

Amaranth's own path (a bit-level netlist, its checks, RTLIL, then Yosys to write Verilog) costs
seconds for a unit of a few thousand operators: the gather and scatter of a graph network took
30 s of its compile. The statements a unit builds are already a netlist of word-level
operators, so this writer prints them as they are: one wire per distinct operation (the same
operator on the same operands is computed once) in the width Amaranth gives it
(``Value.shape()``), its operands extended (by their own signedness) or cut to the width
the operator works in, the same way Amaranth defines each operator; one register per signal of
the ``sync`` domain with its synchronous reset (which has priority over an ``EnableInserter``'s
enable, as in Amaranth); ``comb`` signals as their final assigned value (their ``init`` where no
statement assigns them); ``Instance`` submodules as module instances; read-only memories as initialised arrays read
through their register.

Every operand is a plain name or a constant (a part-select is only ever taken of a name: tools
read a part-select of a part-select differently). What the writer does not know (a writable
memory, a dynamic part-select, a local clock domain, an assignment to part of a signal) raises
``Unsupported``, and the caller uses Amaranth's path for that component.
"""

from __future__ import annotations

import re
import sys

from amaranth.hdl import ClockSignal, Const, Fragment, Instance, ResetSignal, Shape, Signal, Value
from amaranth.hdl._ast import Assign, Concat, Operator, Slice, Switch, SwitchValue
from amaranth.hdl._ir import PortDirection
from amaranth.hdl._mem import MemoryInstance

from rtlflow.rtl.keywords import KEYWORDS


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Unsupported(Exception):
    """The component uses something this writer does not print."""


def _literal(value: int, width: int) -> str:
    return f"{width}'h{value % (1 << width):x}"


def _matches(test: Value, patterns: tuple[str, ...] | None) -> Value | None:
    """The condition that ``test`` matches one of ``patterns`` (None: always; an empty tuple:
    never, as a constant 0)."""
    if patterns is None:
        return None
    terms = []
    for pattern in patterns:
        bits = pattern[::-1]  # bit 0 first
        mask = sum(1 << i for i, bit in enumerate(bits) if bit != "-")
        value = sum(1 << i for i, bit in enumerate(bits) if bit == "1")
        if mask == 0:
            return None
        terms.append((test.as_unsigned() & mask) == value)
    if not terms:
        return Const(0, 1)
    condition = terms[0]
    for term in terms[1:]:
        condition = condition | term
    return condition


#: a choice among more cases than this is written as a tree (``_Writer.index_tree``)
INDEX_TREE_CASES = 16


def _indexed_cases(value: SwitchValue) -> list | None:
    """The cases of a choice indexed by its test (case i when the test equals i, as
    ``Array(...)[index]`` makes them), if it is one of more than ``INDEX_TREE_CASES``; else
    None."""
    bits = len(value.test)
    cases = list(value.cases)
    if isinstance(value.test, Const) or not INDEX_TREE_CASES < len(cases) <= 1 << bits:
        return None
    for number, (patterns, _) in enumerate(cases):
        if patterns is None or len(patterns) != 1 or patterns[0] != format(number, f"0{bits}b"):
            return None
    return [case for _, case in cases]


class _Hold:
    """A signal's value before the statements being run assign it (in ``sync``: the register
    itself; in ``comb``: its init, ``_resolve_holds``)."""

    def __init__(self, signal: Signal):
        self.signal = signal

    def shape(self) -> Shape:
        return self.signal.shape()


class _Mux:
    """``condition ? then : otherwise`` in ``shape`` (the signal a conditional assignment
    leaves it in)."""

    def __init__(self, condition: Value, then, otherwise, shape: Shape):
        self.condition, self.then, self.otherwise, self._shape = condition, then, otherwise, shape

    def shape(self) -> Shape:
        return self._shape


class _Writer:
    def __init__(self, name: str, ports: dict[str, tuple[Value, PortDirection]]):
        self.name = name
        self.ports = ports
        self.used: set[str] = set(ports) | {"clk", "rst"} | KEYWORDS
        self.names: dict[int, str] = {}  # id of a signal or operator -> its name in the text
        self.shapes: dict[int, Shape] = {}
        self.keep: list = []  # everything named or measured (so that no id is reused)
        self.declarations: list[str] = []
        self.statements: list[str] = []
        self.clocked = False
        self.comb: dict[int, tuple[Signal, object]] = {}  # id -> (signal, its value)
        self.sync: dict[int, tuple[Signal, object]] = {}
        self.from_instances: dict[int, Signal] = {}
        self.pending: list[tuple[Instance, str]] = []
        self.memories: list[tuple[MemoryInstance, str]] = []
        self.counter = 0
        self.computed: dict[tuple[int, str], str] = {}  # (width, operation text) -> its wire
        for port, (value, _) in ports.items():
            if not isinstance(value, Signal):
                raise Unsupported(f"port {port} is not a signal")
            self.names[id(value)] = port
            self.keep.append(value)

    # ---- statements ---------------------------------------------------------------------

    def fragment(self, fragment: Fragment, path: str) -> None:
        if isinstance(fragment, Instance):
            self.instance(fragment, path)
            return
        if isinstance(fragment, MemoryInstance):
            self.memory(fragment, path)
            return
        if type(fragment) is not Fragment or fragment.domains:
            raise Unsupported(f"{type(fragment).__name__} {path}")
        for domain, statements in fragment.statements.items():
            if domain not in ("comb", "sync"):
                raise Unsupported(f"domain {domain}")
            state = self.comb if domain == "comb" else self.sync
            self.clocked |= domain == "sync"
            for key, (signal, value) in self.run(statements, {}).items():
                if key in self.comb or key in self.sync:
                    raise Unsupported(f"signal {signal.name} driven from two fragments")
                state[key] = (signal, value)
        for index, (sub, name, _) in enumerate(fragment.subfragments):
            self.fragment(sub, name or f"{path}_{index}")

    def run(self, statements, env: dict[int, tuple[Signal, object]]):
        """The values of the signals ``statements`` assign (id -> (signal, value)), given those
        assigned before (``env``, updated and returned); a signal read on a path where it is
        not assigned is a ``_Hold``."""
        for statement in statements:
            if isinstance(statement, Assign):
                if not isinstance(statement.lhs, Signal):
                    raise Unsupported("an assignment to part of a signal")
                self.keep.append(statement.lhs)
                env[id(statement.lhs)] = (statement.lhs, statement.rhs)
            elif isinstance(statement, Switch):
                branches = []
                for patterns, body, _ in statement.cases:
                    condition = _matches(statement.test, patterns)
                    # a branch starts from what is assigned before it (a nested Switch that
                    # assigns nothing on some path leaves that there)
                    branches.append((condition, self.run(body, dict(env))))
                    if condition is None:
                        break
                changed = {key: signal for _, assigned in branches
                           for key, (signal, value) in assigned.items()
                           if key not in env or env[key][1] is not value}  # fmt: skip
                for key, signal in changed.items():
                    before = env[key][1] if key in env else _Hold(signal)
                    value = before
                    for condition, assigned in reversed(branches):
                        chosen = assigned[key][1] if key in assigned else before
                        value = chosen if condition is None else _Mux(
                            condition, chosen, value, signal.shape())
                    env[key] = (signal, value)
            else:
                raise Unsupported(type(statement).__name__)
        return env

    def instance(self, instance: Instance, path: str) -> None:
        """Note an instance (printed by ``text``, once every signal's driver is known)."""
        for port, (value, kind) in instance.ports.items():
            if kind == "o" and isinstance(value, Signal):
                self.from_instances[id(value)] = value
            elif kind != "i":
                raise Unsupported(f"instance port {port} ({kind})")
        self.pending.append((instance, path))

    def memory(self, memory: MemoryInstance, path: str) -> None:
        """Note a read-only memory (a table): its read ports' data are driven here."""
        if memory._write_ports:
            raise Unsupported(f"memory {path} with write ports")
        for port in memory._read_ports:
            if port._domain not in ("sync", "comb") or not isinstance(port._data, Signal):
                raise Unsupported(f"read port of memory {path}")
            if port._domain == "sync":
                self.clocked = True
            self.from_instances[id(port._data)] = port._data
        self.memories.append((memory, path))

    def memory_text(self, memory: MemoryInstance, path: str) -> tuple[list[str], list[str]]:
        """(declarations, statements) of a memory: its array with the initial contents and a
        read per port (registered for a ``sync`` port, enabled by its ``en``)."""
        data = memory._data
        width, depth = Shape.cast(data.shape).width, data.depth
        name = self.fresh(path)
        declarations = [f"  reg [{width - 1}:0] {name} [0:{depth - 1}];"]
        init = [int(Value.cast(v).value) if not isinstance(v, int) else v for v in data.init]
        declarations.append("  initial begin")
        declarations += [f"    {name}[{i}] = {_literal(v, width)};" for i, v in enumerate(init)]
        declarations.append("  end")
        statements = []
        for port in memory._read_ports:
            target, address = self.signal(port._data), self.expression(port._addr)
            if port._domain == "comb":
                statements.append(f"  assign {target} = {name}[{address}];")
                continue
            declarations.append(f"  reg [{width - 1}:0] {target} = {_literal(0, width)};")
            enable = "" if isinstance(port._en, Const) and port._en.value else (
                f"if ({self.expression(port._en)}) ")
            statements.append(f"  always @(posedge clk) {enable}{target} <= {name}[{address}];")
        return declarations, statements

    def instance_text(self, instance: Instance, path: str) -> str:
        connections = []
        for port, (value, kind) in instance.ports.items():
            if kind == "i":
                connections.append(f".{port}({self.expression(value)})")
            else:
                connections.append(f".{port}({self.signal(value)})")
        parameters = ""
        if instance.parameters:
            values = []
            for key, value in instance.parameters.items():
                if not isinstance(value, int):
                    raise Unsupported(f"instance parameter {key}")
                values.append(f".{key}({value})")
            parameters = f" #({', '.join(values)})"
        name = self.fresh(path or "instance")
        return f"  {instance.type}{parameters} {name} ({', '.join(connections)});"

    # ---- names and shapes ---------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in hint) or "n"
        if base[0].isdigit():
            base = "n" + base
        name, index = base, 0
        while name in self.used:
            index += 1
            name = f"{base}_{index}"
        self.used.add(name)
        return name

    def signal(self, signal: Signal) -> str:
        key = id(signal)
        if key not in self.names:
            self.names[key] = self.fresh(signal.name)
            self.keep.append(signal)
        return self.names[key]

    def shape(self, value) -> Shape:
        """``value.shape()``, each operator's computed once (Amaranth recomputes its operands')."""
        key = id(value)
        shape = self.shapes.get(key)
        if shape is not None:
            return shape
        if isinstance(value, Operator):
            shapes = [self.shape(operand) for operand in value.operands]
            shape = _operator_shape(value.operator, shapes)
        elif isinstance(value, SwitchValue):
            shape = Shape._unify(self.shape(case) for _, case in value.cases)
        elif isinstance(value, Concat):
            shape = Shape(sum(self.shape(part).width for part in value.parts))
        else:
            shape = value.shape()
        self.shapes[key] = shape
        self.keep.append(value)
        return shape

    # ---- expressions --------------------------------------------------------------------

    def extend(self, value, width: int) -> str:
        """``value`` as exactly ``width`` bits: extended by its own signedness, or cut."""
        if isinstance(value, Const):
            return _literal(value.value, width)
        shape = self.shape(value)
        if shape.width == 0:
            return _literal(0, width)
        name = self.expression(value)
        if width == shape.width:
            return name
        if width < shape.width:
            return f"{name}[{width - 1}:0]"
        if shape.signed:
            return f"{{{{{width - shape.width}{{{name}[{shape.width - 1}]}}}}, {name}}}"
        return f"{{{_literal(0, width - shape.width)}, {name}}}"

    def expression(self, value) -> str:
        """A name (or constant) holding ``value``, in its own width."""
        if isinstance(value, Const):
            return _literal(value.value, max(value.shape().width, 1))
        if isinstance(value, _Hold):
            return self.signal(value.signal)
        if isinstance(value, Signal):
            key = id(value)
            if key in self.comb or key in self.sync or key in self.names or (
                key in self.from_instances
            ):
                return self.signal(value)
            # never assigned: a wire holding its init (a name, so that it can be sliced)
            name = self.signal(value)
            self.declarations.append(f"  wire [{max(len(value), 1) - 1}:0] {name};")
            self.statements.append(f"  assign {name} = {_literal(value.init, max(len(value), 1))};")
            return name
        if isinstance(value, ClockSignal | ResetSignal):
            if value.domain != "sync":
                raise Unsupported(f"domain {value.domain}")
            self.clocked = True
            return "clk" if isinstance(value, ClockSignal) else "rst"
        key = id(value)
        if key in self.names:
            return self.names[key]
        width = self.shape(value).width
        if width == 0:
            return _literal(0, 1)
        text = self.operation(value, width)
        self.keep.append(value)
        if _IDENTIFIER.fullmatch(text):  # the same bits as a name already there
            self.names[key] = text
            return text
        name = self.computed.get((width, text))
        if name is None:  # else the same operation on the same operands: computed once
            name = self.computed[(width, text)] = self.fresh(f"t{self.counter}")
            self.counter += 1
            self.declarations.append(f"  wire [{width - 1}:0] {name};")
            self.statements.append(f"  assign {name} = {text};")
        self.names[key] = name
        return name

    def operation(self, value, width: int) -> str:
        if isinstance(value, Slice):
            inner = value.value
            if isinstance(inner, Const):
                return _literal(inner.value >> value.start, width)
            name = self.expression(inner)
            if self.shape(inner).width == 1:
                return name
            return f"{name}[{value.stop - 1}:{value.start}]"
        if isinstance(value, Concat):
            parts = [self.extend(part, self.shape(part).width) for part in value.parts
                     if self.shape(part).width]  # fmt: skip
            return parts[0] if len(parts) == 1 else "{" + ", ".join(reversed(parts)) + "}"
        if isinstance(value, SwitchValue):
            indexed = _indexed_cases(value)
            if indexed is not None:
                return self.index_tree(value.test, indexed, width)
            text = _literal(0, width)
            for patterns, case in reversed(value.cases):
                condition = _matches(value.test, patterns)
                case_text = self.extend(case, width)
                text = case_text if condition is None else (
                    f"{self.expression(condition)} ? {case_text} : {text}")
            return text
        if isinstance(value, _Mux):
            return (f"{self.expression(value.condition)} ? {self.extend(value.then, width)} : "
                    f"{self.extend(value.otherwise, width)}")
        if isinstance(value, Operator):
            return self.operator(value, width)
        raise Unsupported(type(value).__name__)

    def index_tree(self, test: Value, cases: list, width: int) -> str:
        """``cases[test]`` (0 past the end) as a balanced tree of 2:1 choices on the bits of
        ``test``: nested as deep as ``test`` is wide. A chain of a condition per case nests as
        deep as there are cases, and a parser that recurses (the WebAssembly Yosys) runs out of
        stack at several hundred: a unit folded over 1,024 phases chooses among 1,024."""
        index = self.expression(test)
        bits = len(test)

        def tree(base: int, bit: int) -> str:
            if base >= len(cases):
                return _literal(0, width)
            if bit < 0:
                return self.extend(cases[base], width)
            low, high = tree(base, bit - 1), tree(base + (1 << bit), bit - 1)
            if low == high:
                return low
            select = index if bits == 1 else f"{index}[{bit}]"
            return f"({select} ? {high} : {low})"

        return tree(0, bits - 1)

    def operator(self, value: Operator, width: int) -> str:
        op, operands = value.operator, value.operands
        if len(operands) == 1:
            (a,) = operands
            if op in ("u", "s", "+"):
                return self.extend(a, width)
            if op == "~":
                return f"~{self.extend(a, width)}"
            if op == "-":
                return f"-{self.extend(a, width)}"
            if op in ("b", "r|"):
                return f"|{self.expression(a)}"
            if op == "r&":
                return f"&{self.expression(a)}"
            if op == "r^":
                return f"^{self.expression(a)}"
        elif len(operands) == 2:
            a, b = operands
            if op in ("+", "-", "*", "&", "|", "^"):
                return f"{self.extend(a, width)} {op} {self.extend(b, width)}"
            if op in ("==", "!=", "<", "<=", ">", ">="):
                common = max(self.shape(a).width, self.shape(b).width) + 1
                left, right = self.extend(a, common), self.extend(b, common)
                if op in ("==", "!="):
                    return f"{left} {op} {right}"
                return f"$signed({left}) {op} $signed({right})"
            if op == "<<":
                return f"{self.extend(a, width)} << {self.expression(b)}"
            if op == ">>":
                if self.shape(a).signed:
                    return f"$signed({self.expression(a)}) >>> {self.expression(b)}"
                return f"{self.expression(a)} >> {self.expression(b)}"
        raise Unsupported(f"operator {op}")

    # ---- the module ---------------------------------------------------------------------

    def text(self) -> str:
        instances = [self.instance_text(instance, path) for instance, path in self.pending]
        memories = [self.memory_text(memory, path) for memory, path in self.memories]
        memory_data = {id(port._data) for memory, _ in self.memories for port in memory._read_ports}
        registers = []
        for signal, value in self.sync.values():
            width = len(signal)
            if width == 0:
                continue
            name, init = self.signal(signal), _literal(signal.init, width)
            update = f"{name} <= {self.extend(value, width)};"
            if not signal.reset_less:
                update = f"if (rst) {name} <= {init}; else {update}"
            registers.append((name, width, init, update))
        combinational = [
            (self.signal(signal), len(signal), self.extend(value, len(signal)))
            for signal, value in self.comb.values()
            if len(signal)
        ]
        ports = list(self.ports) + (["clk", "rst"] if self.clocked else [])
        lines = [f"module {self.name}({', '.join(ports)});"]
        for port, (value, direction) in self.ports.items():
            kind = "input" if direction == PortDirection.Input else "output"
            lines.append(f"  {kind} [{max(len(value), 1) - 1}:0] {port};")
        if self.clocked:
            lines += ["  input clk;", "  input rst;"]
        lines += [f"  reg [{width - 1}:0] {name} = {init};" for name, width, init, _ in registers]
        lines += [f"  wire [{width - 1}:0] {name};" for name, width, _ in combinational
                  if name not in self.ports]  # fmt: skip
        lines += [f"  wire [{max(len(signal), 1) - 1}:0] {self.signal(signal)};"
                  for key, signal in self.from_instances.items()
                  if self.signal(signal) not in self.ports and key not in memory_data]  # fmt: skip
        for declarations, _ in memories:
            lines += declarations
        lines += self.declarations
        lines += self.statements
        lines += [f"  assign {name} = {value};" for name, _, value in combinational]
        lines += instances
        for _, statements in memories:
            lines += statements
        for port, (value, direction) in self.ports.items():
            key = id(value)
            if direction == PortDirection.Output and len(value) and not (
                key in self.comb or key in self.sync or key in self.from_instances
            ):
                lines.append(f"  assign {port} = {_literal(value.init, len(value))};")
        lines += [f"  always @(posedge clk) {update}" for *_, update in registers]
        lines.append("endmodule")
        return "\n".join(lines) + "\n"


def _operator_shape(operator: str, shapes: list[Shape]) -> Shape:
    """``Operator.shape`` from its operands' shapes (Amaranth 0.5's rules)."""
    if len(shapes) == 1:
        (a,) = shapes
        if operator in ("+", "~"):
            return Shape(a.width, a.signed)
        if operator == "-":
            return Shape(a.width + 1, True)
        if operator in ("b", "r|", "r&", "r^"):
            return Shape(1, False)
        if operator == "u":
            return Shape(a.width, False)
        if operator == "s":
            return Shape(a.width, True)
    elif len(shapes) == 2:
        a, b = shapes
        if operator == "+":
            common = Shape._unify(shapes)
            return Shape(common.width + 1, common.signed)
        if operator == "-":
            return Shape(Shape._unify(shapes).width + 1, True)
        if operator == "*":
            return Shape(a.width + b.width, a.signed or b.signed)
        if operator in ("<", "<=", "==", "!=", ">", ">="):
            return Shape(1, False)
        if operator in ("&", "|", "^"):
            return Shape._unify(shapes)
        if operator == "<<":
            return Shape(a.width + 2**b.width - 1, a.signed)
        if operator == ">>":
            return Shape(a.width, a.signed)
    raise Unsupported(f"operator {operator}")


def _resolve_holds(value):
    """A ``comb`` signal not assigned on some path has its init there (not itself)."""
    if isinstance(value, _Hold):
        return Const(value.signal.init, value.signal.shape())
    if isinstance(value, _Mux):
        return _Mux(value.condition, _resolve_holds(value.then), _resolve_holds(value.otherwise),
                    value.shape())  # fmt: skip
    return value


def component_verilog(component, name: str, ports: dict[str, tuple[Value, PortDirection]]) -> str:
    """The Verilog module ``name`` of ``component`` with ``ports`` (as ``ports_of`` gives them);
    raises ``Unsupported`` when the component uses something this writer does not print."""
    fragment = Fragment.get(component, None)
    writer = _Writer(name, ports)
    writer.fragment(fragment, "top")
    for key, (signal, value) in writer.comb.items():
        writer.comb[key] = (signal, _resolve_holds(value))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))  # long operator chains are printed recursively
    try:
        return writer.text()
    finally:
        sys.setrecursionlimit(limit)

"""TableUnit: element-wise lookup tables (sigmoid, tanh, any function of one input).

Each element reads its own port of a ROM (a block RAM when large):
``index = clamp((x - start) >> shift, 0, size - 1)`` (a negative shift scales up), then the entry
at ``index``. The read port is synchronous, so the unit always has a register at the memory.
"""

from __future__ import annotations

from amaranth.hdl import Module, Shape, Value
from amaranth.lib.memory import Memory

from rtlflow.rtl.arith import Cast, Operator, Term, add, apply_cast
from rtlflow.rtl.pipeline import Pipeline, Unit, start_terms


def check_table(entries, shape=None) -> None:
    """A ROM's contents: a power-of-two number of entries (at least 2); with ``shape``, entries
    of that shape must be unsigned (the units that read them assume so)."""
    size = len(entries)
    if size < 2 or size & (size - 1):
        raise ValueError("a table needs a power-of-two number of entries (at least 2)")
    if shape is not None and Shape.cast(shape).signed:
        raise ValueError("a table here holds unsigned entries")


def table_index(term: Term, start: int, shift: int, index_bits: int) -> tuple[Term, list[Operator]]:
    """The table index for ``term``: subtract ``start``, drop ``shift`` bits, clamp into range."""
    operators: list[Operator] = []
    if start:
        term, operator = add(term, Term.constant(-start))
        operators.append(operator)
    index, used = apply_cast(term, Cast(shift, "TRN", "SAT", index_bits, signed=False))
    return index, operators + used


def read_ports(
    m: Module, pipeline: Pipeline, name: str, entries: tuple[int, ...], shape: Shape,
    indices: list[Term],
) -> tuple[list[Value], list[Operator]]:
    """One synchronous read port per index on a ROM holding ``entries``."""
    memory = Memory(shape=shape, depth=len(entries), init=entries)
    if pipeline.dry_run:
        memory._MustUse__silence = True
    m.submodules[name] = memory
    data, operators = [], []
    for index in indices:
        port = memory.read_port(domain="sync")
        m.d.comb += port.addr.eq(index.value)
        data.append(port.data)
        operators.append(("memory", Shape.cast(shape).width, len(entries)))
    return data, operators


class TableUnit(Unit):
    """``y_i = entries[clamp((x_i - start) >> shift, 0, len(entries) - 1)]``.

    Parameters
    ----------
    entries : table contents (raw integers of ``entry_shape``), a power-of-two count.
    entry_shape : shape of an entry, which is the output element shape.
    start : raw input value of the first entry; shift : input bits per index step (log2).
    input_shape, count : input element shape and number of elements.

    Latency: the registers chosen plus the memory's own (at least 1); throughput 1 per cycle.
    """

    def __init__(
        self,
        *,
        entries: tuple[int, ...],
        entry_shape,
        start: int,
        shift: int,
        input_shape,
        count: int,
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        check_table(entries)
        size = len(entries)
        self.entries = tuple(int(e) for e in entries)
        self.entry_shape = Shape.cast(entry_shape)
        self.start, self.shift = start, shift
        self.index_bits = size.bit_length() - 1
        super().__init__(
            input_shape=input_shape,
            input_count=count,
            output_shape=entry_shape,
            output_count=count,
            registers=registers,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        xs = start_terms(pipeline, inputs)
        indices, operators = [], []
        for x in xs:
            index, used = table_index(x, self.start, self.shift, self.index_bits)
            indices.append(index)
            operators += used
        data, used = read_ports(m, pipeline, "table", self.entries, self.entry_shape, indices)
        return pipeline.stage("table read", operators + used, data, memory_reads=len(data))

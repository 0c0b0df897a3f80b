"""TopLevel: the design's ports around a netlist of unit instances.

Every unit is its own Verilog module (identical units share one); the top level instantiates them as
black boxes (:class:`UnitInstance`) and connects their streams. All inputs of one inference arrive
together under ``in_valid``; when the design accepts a new inference only every ``ii`` cycles it
has an ``in_ready`` output, high when it can accept, so an inference is taken in a cycle where
``in_valid`` and ``in_ready`` are both high. All outputs leave together under ``out_valid``.

Streaming designs take their inputs as pixel beats, one per cycle at most, and have ``in_ready``
and ``out_ready``: while ``out_valid`` is high and ``out_ready`` low, every unit holds (its
registers are enabled by ``en``) and ``in_ready`` is low. A unit that pads the input's stream
(``StreamPadUnit``) has a ``take`` output, low while it sends the border: ``in_ready`` is low
then too.
Element i of a tensor (C order) sits at bits [i*W, (i+1)*W) of its data port.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, ClockSignal, Instance, Module, ResetSignal, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class UnitInstance(wiring.Component):
    """A unit module generated separately, used by name.

    Members
    -------
    x : ``In(stream.Signature(input_width, always_ready=True))``
    y : ``Out(stream.Signature(output_width, always_ready=True))``
    """

    def __init__(
        self, module: str, input_width: int, output_width: int, clocked: bool,
        stall: bool = False, take: bool = False,
    ):  # fmt: skip
        self.module, self.clocked, self.stall, self.take_port = module, clocked, stall, take
        members = {
            "x": In(stream.Signature(input_width, always_ready=True)),
            "y": Out(stream.Signature(output_width, always_ready=True)),
        }
        if stall:
            members["en"] = In(1)
        if take:
            members["take"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform) -> Instance:
        ports = {
            "i_x__payload": self.x.payload,
            "i_x__valid": self.x.valid,
            "o_y__payload": self.y.payload,
            "o_y__valid": self.y.valid,
        }
        if self.clocked:
            ports |= {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
        if self.stall:
            ports["i_en"] = self.en
        if self.take_port:
            ports["o_take"] = self.take
        return Instance(self.module, **ports)


@dataclass(frozen=True)
class InstanceSpec:
    """One unit of the netlist: ``name`` reads the values ``sources`` (their data concatenated,
    first in the low bits) and defines value ``name``."""

    name: str
    module: str
    input_width: int
    output_width: int
    clocked: bool
    sources: tuple[str, ...]
    stall: bool = False
    take: bool = False  # it reads the design input and says when it takes a beat (in_ready)
    join: bool = False  # its sources arrive at different times: their valids follow their data


@dataclass(frozen=True)
class TopSpec:
    """The netlist: input ports, unit instances in order, aliases (reshapes), output ports."""

    inputs: tuple[tuple[str, int], ...]  # (port base name, width)
    instances: tuple[InstanceSpec, ...]
    aliases: tuple[tuple[str, str], ...]  # (value name, value it renames)
    outputs: tuple[tuple[str, str], ...]  # (port base name, value name)
    ii: int = 1
    stream: bool = False  # pixel-stream inputs: in_ready and out_ready, every unit stalls


class TopLevel(wiring.Component):
    """The design: ``<input>_data`` and ``in_valid`` (and ``in_ready`` when ii > 1) in,
    ``<output>_data`` and ``out_valid`` out. Clock ``clk``, synchronous active-high reset ``rst``.
    """

    def __init__(self, spec: TopSpec):
        self.spec = spec
        widths = dict(spec.inputs)
        for instance in spec.instances:
            widths[instance.name] = instance.output_width
        for alias, target in spec.aliases:
            widths[alias] = widths[target]
        members: dict[str, wiring.Member] = {}
        for name, width in spec.inputs:
            members[f"{name}_data"] = In(width)
        members["in_valid"] = In(1)
        if spec.ii > 1 or spec.stream:
            members["in_ready"] = Out(1)
        for name, source in spec.outputs:
            members[f"{name}_data"] = Out(widths[source])
        members["out_valid"] = Out(1)
        if spec.stream:
            members["out_ready"] = In(1)
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        enable = Signal(name="en")
        take = Signal(name="take", init=1)  # low while a unit on the input stream takes nothing
        accepted = self._accept(m, enable, take)
        values: dict[str, tuple[Value, Value]] = {
            name: (getattr(self, f"{name}_data"), accepted) for name, _ in self.spec.inputs
        }
        aliases = dict(self.spec.aliases)
        units: dict[str, UnitInstance] = {}
        for spec in self.spec.instances:
            unit = UnitInstance(
                spec.module, spec.input_width, spec.output_width, spec.clocked, spec.stall,
                spec.take,
            )
            m.submodules[spec.name] = unit
            if spec.stall:
                m.d.comb += unit.en.eq(enable)
            if spec.take:
                m.d.comb += take.eq(unit.take)
            sources = [_resolve(source, aliases) for source in spec.sources]
            if spec.join:  # streams that arrive apart: each one's valid after the data
                valids = [values[source][1] for source in sources]
                payload = Cat(*(values[source][0] for source in sources), *valids)
                m.d.comb += [unit.x.payload.eq(payload), unit.x.valid.eq(Cat(*valids).any())]
            elif len(sources) == 1 and sources[0] in units:
                wiring.connect(m, units[sources[0]].y, unit.x)
            else:  # several values arrive in the same cycle (latency is balanced): one valid
                payload = Cat(*(values[source][0] for source in sources))
                m.d.comb += [unit.x.payload.eq(payload), unit.x.valid.eq(values[sources[0]][1])]
            units[spec.name] = unit
            values[spec.name] = (unit.y.payload, unit.y.valid)
        for index, (name, source) in enumerate(self.spec.outputs):
            payload, valid = values[_resolve(source, aliases)]
            m.d.comb += getattr(self, f"{name}_data").eq(payload)
            if index == 0:
                m.d.comb += self.out_valid.eq(valid)
        if not any(spec.clocked for spec in self.spec.instances) and self.spec.ii == 1:
            # a design of wiring alone (a reshape, an identity): no register, latency 0, but the
            # same clk and rst ports as every design; synthesis removes this unread flip-flop
            idle = Signal(name="wiring_only")
            m.d.sync += idle.eq(~idle)
        return m

    def _accept(self, m: Module, enable: Signal, take: Signal) -> Value:
        if self.spec.stream:
            # every register holds while an output waits for ready; a beat is taken when enabled
            # (and, when a unit pads the input's stream, when it is not sending the border)
            m.d.comb += [
                enable.eq(~self.out_valid | self.out_ready),
                self.in_ready.eq(enable & take),
            ]
            return self.in_valid & self.in_ready
        if self.spec.ii == 1:
            return self.in_valid
        return accept_gate(m, self.in_valid, self.in_ready, self.spec.ii)


def accept_gate(m: Module, valid: Value, ready: Value, ii: int) -> Value:
    """Take at most one input every ``ii`` cycles: drives ``ready`` and returns the cycles in
    which an input is taken (``valid`` and ``ready`` both high)."""
    wait = Signal(range(ii), name="ii_wait")
    accept = valid & ready
    m.d.comb += ready.eq(wait == 0)
    with m.If(accept):
        m.d.sync += wait.eq(ii - 1)
    with m.Elif(wait != 0):
        m.d.sync += wait.eq(wait - 1)
    return accept


def _resolve(name: str, aliases: dict[str, str]) -> str:
    while name in aliases:
        name = aliases[name]
    return name

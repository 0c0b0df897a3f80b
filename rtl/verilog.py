"""Verilog text for a component, ports named from its signature (Amaranth joins paths with __)."""

from __future__ import annotations

from amaranth.back import verilog
from amaranth.hdl import Const, Value
from amaranth.hdl._ir import PortDirection
from amaranth.lib import wiring


def ports_of(component: wiring.Component) -> dict[str, tuple[Value, PortDirection]]:
    """The signature's members as Verilog ports, leaving out constant members (the ``ready`` of
    an always-ready stream)."""
    ports = {}
    for path, member, value in component.signature.flatten(component):
        value = Value.cast(value)
        if isinstance(value, Const):
            continue
        direction = PortDirection.Input if member.flow == wiring.In else PortDirection.Output
        ports["__".join(str(part) for part in path)] = (value, direction)
    return ports


def to_verilog(component: wiring.Component, name: str) -> str:
    """Verilog for ``component`` as module ``name``, without source-location attributes."""
    return verilog.convert(component, name=name, ports=ports_of(component), emit_src=False)

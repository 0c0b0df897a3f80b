"""Verilog text for components, ports named from their signatures (Amaranth joins paths with __).

Components are written directly from their statements (``rtlflow.rtl.direct``) where that
writer covers them. Otherwise Amaranth turns a component into RTLIL in Python and hands it to
its bundled Yosys for ``write_verilog``; starting Yosys costs about a quarter of a second, more
than converting a small unit, so ``to_verilog_many`` converts every such module of a design in
one Yosys run.
"""

from __future__ import annotations

from amaranth.back import rtlil, verilog
from amaranth.hdl import Const, Fragment, Value
from amaranth.hdl._ir import PortDirection
from amaranth.lib import wiring

from rtlflow.rtl.direct import Unsupported, component_verilog


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
    """Verilog for ``component`` as module ``name``: written directly (``rtlflow.rtl.direct``)
    where it can be, else its RTLIL through Yosys (the text ``amaranth_verilog`` gives)."""
    kind, text = convert(component, name)
    return text if kind == "verilog" else to_verilog_many({name: text})[name]


def amaranth_verilog(component: wiring.Component, name: str) -> str:
    """Verilog for ``component`` as module ``name`` through Amaranth's RTLIL and Yosys, without
    source-location attributes."""
    return verilog.convert(component, name=name, ports=ports_of(component), emit_src=False)


def convert(component: wiring.Component, name: str) -> tuple[str, str]:
    """``("verilog", text)`` written directly, or ``("rtlil", text)`` for a component the direct
    writer does not cover (its Verilog then comes from ``to_verilog_many``)."""
    ports = ports_of(component)
    try:
        return "verilog", component_verilog(component, name, ports)
    except Unsupported:
        return "rtlil", to_rtlil(component, name)


def to_rtlil(component: wiring.Component, name: str) -> str:
    """RTLIL for ``component`` as module ``name`` (what ``convert`` gives Yosys when the direct
    writer does not cover it)."""
    fragment = Fragment.get(component, None)
    text, _ = rtlil.convert_fragment(fragment, ports_of(component), name, emit_src=False)
    return text


def to_verilog_many(rtlil_texts: dict[str, str]) -> dict[str, str]:
    """The Verilog of every module (name -> its RTLIL from ``to_rtlil``) through one Yosys run:
    name -> the text ``amaranth_verilog`` gives it (up to the numbering of names Yosys makes up), its
    submodules (``name.sub``) included."""
    text = verilog._convert_rtlil_text("\n".join(rtlil_texts.values()))
    header, _, body = text.partition("\n")
    blocks: dict[str, list[str]] = {name: [] for name in rtlil_texts}
    pending: list[str] = []
    name = None
    for line in body.splitlines(keepends=True):
        if name is None and line.startswith("module "):
            name = line[len("module ") :].split("(")[0].strip().lstrip("\\")
        pending.append(line)
        if name is not None and line.startswith("endmodule"):
            owner = name
            while owner not in blocks and "." in owner:
                owner = owner.rsplit(".", 1)[0]
            if owner not in blocks:
                raise ValueError(f"Yosys wrote a module '{name}' that no RTLIL text defined")
            blocks[owner].append("".join(pending))
            pending, name = [], None
    missing = sorted(name for name, written in blocks.items() if not written)
    if missing:
        raise ValueError(f"Yosys wrote no module for {missing}")
    return {name: header + "\n" + "".join(written) for name, written in blocks.items()}

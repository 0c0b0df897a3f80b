"""One Yosys run for all of a design's modules gives each module the text it gets alone (the
path of components the direct writer does not print); the direct writer flattens submodules."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtlflow.rtl.verilog import amaranth_verilog, to_rtlil, to_verilog, to_verilog_many


class Increment(wiring.Component):
    a: In(8)
    y: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.a + 1)
        return m


class Wrapper(wiring.Component):
    """An increment as a submodule: its Verilog is a second module, ``<name>.inner``."""

    a: In(8)
    y: Out(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = Increment()
        m.d.comb += [inner.a.eq(self.a), self.y.eq(inner.y)]
        return m


def test_each_module_gets_its_own_text_and_its_submodules():
    texts = to_verilog_many(
        {"inc": to_rtlil(Increment(), "inc"), "wrap": to_rtlil(Wrapper(), "wrap")}
    )
    assert texts["inc"] == amaranth_verilog(Increment(), "inc")
    assert texts["wrap"] == amaranth_verilog(Wrapper(), "wrap")
    assert texts["wrap"].count("endmodule") == 2 and "module \\wrap.inner" in texts["wrap"]
    assert texts["inc"].count("endmodule") == 1


def test_the_direct_writer_flattens_submodules():
    text = to_verilog(Wrapper(), "wrap")
    assert text.startswith("module wrap(a, y);") and text.count("endmodule") == 1
    assert "+ 9'h1" in text  # the increment, inlined

"""RowsUnit: a unit whose rows compute alike, as one row module instanced once per row.

A dense layer over several rows (a transformer's tokens, a graph network's edges) applies the
same circuit to every row. Built flat, its Verilog repeats that circuit once per row; built as
``rows`` instances of one row module (generated separately, used by name), the Verilog holds it
once, and synthesis and simulation see a hierarchy they can handle per module.

Row r takes input elements ``[r * n_in, (r + 1) * n_in)`` and produces output elements
``[r * n_out, (r + 1) * n_out)``; every row has the same latency, so ``y.valid`` is row 0's.
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Instance, Module, ResetSignal, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class RowsUnit(wiring.Component):
    """``rows`` instances of the Verilog module ``module``, each on its slice of the vectors.

    Members
    -------
    x : ``In(stream.Signature(rows * row_input_bits, always_ready=True))``
    y : ``Out(stream.Signature(rows * row_output_bits, always_ready=True))``
    en : ``In(1)``, only with ``stall``: passed to every row.

    Latency and throughput: the row module's.
    """

    def __init__(
        self,
        *,
        module: str,
        rows: int,
        row_input_bits: int,
        row_output_bits: int,
        clocked: bool,
        stall: bool = False,
    ):
        if rows < 1:
            raise ValueError("rows must be at least 1")
        self.module, self.rows, self.clocked, self.stall = module, rows, clocked, stall
        self.row_input_bits, self.row_output_bits = row_input_bits, row_output_bits
        members = {
            "x": In(stream.Signature(rows * row_input_bits, always_ready=True)),
            "y": Out(stream.Signature(rows * row_output_bits, always_ready=True)),
        }
        if stall:
            members["en"] = In(1)
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        outputs = []
        for row in range(self.rows):
            payload = Signal(self.row_output_bits, name=f"row{row}_y")
            valid = Signal(name=f"row{row}_valid")
            inputs = self.x.payload[row * self.row_input_bits : (row + 1) * self.row_input_bits]
            ports = {
                "i_x__payload": inputs,
                "i_x__valid": self.x.valid,
                "o_y__payload": payload,
                "o_y__valid": valid,
            }
            if self.clocked:
                ports |= {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
            if self.stall:
                ports["i_en"] = self.en
            m.submodules[f"row{row}"] = Instance(self.module, **ports)
            outputs.append(payload)
            if row == 0:
                m.d.comb += self.y.valid.eq(valid)
        m.d.comb += self.y.payload.eq(Cat(*outputs))
        return m

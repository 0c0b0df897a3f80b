"""Ternary adders from Xilinx primitives: three operands on one carry chain, one LUT per bit.

``a + b + c`` as a carry-save step folded into the carry chain's LUTs: for bit i the LUT6_2
computes the propagate ``a_i ^ b_i ^ c_i ^ k_(i-1)`` on O6 and the majority
``k_i = maj(a_i, b_i, c_i)`` on O5, which feeds the next bit's LUT and, as the generate input
``DI``, the next bit of the chain (CARRY8 on UltraScale(+), CARRY4 on 7-series). An inverted
operand is folded into the LUTs' INIT, so subtraction costs nothing more (``-v = ~v + 1``); up to
two +1s enter through the chain's carry-in and the first ``k``; a constant operand is tied to
its bits. Two binary adders would need two LUTs per bit.

``rtlflow_add3`` is one fixed, parametrized library module (WIDTH, INVERT, CARRIES, CARRY_BITS)
that units instance, so a layer of thousands of adders stays a netlist of adder instances.

``SIMULATION_MODELS`` is Verilog for these primitives as the vendor libraries define them, for
simulators without those libraries (Verilator); synthesis uses the vendor's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Const, Instance, Value

#: the carry primitive of each family that has ternary adders
CARRY_PRIMITIVE = {"ultrascale+": "CARRY8", "ultrascale": "CARRY8", "7series": "CARRY4"}

#: the library module that builds a ternary adder of any width
TERNARY_MODULE = "rtlflow_add3"


@dataclass(frozen=True)
class TernaryAdderKind:
    """A ternary adder's parameters."""

    width: int
    inverted: tuple[bool, bool, bool]
    carries: int  # ones added through the carry-in and the first k (0 to 2)
    carry: str  # CARRY8 or CARRY4


def ternary_adder(kind: TernaryAdderKind, a: Value, b: Value, c: Value, y: Value) -> Instance:
    """An instance of the ternary adder module: ``y = a' + b' + c' + carries`` modulo
    2^width, where x' is x or, when inverted, ~x."""
    if not 0 <= kind.carries <= 2 or kind.width < 1:
        raise ValueError("a ternary adder is at least one bit wide and takes up to two carries")
    inverted = sum(int(flag) << i for i, flag in enumerate(kind.inverted))
    return Instance(
        TERNARY_MODULE,
        p_WIDTH=kind.width,
        p_INVERT=Const(inverted, 3),
        p_CARRIES=kind.carries,
        p_CARRY_BITS=8 if kind.carry == "CARRY8" else 4,
        i_a=a,
        i_b=b,
        i_c=c,
        o_y=y,
    )


#: The ternary adder, one fixed library module (a design source wherever a unit instances it):
#: per bit a LUT6_2 whose INIT folds the operands' inversions, then CARRY8s or CARRY4s.
TERNARY_ADDER_MODULE = """\
// rtlflow library cell: y = a' + b' + c' + CARRIES (mod 2^WIDTH), x' = ~x where INVERT says so.
// One LUT6_2 per bit: O6 = a' ^ b' ^ c' ^ k[i] (propagate), O5 = k[i+1] = maj(a', b', c');
// the carry chain adds the majorities one bit up (DI = k[i]). CARRIES: the carry-in (>= 1)
// and k[0] (2). CARRY_BITS: 8 (CARRY8, UltraScale(+)) or 4 (CARRY4, 7-series).
module rtlflow_add3 #(
  parameter WIDTH = 8,
  parameter [2:0] INVERT = 3'b000,
  parameter CARRIES = 0,
  parameter CARRY_BITS = 8
) (
  input [WIDTH-1:0] a, input [WIDTH-1:0] b, input [WIDTH-1:0] c, output [WIDTH-1:0] y
);
  function [63:0] lut_init(input [2:0] invert);
    integer i;
    reg [5:0] pins;
    reg x, z, w;
    begin
      lut_init = 64'd0;
      for (i = 0; i < 64; i = i + 1) begin
        pins = i;
        x = pins[0] ^ invert[0];
        z = pins[1] ^ invert[1];
        w = pins[2] ^ invert[2];
        if (pins[5]) lut_init[i] = x ^ z ^ w ^ pins[3];
        else if (!pins[4]) lut_init[i] = (x & z) | (x & w) | (z & w);
      end
    end
  endfunction
  localparam [63:0] INIT = lut_init(INVERT);
  localparam BLOCKS = (WIDTH + CARRY_BITS - 1) / CARRY_BITS;
  localparam PADDED = BLOCKS * CARRY_BITS;
  wire [WIDTH:0] k;
  wire [PADDED-1:0] s, di, o, co;
  assign k[0] = CARRIES >= 2;
  genvar i;
  generate
    for (i = 0; i < WIDTH; i = i + 1) begin : g_bit
      LUT6_2 #(.INIT(INIT)) lut (
        .I0(a[i]), .I1(b[i]), .I2(c[i]), .I3(k[i]), .I4(1'b0), .I5(1'b1),
        .O6(s[i]), .O5(k[i + 1])
      );
      assign di[i] = k[i];
    end
    if (PADDED > WIDTH) begin : g_pad
      assign s[PADDED-1:WIDTH] = 0;
      assign di[PADDED-1:WIDTH] = 0;
    end
    for (i = 0; i < BLOCKS; i = i + 1) begin : g_carry
      wire carry_in;
      if (i == 0) begin : g_first
        assign carry_in = CARRIES >= 1;
      end else begin : g_next
        assign carry_in = co[i * CARRY_BITS - 1];
      end
      if (CARRY_BITS == 8) begin : g_carry8
        CARRY8 #(.CARRY_TYPE("SINGLE_CY8")) chain (
          .CI(carry_in), .CI_TOP(1'b0), .DI(di[i * 8 +: 8]), .S(s[i * 8 +: 8]),
          .O(o[i * 8 +: 8]), .CO(co[i * 8 +: 8])
        );
      end else begin : g_carry4
        CARRY4 chain (
          .CI(i == 0 ? 1'b0 : carry_in), .CYINIT(i == 0 ? carry_in : 1'b0),
          .DI(di[i * 4 +: 4]), .S(s[i * 4 +: 4]), .O(o[i * 4 +: 4]), .CO(co[i * 4 +: 4])
        );
      end
    end
  endgenerate
  assign y = o[WIDTH-1:0];
endmodule
"""


#: The ternary adder's behaviour, for simulation in its place: the structural module above equals
#: it for every parameter (``tests/rtl/test_ternary_adder.py`` checks them against each other),
#: and a flat sum verilates and simulates far faster than one LUT6_2 model per bit.
TERNARY_ADDER_BEHAVIOUR = """\
// rtlflow library cell rtlflow_add3, behaviour (simulation only): the structural cell of
// rtl/rtlflow_add3.v computes exactly this.
module rtlflow_add3 #(
  parameter WIDTH = 8,
  parameter [2:0] INVERT = 3'b000,
  parameter CARRIES = 0,
  parameter CARRY_BITS = 8
) (
  input [WIDTH-1:0] a, input [WIDTH-1:0] b, input [WIDTH-1:0] c, output [WIDTH-1:0] y
);
  wire [WIDTH-1:0] a1 = INVERT[0] ? ~a : a;
  wire [WIDTH-1:0] b1 = INVERT[1] ? ~b : b;
  wire [WIDTH-1:0] c1 = INVERT[2] ? ~c : c;
  wire [WIDTH-1:0] ones = CARRIES;
  assign y = a1 + b1 + c1 + ones;
endmodule
"""


SIMULATION_MODELS = """\
// Simulation models of the Xilinx primitives rtlflow instantiates (ternary adders), for
// simulators without the vendor's UNISIM library. Synthesis uses the vendor's primitives: do
// not add this file to a synthesis project.
/* verilator lint_off DECLFILENAME */
module LUT6_2 #(parameter [63:0] INIT = 64'h0) (
  input I0, input I1, input I2, input I3, input I4, input I5, output O5, output O6
);
  wire [5:0] index = {I5, I4, I3, I2, I1, I0};
  assign O6 = INIT[index];
  assign O5 = INIT[{1'b0, index[4:0]}];
endmodule

module CARRY8 #(parameter CARRY_TYPE = "SINGLE_CY8") (
  input CI, input CI_TOP, input [7:0] DI, input [7:0] S, output [7:0] O, output [7:0] CO
);
  wire [8:0] chain;
  assign chain[0] = CI;
  genvar i;
  generate
    for (i = 0; i < 8; i = i + 1) begin : g_bit
      assign O[i] = S[i] ^ chain[i];
      assign chain[i + 1] = S[i] ? chain[i] : DI[i];
      assign CO[i] = chain[i + 1];
    end
  endgenerate
endmodule

module CARRY4 (
  input CI, input CYINIT, input [3:0] DI, input [3:0] S, output [3:0] O, output [3:0] CO
);
  wire [4:0] chain;
  assign chain[0] = CI | CYINIT;
  genvar i;
  generate
    for (i = 0; i < 4; i = i + 1) begin : g_bit
      assign O[i] = S[i] ^ chain[i];
      assign chain[i + 1] = S[i] ? chain[i] : DI[i];
      assign CO[i] = chain[i + 1];
    end
  endgenerate
endmodule
"""

"""The ternary adder library cell (LUT6_2 + carry chain) and its behavioural stand-in, under
Verilator, against three-operand sums computed independently in the testbench, for every
inversion pattern, number of carries and both carry primitives, at widths that cover one
carry block, a partial one and several."""

from __future__ import annotations

import itertools
import subprocess

from rtlflow.rtl import primitives
from rtlflow.sim.runner import fast_builds

WIDTHS = (1, 3, 8, 9, 17)

MAIN = """\
#include "Vtb.h"
#include "verilated.h"
int main(int argc, char** argv) {
  Verilated::commandArgs(argc, argv);
  Vtb tb;
  for (int cycle = 0; cycle < 4000; ++cycle) {
    tb.clk = 0; tb.eval();
    tb.clk = 1; tb.eval();
  }
  tb.final();
  return 0;
}
"""


def _testbench() -> str:
    """Every cell instance fed from its own bits of a free-running LFSR; each cycle compares
    the cell and the behaviour with the sum written out here."""
    lines = ["module tb(input clk);", "  reg [63:0] lfsr = 64'h0123456789abcdef;",
             "  integer errors = 0, cycles = 0;"]
    checks = []
    for index, (bits, invert, carries, width) in enumerate(
        itertools.product((8, 4), range(8), range(3), WIDTHS)
    ):
        parameters = (f"#(.WIDTH({width}), .INVERT(3'd{invert}), .CARRIES({carries}), "
                      f".CARRY_BITS({bits}))")
        rotate = (index * 7) % 64
        lines += [
            f"  wire [63:0] r{index} = {{lfsr[{rotate - 1 if rotate else 63}:0], "
            f"lfsr[63:{rotate}]}};" if rotate else f"  wire [63:0] r{index} = lfsr;",
            f"  wire [{width - 1}:0] a{index} = r{index}[{width - 1}:0];",
            f"  wire [{width - 1}:0] b{index} = r{index}[{width + 19}:20];",
            f"  wire [{width - 1}:0] c{index} = r{index}[{width + 39}:40];",
            f"  wire [{width - 1}:0] cell{index}, model{index};",
            f"  rtlflow_add3 {parameters} u{index} (.a(a{index}), .b(b{index}), .c(c{index}), "
            f".y(cell{index}));",
            f"  behaviour {parameters} m{index} (.a(a{index}), .b(b{index}), .c(c{index}), "
            f".y(model{index}));",
        ]
        operands = [f"{'~' if invert >> k & 1 else ''}{name}{index}" for k, name in enumerate("abc")]
        expected = f"{width}'({' + '.join(operands)} + {width}'d{carries})"
        checks += [
            f"    if (cell{index} !== {expected} || model{index} !== {expected}) begin",
            "      errors = errors + 1;",
            f'      if (errors < 10) $display("mismatch {index}: %0d %0d %0d -> %0d / %0d", '
            f"a{index}, b{index}, c{index}, cell{index}, model{index});",
            "    end",
        ]
    lines += ["  always @(posedge clk) begin"]
    lines += checks
    lines += [
        "    lfsr <= {lfsr[62:0], lfsr[63] ^ lfsr[62] ^ lfsr[60] ^ lfsr[59]};",
        "    cycles = cycles + 1;",
        '    if (cycles == 3999) $display("errors %0d", errors);',
        "  end",
        "endmodule",
    ]
    return "\n".join(lines) + "\n"


def test_ternary_adder_cell_and_behaviour_equal_the_sum(tmp_path):
    (tmp_path / "cell.v").write_text(primitives.TERNARY_ADDER_MODULE)
    (tmp_path / "primitives.v").write_text(primitives.SIMULATION_MODELS)
    behaviour = primitives.TERNARY_ADDER_BEHAVIOUR.replace("module rtlflow_add3", "module behaviour")
    (tmp_path / "behaviour.v").write_text(behaviour)
    (tmp_path / "tb.v").write_text(_testbench())
    (tmp_path / "main.cpp").write_text(MAIN)
    verilator = fast_builds()
    build = subprocess.run(
        [verilator, "--cc", "--exe", "--build", "-Wno-fatal", "-Wno-WIDTH", "--top-module", "tb",
         "tb.v", "cell.v", "primitives.v", "behaviour.v", "main.cpp", "-o", "tb"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    run = subprocess.run([str(tmp_path / "obj_dir" / "tb")], capture_output=True, text=True)
    assert "errors 0" in run.stdout, run.stdout[-2000:]

"""The delay and resource model: what each operator of a unit's plan costs on a target.

Delays (ns) drive register placement and the fmax estimate; resource counts drive the report.
Both are analytical, pre-synthesis estimates for the part's family and speed grade, calibrated on
published device data (UltraScale+ -2: a LUT level with local routing ~0.45 ns, CARRY8 chains
~0.015 ns per bit, a DSP48E2 multiply ~2.5 ns without internal registers, block RAM clock-to-out
~1.2 ns). UltraScale is taken 1.2x and 7-series 1.7x slower; speed grade -1 1.12x slower, -3
10 % faster. They are a model, not a timing report: the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rtlflow.parts import Target
from rtlflow.rtl.arith import Operator
from rtlflow.rtl.pipeline import Plan, Step

_FAMILY_SCALE = {"ultrascale+": 1.0, "ultrascale": 1.2, "7series": 1.7}
_SPEED_SCALE = {1: 1.12, 2: 1.0, 3: 0.9}
#: DSP multiplier input widths: (A, B) per family
_DSP_WIDTHS = {"ultrascale+": (27, 18), "ultrascale": (27, 18), "7series": (25, 18)}


@dataclass(frozen=True)
class Resources:
    lut: int = 0
    ff: int = 0
    dsp: int = 0
    bram18: float = 0.0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.lut + other.lut,
            self.ff + other.ff,
            self.dsp + other.dsp,
            self.bram18 + other.bram18,
        )

    def as_dict(self) -> dict[str, int | float]:
        return {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram18": self.bram18}


@dataclass(frozen=True)
class DelayModel:
    """Delays in ns for one target."""

    family: str
    register: float  # clock-to-out + setup + clock uncertainty of a flip-flop stage
    logic_level: float  # one LUT with its routing
    carry_per_bit: float
    multiply: float  # a DSP multiply, no internal registers
    memory_setup: float  # address to block RAM
    memory_read: float  # block RAM clock-to-out

    @staticmethod
    def for_target(target: Target) -> DelayModel:
        scale = _FAMILY_SCALE[target.part.family] * _SPEED_SCALE.get(target.speed_grade, 1.0)
        return DelayModel(
            target.part.family,
            register=0.40 * scale,
            logic_level=0.45 * scale,
            carry_per_bit=0.015 * scale,
            multiply=2.5 * scale,
            memory_setup=0.50 * scale,
            memory_read=1.2 * scale,
        )

    def operator(self, operator: Operator) -> float:
        kind, width, size = operator
        adder = self.logic_level + self.carry_per_bit * width
        match kind:
            case "add" | "add2" | "add_constant":
                return adder
            case "add3":  # the majority of the bit below feeds this bit's LUT: one level more
                return adder + self.logic_level
            case "saturate" | "max":
                return adder + self.logic_level
            case "select" | "relu":
                return self.logic_level
            case "equal":  # a comparison tree of LUT6s
                return self.logic_level * max(1, math.ceil(math.log(max(width, 2), 6)))
            case "mux":
                return self.logic_level * max(1, math.ceil(math.log(max(size, 2), 4)))
            case "rom":  # a LUT per bit up to 64 constants, a mux level per further 4x
                return self.logic_level * max(1, math.ceil(math.log(max(size, 2), 4)) - 2)
            case "dsp_multiply":
                return self.multiply
            case "shift_add":  # a pairwise tree over the digits
                return adder * max(1, math.ceil(math.log2(size)))
            case "multiply":
                if dsp_count(width, size, self.family) == 0:
                    return self.logic_level * max(1, math.ceil(math.log2(max(size, 2)))) + adder
                return self.multiply + (adder if dsp_count(width, size, self.family) > 1 else 0)
            case "memory":
                return self.memory_setup
        raise ValueError(f"no delay for operator kind {kind!r}")

    def step(self, step: Step) -> float:
        return max((self.operator(op) for op in step.operators), default=0.0)


def dsp_count(width_a: int, width_b: int, family: str) -> int:
    """DSP slices for a width_a x width_b multiply (0: small enough for LUTs)."""
    if width_a + width_b <= 14:
        return 0
    a, b = _DSP_WIDTHS[family]
    return min(
        math.ceil(width_a / a) * math.ceil(width_b / b),
        math.ceil(width_a / b) * math.ceil(width_b / a),
    )


def operator_resources(operator: Operator, family: str) -> Resources:
    kind, width, size = operator
    match kind:
        case "add" | "add3":
            return Resources(lut=width)
        case "add2":  # bits where both operands carry signals; the rest is carry chain alone
            return Resources(lut=size)
        case "add_constant":  # a carry chain with one variable operand maps without LUTs
            return Resources()
        case "saturate" if size:  # each result bit: a LUT of its bit and the bits above
            above = width - size
            return Resources(lut=size if above <= 5 else size + 2 * math.ceil(above / 5))
        case "saturate":
            return Resources(lut=width + width // 2)
        case "max":
            return Resources(lut=width + width // 2)
        case "select" | "relu":  # a LUT6 with two outputs handles two bits
            return Resources(lut=math.ceil(width / 2))
        case "equal":  # compares (size of them, on width bits) against constants
            return Resources(lut=max(1, math.ceil(width / 6)) * max(1, math.ceil(size / 2)))
        case "mux":
            return Resources(lut=width * max(1, math.ceil((size - 1) / 3)))
        case "rom":  # a LUT6 holds two bits of up to 32 constants (dual output), 64 for one bit
            return Resources(lut=math.ceil(width / 2) * math.ceil(size / 32))
        case "shift_add":
            return Resources(lut=width * (size - 1))
        case "dsp_multiply":  # a product placed on DSP slices by the budget
            return Resources(dsp=max(1, dsp_count(width, size, family)))
        case "multiply":
            dsps = dsp_count(width, size, family)
            return Resources(dsp=dsps) if dsps else Resources(lut=math.ceil(width * size / 2))
        case "memory":
            bits = width * size
            if bits >= 2048:  # block RAM: an 18 Kb block serves two read ports
                return Resources(bram18=math.ceil(bits / 18432) / 2)
            return Resources(lut=width * math.ceil(size / 64))  # distributed ROM
    raise ValueError(f"no resources for operator kind {kind!r}")


#: shortest chain of flip-flops that synthesis turns into a shift register LUT (SRLC32E)
SRL_MIN_LENGTH = 3
SRL_DEPTH = 32


def plan_resources(plan: Plan, registers: frozenset[int], family: str) -> Resources:
    """Logic of every step plus the flip-flops of every register boundary and its valid bit,
    less what synthesis moves elsewhere:

    - bits held unchanged over ``SRL_MIN_LENGTH`` or more boundaries in a row (nothing computed
      between them: a latency balance) become shift register LUTs, one per bit and 32 cycles;
    - so does a single value a unit carries unchanged over that many registers while it computes
      others (``shift_registers``);
    - a product on one DSP slice registered right after its multiply goes into the slice's own
      product register (a product split over several slices is summed in fabric adders, and
      its register stays a flip-flop)."""
    total = Resources()
    for step in plan.steps:
        for operator in step.operators:
            total = total + operator_resources(operator, family)
    boundaries = sorted(registers | plan.forced)
    runs: list[list[int]] = []
    for boundary in boundaries:
        if runs and boundary == runs[-1][-1] + 1 and not plan.steps[runs[-1][-1]].operators:
            runs[-1].append(boundary)
        else:
            runs.append([boundary])
    flops = {b for run in runs if len(run) < SRL_MIN_LENGTH for b in run}
    for run in runs:
        if len(run) >= SRL_MIN_LENGTH:  # the data in SRLs; the valid bit (with reset) in flip-flops
            lut = plan.bits_at(run[0]) * math.ceil(len(run) / SRL_DEPTH)
            total = total + Resources(lut=lut, ff=len(run))
    shifted, lut = shift_registers(plan, flops)
    for boundary in flops:
        absorbed = 0
        if boundary > 0:  # a product split over several slices ends in fabric adders
            absorbed = sum(
                width + size
                for kind, width, size in plan.steps[boundary - 1].operators
                if operator_resources((kind, width, size), family).dsp == 1
            )
        bits = plan.bits_at(boundary) - shifted.get(boundary, 0)
        total = total + Resources(ff=max(bits - absorbed, 0) + 1)
    return total + Resources(lut=lut)


def shift_registers(plan: Plan, registers: set[int]) -> tuple[dict[int, int], int]:
    """The bits of each boundary in ``registers`` that synthesis puts in shift register LUTs,
    and the LUTs: a value carried unchanged (``Step.carried``) over registers r1 < r2 < ... rk
    forms a chain of flip-flops. The first of them stays a flip-flop when logic between r1 and
    r2 reads it (taken to be so when anything is computed there); the rest, if at least
    ``SRL_MIN_LENGTH`` long, is one SRL per bit and 32 cycles."""
    present: dict[int, list[int]] = {}  # label -> boundaries where it arrives unchanged
    width: dict[int, int] = {}
    for index, step in enumerate(plan.steps):
        for label, bits in set(step.carried):  # a value carried twice is one chain
            present.setdefault(label, []).append(index + 1)
            width[label] = bits
    shifted: dict[int, int] = {}
    lut = 0
    for label, arrivals in present.items():
        segments: list[list[int]] = []
        for boundary in arrivals:
            if segments and boundary == segments[-1][-1] + 1:
                segments[-1].append(boundary)
            else:
                segments.append([boundary - 1, boundary])
        for segment in segments:
            chain = [b for b in segment if b in registers]
            if len(chain) >= 2 and any(s.operators for s in plan.steps[chain[0] : chain[1]]):
                chain = chain[1:]
            if len(chain) < SRL_MIN_LENGTH:
                continue
            lut += width[label] * math.ceil(len(chain) / SRL_DEPTH)
            for boundary in chain:
                shifted[boundary] = shifted.get(boundary, 0) + width[label]
    return shifted, lut

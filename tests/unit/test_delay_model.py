"""Delay and resource model (rtlflow.delay_model): scaling per target, operators, plans."""

import dataclasses
import math

import pytest
from amaranth.hdl import signed, unsigned

from rtlflow.delay_model import DelayModel, Resources, operator_resources, plan_resources
from rtlflow.parts import find_part
from rtlflow.rtl.delay import DelayUnit
from rtlflow.rtl.pipeline import Plan, Step, Unit

FAMILIES = ["ultrascale+", "ultrascale", "7series"]
DELAY_FIELDS = [f.name for f in dataclasses.fields(DelayModel) if f.name != "family"]
KINDS = ["add", "saturate", "max", "select", "mux", "multiply", "memory"]


def model(name):
    return DelayModel.for_target(find_part(name))


def delays(delay_model):
    return [getattr(delay_model, name) for name in DELAY_FIELDS]


# ----------------------------------------------------------------------------- for_target


@pytest.mark.parametrize(
    ("slower", "faster"),
    [
        ("xc7z020-clg400-2", "xcvu13p-flga2577-2-e"),  # 7-series slower than UltraScale+
        ("xcku115-flvb2104-2-e", "xcvu13p-flga2577-2-e"),  # UltraScale slower than UltraScale+
        ("xc7z020-clg400-2", "xcku115-flvb2104-2-e"),
        ("xcvu13p-flga2577-1-e", "xcvu13p-flga2577-2-e"),  # -1 slower than -2
        ("xcvu13p-flga2577-2-e", "xcvu13p-flga2577-3-e"),
        ("xc7z020", "xcvu13p"),  # family defaults: 7-series -1, UltraScale+ -2
    ],
)
def test_slower_targets_have_longer_delays(slower, faster):
    slow, fast = model(slower), model(faster)
    assert all(s > f > 0 for s, f in zip(delays(slow), delays(fast), strict=True))
    ratio = {s / f for s, f in zip(delays(slow), delays(fast), strict=True)}
    assert max(ratio) - min(ratio) < 1e-9  # one scale factor for every delay
    for operator in [("add", 16, 0), ("multiply", 16, 16), ("memory", 18, 1024), ("mux", 8, 5)]:
        assert slow.operator(operator) > fast.operator(operator)


def test_default_grade_equals_explicit_grade():
    assert model("xcvu13p") == model("xcvu13p-flga2577-2-e")
    assert model("xc7z020") == model("xc7z020-clg400-1")
    assert model("xcvu13p").family == "ultrascale+"
    assert model("xc7z020").family == "7series"


def test_speed_grade_2l_is_grade_2():
    assert model("xcvu13p-flga2577-2L-e") == model("xcvu13p-flga2577-2-e")


# ------------------------------------------------------------------------ operator delays


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [1, 2, 4, 7, 13, 18, 27, 40, 1024])
def test_operator_delay_is_monotone_in_width(family, kind, size):
    delay_model = dataclasses.replace(model("xcvu13p"), family=family)
    previous = 0.0
    for width in range(1, 80):
        delay = delay_model.operator((kind, width, size))
        assert delay > 0
        assert delay >= previous - 1e-12, (kind, width, size)
        previous = delay


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", ["mux", "multiply"])
@pytest.mark.parametrize("width", [1, 4, 8, 16, 30])
def test_operator_delay_is_monotone_in_size(family, kind, width):
    delay_model = dataclasses.replace(model("xcvu13p"), family=family)
    sizes = list(range(1, 80))
    values = [delay_model.operator((kind, width, size)) for size in sizes]
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:]))


def test_adder_delay_grows_with_carry_chain():
    delay_model = model("xcvu13p")
    assert delay_model.operator(("add", 32, 0)) > delay_model.operator(("add", 8, 0))
    assert delay_model.operator(("saturate", 16, 0)) > delay_model.operator(("add", 16, 0))
    assert delay_model.operator(("select", 64, 0)) == delay_model.operator(("select", 1, 0))


def test_step_delay_is_its_slowest_operator():
    delay_model = model("xcvu13p")
    operators = (("add", 20, 0), ("multiply", 16, 16), ("select", 8, 0))
    step = Step("mixed", operators, 32)
    assert delay_model.step(step) == max(delay_model.operator(op) for op in operators)
    assert delay_model.step(Step("wires", (), 8)) == 0.0


def test_unknown_operator_kind():
    with pytest.raises(ValueError):
        model("xcvu13p").operator(("divide", 8, 8))
    with pytest.raises(ValueError):
        operator_resources(("divide", 8, 8), "ultrascale+")


# ---------------------------------------------------------------------- operator resources


@pytest.mark.parametrize(
    ("width", "size", "family", "dsp"),
    [
        (16, 16, "ultrascale+", 1),
        (16, 16, "7series", 1),
        (27, 18, "ultrascale+", 1),
        (18, 27, "ultrascale+", 1),  # either operand can take the wide port
        (26, 18, "ultrascale+", 1),  # DSP48E2: 27 x 18
        (26, 18, "7series", 2),  # DSP48E1: 25 x 18
        (30, 20, "ultrascale+", 2),
        (30, 20, "7series", 2),
        (36, 36, "ultrascale+", 4),
    ],
)
def test_multiply_dsp_count(width, size, family, dsp):
    resources = operator_resources(("multiply", width, size), family)
    assert resources.dsp == dsp
    assert resources.lut == 0


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("width", "size"), [(6, 6), (4, 8), (1, 12), (7, 7)])
def test_small_multiply_uses_luts(family, width, size):
    resources = operator_resources(("multiply", width, size), family)
    assert resources.dsp == 0
    assert resources.lut > 0


def test_memory_block_ram_threshold():
    """Tables of 2 Kb and more go to block RAM (one 18 Kb block serves two read ports)."""
    family = "ultrascale+"
    small = operator_resources(("memory", 16, 127), family)  # 2032 bits
    assert small.bram18 == 0 and small.lut > 0
    large = operator_resources(("memory", 16, 128), family)  # 2048 bits
    assert large.bram18 > 0 and large.lut == 0
    one_block = operator_resources(("memory", 18, 1024), family)  # exactly 18 Kb
    assert one_block.bram18 == 0.5
    two_blocks = operator_resources(("memory", 18, 2048), family)
    assert two_blocks.bram18 == 1.0
    assert operator_resources(("memory", 16, 64), family).lut < operator_resources(
        ("memory", 16, 127), family
    ).lut


@pytest.mark.parametrize("kind", ["add", "saturate", "max", "select", "mux"])
def test_logic_resources_grow_with_width(kind):
    luts = [operator_resources((kind, width, 4), "ultrascale+").lut for width in range(1, 65)]
    assert all(b >= a for a, b in zip(luts, luts[1:]))
    assert luts[-1] > luts[0]


def test_resources_add():
    total = Resources(1, 2, 3, 0.5) + Resources(10, 20, 30, 1.0)
    assert total == Resources(11, 22, 33, 1.5)
    assert total.as_dict() == {"lut": 11, "ff": 22, "dsp": 33, "bram18": 1.5}


# -------------------------------------------------------------------------- plan_resources

PLAN = Plan(
    steps=(
        Step("multiply", (("multiply", 16, 16), ("multiply", 16, 16)), 64),
        Step("add", (("add", 33, 0),), 33),
        Step("table", (("memory", 18, 1024),), 0),
        Step("cast", (("saturate", 16, 0),), 16),
    ),
    input_bits=32,
    forced=frozenset({3}),
)


def logic_of(plan, family):
    total = Resources()
    for step in plan.steps:
        for operator in step.operators:
            total = total + operator_resources(operator, family)
    return total


@pytest.mark.parametrize(
    ("registers", "flip_flops"),
    [
        (frozenset(), 0 + 1),  # forced boundary 3 (after the table): 0 bits + valid
        (frozenset({0}), (32 + 1) + 1),
        # boundary 1 holds the two DSP products alone: their 64 bits are the slices' own
        # product registers, only the valid bit is a flip-flop
        (frozenset({0, 1, 2, 4}), (32 + 1) + 1 + (33 + 1) + 1 + (16 + 1)),
        (frozenset({3}), 1),  # a forced boundary is counted once
        (frozenset({1, 3}), 1 + 1),
    ],
)
def test_plan_resources_counts_register_boundaries(registers, flip_flops):
    for family in FAMILIES:
        logic = logic_of(PLAN, family)
        total = plan_resources(PLAN, registers, family)
        assert total == Resources(logic.lut, flip_flops, logic.dsp, logic.bram18)


@pytest.mark.parametrize(
    ("cycles", "lut", "ff"), [(1, 0, 11), (2, 0, 22), (3, 10, 3), (32, 10, 32), (33, 20, 33)]
)
def test_a_delay_of_three_cycles_or_more_is_a_shift_register(cycles, lut, ff):
    """10 bits held over ``cycles`` boundaries with nothing computed between them: flip-flops
    (10 + valid per cycle) up to two cycles, from three on one SRLC32E per bit and 32 cycles,
    the valid bit (it has a reset) in flip-flops."""
    unit = DelayUnit(shape=unsigned(10), count=1, cycles=cycles)
    unit._MustUse__silence = True  # asked for its plan, never elaborated
    plan = unit.plan
    assert plan_resources(plan, frozenset(), "ultrascale+") == Resources(lut=lut, ff=ff)


def test_plan_resources_of_logic():
    total = plan_resources(PLAN, frozenset(), "ultrascale+")
    assert total.dsp == 2
    assert total.bram18 == 0.5
    assert total.lut == sum(
        operator_resources(op, "ultrascale+").lut for op in [("add", 33, 0), ("saturate", 16, 0)]
    )
    assert total.lut > 0
    assert math.isclose(
        plan_resources(PLAN, frozenset({0}), "ultrascale+").ff - total.ff, PLAN.input_bits + 1
    )


class _CarryUnit(Unit):
    """``x`` carried unchanged over ``steps`` steps while ``y`` is incremented in each (the
    shape of a layer norm's centred values waiting for the reciprocal)."""

    def __init__(self, steps: int):
        self.count = steps
        super().__init__(input_shape=signed(10), input_count=2, output_shape=signed(10),
                         output_count=2)

    def build(self, m, pipeline, inputs):
        x, y = pipeline.start([term.value for term in inputs])
        for _ in range(self.count):
            x, y = pipeline.stage("increment", [("add", 10, 0)], [x, (y + 1)[:10]])
        return [x, y]


@pytest.mark.parametrize(
    ("registers", "srl_cycles"),
    [
        (frozenset({1, 2, 3, 4, 5}), 4),  # x at 1 is read by logic; 2..5 in SRLs
        (frozenset({0, 2, 4, 5}), 3),  # 0 read, 2, 4, 5 shifted
        (frozenset({1, 3, 5}), 0),  # two after the first: flip-flops
        (frozenset({2, 5}), 0),
    ],
)
def test_a_value_carried_over_registers_while_others_compute_is_a_shift_register(
    registers, srl_cycles
):
    """Each step computes (no whole-boundary run), but ``x`` passes unchanged: the copy right
    after the logic that may read it stays a flip-flop, the rest of its chain, when at least
    three long, is one SRL per bit. ``y`` (10 bits) and the valid bit are flip-flops."""
    plan = _CarryUnit(5).plan
    assert [len(step.carried) for step in plan.steps] == [1] * 5
    logic = logic_of(plan, "ultrascale+")
    flops = sum(20 + 1 for _ in registers) - 10 * srl_cycles
    expected = Resources(logic.lut + (10 if srl_cycles else 0), flops)
    assert plan_resources(plan, registers, "ultrascale+") == expected


def test_a_product_over_several_dsp_slices_keeps_its_register():
    """A 16x16 product fits one slice: the register after it is the slice's product register.
    A 30x20 product takes two slices and is summed in fabric: its register is flip-flops."""
    for width, size, absorbed in [(16, 16, True), (30, 20, False)]:
        plan = Plan((Step("multiply", (("multiply", width, size),), width + size),), 8)
        flops = plan_resources(plan, frozenset({1}), "ultrascale+").ff
        assert flops == (1 if absorbed else width + size + 1)

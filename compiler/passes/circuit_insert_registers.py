"""circuit-insert-registers: timing-driven register placement for the target clock.

Input and output level: circuit. Walks the units in dataflow order carrying the arrival time (ns
since the last register) of every value. For each unit it asks the rtl unit for its plan and
places a register at a boundary whenever the next step would push the path past the clock period
(minus the register overhead), and always at forced boundaries (table memories, accumulators).
Paths therefore cross unit boundaries freely: a ReLU may share a stage with the end of a dense
layer. Outputs of the design are registered. Sets each unit's ``registers``, ``latency``, ``ii``
and ``module``, and the design's clock target and estimated fmax (from the slowest stage).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import FloatAttr, ModuleOp, StringAttr, f64
from xdsl.ir import Block, SSAValue
from xdsl.passes import ModulePass

from rtlflow.delay_model import DelayModel
from rtlflow.dialects import circuit, fxp
from rtlflow.parts import find_part
from rtlflow.rtl.pipeline import Plan
from rtlflow import graph_schedule
from rtlflow.rtl.adder_graph import node_operators
from rtlflow.rtl.arith import shape_for_range
from rtlflow.units import UnitSpec, graph_nodes, unit_spec
from rtlflow.units.folding import row_folding


@dataclass(frozen=True)
class Schedule:
    registers: frozenset[int]
    arrival: float  # ns after the unit's last boundary
    slowest: float  # longest register-to-register path seen inside the unit (ns)


def schedule_plan(plan: Plan, arrival: float, budget: float, model: DelayModel) -> Schedule:
    """Greedy register placement: a register before a step that would not fit in the budget."""
    registers: set[int] = set()
    slowest = 0.0
    for boundary in range(plan.boundaries):
        step_delay = model.step(plan.steps[boundary]) if boundary < len(plan.steps) else 0.0
        if boundary in plan.forced or (arrival > 0 and arrival + step_delay > budget):
            registers.add(boundary)
            slowest = max(slowest, arrival)
            arrival = model.memory_read if boundary in plan.memory_boundaries else 0.0
        arrival += step_delay
    return Schedule(frozenset(registers), arrival, max(slowest, arrival))


def schedule_graph(block: Block, arrival: float, budget: float, model: DelayModel) -> Schedule:
    """Cycles for the ops of an adder graph (``rtlflow.graph_schedule``): the fewest cycles for
    the inputs' ``arrival``, registers at minimum cuts. Sets every op's cycle."""
    nodes, ranges, number = graph_nodes(block)
    inputs = len(block.args)
    operands = [()] * inputs + [tuple(number[v] for v in op.operands) for op, _ in nodes]
    delays = [0.0] * inputs + [
        max((model.operator(o) for o in node_operators(node, ranges)), default=0.0)
        for _, node in nodes
    ]
    graph = graph_schedule.Graph(
        len(block.args),
        tuple(operands),
        tuple(delays),
        tuple(shape_for_range(*r).width for r in ranges),
        tuple(number[v] for v in block.last_op.operands),  # type: ignore[union-attr]
    )
    result = graph_schedule.schedule(graph, arrival, budget)
    for op, _ in nodes:
        op.set_cycle(result.cycles[number[op.results[0]]])
    return Schedule(frozenset(range(1, result.latency + 1)), result.arrival, result.slowest)


@dataclass(frozen=True)
class CircuitInsertRegistersPass(ModulePass):
    name = "circuit-insert-registers"

    clock_mhz: float = 200.0
    part: str = "xcvu13p"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        model = DelayModel.for_target(find_part(self.part))
        budget = 1000.0 / self.clock_mhz - model.register
        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            slowest = self._schedule(function, budget, model)
            function.attributes[circuit.CLOCK_MHZ] = FloatAttr(self.clock_mhz, f64)
            fmax = 1000.0 / (slowest + model.register)
            function.attributes[circuit.FMAX_MHZ] = FloatAttr(round(fmax, 1), f64)

    def _schedule(self, function: func.FuncOp, budget: float, model: DelayModel) -> float:
        arrival: dict[SSAValue, float] = {arg: 0.0 for arg in function.body.block.args}
        producer: dict[SSAValue, tuple[circuit.UnitOp, UnitSpec, Plan]] = {}
        slowest = 0.0
        for op in function.body.block.ops:
            if isinstance(op, fxp.ReshapeOp):
                arrival[op.output] = arrival[op.input]
                if op.input in producer:
                    producer[op.output] = producer[op.input]
            elif isinstance(op, circuit.UnitOp):
                start = max(arrival[v] for v in op.inputs)
                folding = row_folding(op.inner)
                if op.graph is not None and folding is not None:
                    # rows folded (rtlflow.rtl.fold): the input latched, a multiplexer per
                    # graph input, the graph's cycles, its results collected in registers
                    width = fxp.tensor_format(op.inner.input).width
                    selected = model.operator(("mux", width, folding[1]))
                    scheduled = schedule_graph(op.graph, selected, budget, model)
                    spec = unit_spec(op)
                    plan = spec.plan()
                    slowest = max(slowest, start, scheduled.slowest, scheduled.arrival)
                    result = Schedule(frozenset(), 0.0, 0.0)
                elif op.graph is not None:  # adder by adder: sets every op's cycle
                    result = schedule_graph(op.graph, start, budget, model)
                    spec = unit_spec(op)
                    plan = spec.plan()
                else:
                    spec = unit_spec(op)
                    plan = spec.plan()
                    result = schedule_plan(plan, start, budget, model)
                self._set(op, spec, plan, result.registers)
                slowest = max(slowest, result.slowest)
                for value in op.outputs:
                    arrival[value], producer[value] = result.arrival, (op, spec, plan)
            elif isinstance(op, circuit.DelayOp | circuit.CollectOp):  # registered inside
                slowest = max(slowest, arrival[op.input])
                arrival[op.output] = 0.0
            elif isinstance(op, func.ReturnOp):
                for value in op.arguments:
                    if value in producer and arrival[value] > 0:
                        unit, spec, plan = producer[value]
                        last = plan.boundaries - 1
                        self._set(unit, spec, plan, unit.register_boundaries + (last,))
        return slowest

    @staticmethod
    def _set(unit: circuit.UnitOp, spec: UnitSpec, plan: Plan, registers) -> None:
        registers = frozenset(registers) | plan.forced
        unit.set_schedule(tuple(sorted(registers)), plan.latency(registers), plan.ii)
        unit.module = StringAttr(spec.module_name(registers))

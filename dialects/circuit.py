"""circuit: the hardware level, pipelined units with known latency and initiation interval.

A ``circuit.unit`` is one hardware module: its region holds the fixed-point op it implements
(one ``fxp`` op, or a chain of them built as one unit: attention's scores MatMul, softmax and
mixing MatMul folded together) and ends in ``circuit.yield``. A unit built from constant arithmetic
(dense layers, parallel convolutions) also has an ``implementation`` region: its adder graph in
the ``shiftadd`` dialect, scheduled adder by adder (see ``rtlflow.dialects.shiftadd``). Its properties say how it is built:
``module`` (the Verilog module name, derived from every parameter, so identical units share one
module), ``registers`` (the register boundaries chosen by the timing-driven pass: boundary b sits
before step b of the unit's plan), ``latency`` (cycles from an accepted input to its output) and
``ii`` (cycles between accepted inputs). ``circuit.delay`` is a chain of registers that balances
the latency of parallel paths. ``fxp.reshape`` may remain between units: it is wiring only.

Pixel streams: a unit whose input arrives as beats (one pixel, all channels, per beat) carries
the discardable attribute ``circuit.beats`` (the beats of one input tensor); ``circuit.collect``
gathers a stream back into a whole tensor. The function's ``circuit.input_beats`` gives the beats
of every design input (1: the whole tensor at once), and ``circuit.channels_last`` which streamed
inputs are channels-last (``[1, *spatial, C]``, as Keras writes them: their channels-first view,
``fxp.channels_first_view``, is then an ``fxp.reshape`` of the same beats). An ``fxp.pad`` on a
stream (a padded convolution's border) sends the padded grid's beats, which its ``circuit.beats``
gives: it inserts the border's zero beats into the stream, holding the design input meanwhile
when it reads it, else keeping the pixels that arrive meanwhile in a buffer of
``circuit.fifo_depths`` beats (set by ``circuit-balance-latency`` from the beat times). An
``fxp.add`` of two streams keeps each operand's beats in a buffer until the other's arrive.

The enclosing ``func.func`` carries the design's clock target, estimated fmax, total latency and
initiation interval as ``circuit.*`` attributes once the scheduling passes have run.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, StringAttr, TensorType, i64
from xdsl.ir import Attribute, Block, Dialect, Operation, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    opt_region_def,
    ParsePropInAttrDict,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import HasParent, IsTerminator
from xdsl.utils.exceptions import VerifyException

from rtlflow.dialects.arrays import int_array, int_tuple

#: Names of the attributes the scheduling passes set on the top-level ``func.func``.
CLOCK_MHZ = "circuit.clock_mhz"
FMAX_MHZ = "circuit.estimated_fmax_mhz"
LATENCY = "circuit.latency"
II = "circuit.ii"
BEATS = "circuit.beats"
INPUT_BEATS = "circuit.input_beats"
CHANNELS_LAST = "circuit.channels_last"
FIFO_DEPTHS = "circuit.fifo_depths"


@irdl_op_definition
class UnitOp(IRDLOperation):
    """One pipelined hardware unit around the fixed-point op(s) in its region."""

    name = "circuit.unit"

    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    body = region_def("single_block")
    implementation = opt_region_def("single_block")
    node = prop_def(StringAttr)
    module = prop_def(StringAttr)
    registers = prop_def(DenseArrayBase)
    latency = prop_def(IntegerAttr)
    ii = prop_def(IntegerAttr)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = (
        "$inputs attr-dict `:` functional-type($inputs, $outputs) $body"
        " (`implementation` $implementation^)?"
    )

    def __init__(
        self,
        inputs: list[SSAValue],
        result_types: list[Attribute],
        node: str,
        body: Region,
        *,
        module: str = "",
        registers: tuple[int, ...] = (),
        latency: int = 0,
        ii: int = 1,
        implementation: Region | None = None,
    ):
        super().__init__(
            operands=[inputs],
            result_types=[result_types],
            regions=[body, implementation if implementation is not None else []],
            properties={
                "node": StringAttr(node),
                "module": StringAttr(module),
                "registers": int_array(registers),
                "latency": IntegerAttr(latency, i64),
                "ii": IntegerAttr(ii, i64),
            },
        )

    @staticmethod
    def wrap(op: Operation, node: str) -> UnitOp:
        """A unit whose region holds ``op`` (detached) working on the unit's block arguments."""
        block = Block(arg_types=[operand.type for operand in op.operands])
        inner = op.clone()
        for index, argument in enumerate(block.args):
            inner.operands[index] = argument
        block.add_ops([inner, YieldOp(*inner.results)])
        return UnitOp(
            list(op.operands), [result.type for result in op.results], node, Region(block)
        )

    @staticmethod
    def fuse(ops: list[Operation], node: str) -> UnitOp:
        """A unit whose region holds a chain of ops (detached copies), each but the first
        reading the previous one's result, the last's result the unit's; the unit's inputs are
        the chain's other operands, in order (a value read twice is two inputs: each is its own
        part of the unit's input)."""
        inputs = [v for op in ops for v in op.operands if v.owner not in ops]
        block = Block(arg_types=[value.type for value in inputs])
        arguments = iter(block.args)
        produced: dict[SSAValue, SSAValue] = {}
        for op in ops:
            inner = op.clone()
            for index, operand in enumerate(op.operands):
                inner.operands[index] = (
                    produced[operand] if operand in produced else next(arguments)
                )
            produced[op.results[0]] = inner.results[0]
            block.add_op(inner)
        block.add_op(YieldOp(*block.last_op.results))
        return UnitOp(inputs, [result.type for result in ops[-1].results], node, Region(block))

    @property
    def inner(self) -> Operation:
        """The fixed-point op this unit implements (the first of a chain)."""
        first = self.body.block.first_op
        assert first is not None
        return first

    @property
    def ops(self) -> list[Operation]:
        """The fixed-point ops this unit implements, in order (one unless a chain)."""
        return list(self.body.block.ops)[:-1]

    @property
    def node_name(self) -> str:
        return self.node.data

    def implemented_by(self, block: Block) -> UnitOp:
        """A copy of this unit (detached) with ``block`` as its implementation region."""
        unit = UnitOp(
            list(self.inputs),
            [r.type for r in self.outputs],
            self.node_name,
            self.body.clone(),
            module=self.module.data,
            registers=self.register_boundaries,
            latency=self.latency.value.data,
            ii=self.ii.value.data,
            implementation=Region(block),
        )
        unit.attributes.update(self.attributes)
        return unit

    @property
    def graph(self) -> Block | None:
        """The block of the adder-graph implementation, if the unit has one."""
        return self.implementation.block if self.implementation is not None else None

    @property
    def register_boundaries(self) -> tuple[int, ...]:
        return int_tuple(self.registers)

    def set_schedule(self, registers: tuple[int, ...], latency: int, ii: int) -> None:
        self.registers = int_array(sorted(registers))
        self.latency = IntegerAttr(latency, i64)
        self.ii = IntegerAttr(ii, i64)

    def verify_(self) -> None:
        ops = list(self.body.block.ops)
        if len(ops) < 2 or any(isinstance(op, YieldOp) for op in ops[:-1]):
            raise VerifyException("a circuit.unit holds its ops and circuit.yield")
        if len(ops) > 2 and (
            any(
                second.operands[0] is not first.results[0]
                for first, second in zip(ops[:-2], ops[1:-1], strict=True)
            )
            or list(ops[-1].operands) != list(ops[-2].results)
        ):
            raise VerifyException(
                "a circuit.unit's ops are a chain: each reads the previous one's result, and "
                "the last one's results are yielded"
            )
        if [arg.type for arg in self.body.block.args] != [value.type for value in self.inputs]:
            raise VerifyException("unit block arguments must match the unit's inputs")
        if self.latency.value.data < 0 or self.ii.value.data < 1:
            raise VerifyException("latency must be >= 0 and ii >= 1")


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends a unit's region, naming the unit's results."""

    name = "circuit.yield"

    values = var_operand_def()
    traits = traits_def(IsTerminator(), HasParent(UnitOp))
    assembly_format = "$values attr-dict `:` type($values)"

    def __init__(self, *values: SSAValue):
        super().__init__(operands=[list(values)])


@irdl_op_definition
class DelayOp(IRDLOperation):
    """``cycles`` registers in a row: the input, ``cycles`` clock cycles later."""

    name = "circuit.delay"

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    output = result_def(T)
    cycles = prop_def(IntegerAttr)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, input: SSAValue, cycles: int):
        super().__init__(
            operands=[input],
            result_types=[input.type],
            properties={"cycles": IntegerAttr(cycles, i64)},
        )

    def verify_(self) -> None:
        if self.cycles.value.data < 1:
            raise VerifyException("a delay is at least one cycle")


@irdl_op_definition
class CollectOp(IRDLOperation):
    """A pixel stream of ``beats`` beats gathered into the whole tensor, one cycle after its
    last beat."""

    name = "circuit.collect"

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    output = result_def(T)
    beats = prop_def(IntegerAttr)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, input: SSAValue, beats: int):
        super().__init__(
            operands=[input],
            result_types=[input.type],
            properties={"beats": IntegerAttr(beats, i64)},
        )


def input_beats(function: Operation) -> tuple[int, ...]:
    """Beats of every design input of a function (1: the whole tensor at once)."""
    attr = function.attributes.get(INPUT_BEATS)
    if attr is None:
        return (1,) * len(function.regions[0].block.args)
    return int_tuple(attr)  # type: ignore[arg-type]


def input_channels_last(function: Operation) -> tuple[bool, ...]:
    """Whether each design input of a function streams channels-last (its pixels' channels
    contiguous in the tensor)."""
    attr = function.attributes.get(CHANNELS_LAST)
    if attr is None:
        return (False,) * len(function.regions[0].block.args)
    return tuple(bool(v) for v in int_tuple(attr))  # type: ignore[arg-type]


def fifo_depths(op: Operation) -> tuple[int, ...]:
    """The depths of the buffers (in beats) of a unit on a stream: an ``fxp.pad`` deeper than
    the design input, the pixels arriving while it sends the border (none: it holds the design
    input instead); an ``fxp.add`` of two streams, each operand's beats waiting for the other's."""
    attr = op.attributes.get(FIFO_DEPTHS)
    return int_tuple(attr) if attr is not None else ()  # type: ignore[arg-type]


def beats_of(op: Operation) -> int:
    """Beats per input tensor of a unit (1 unless it works on a pixel stream; a pad on a
    stream: the beats it sends)."""
    attr = op.attributes.get(BEATS)
    return attr.value.data if isinstance(attr, IntegerAttr) else 1


Circuit = Dialect("circuit", [UnitOp, YieldOp, DelayOp, CollectOp])

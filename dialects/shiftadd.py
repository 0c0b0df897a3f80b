"""shiftadd: constant arithmetic as a graph of adders, the implementation of a hardware unit.

A ``circuit.unit`` whose op multiplies by constants (a dense layer, a parallel convolution) gets
an ``implementation`` region in this dialect: one op per adder, so the register-placement pass
schedules the unit adder by adder and ``--dump-ir`` shows what the hardware is.

Values are scalar integers of a known exact range, ``!shiftadd.int<low, high>``: every adder is
as wide as that range needs. The region's block arguments are the unit's input elements (one row
of them: a dense layer over several rows repeats the graph for each), in order. Ops:

- ``shiftadd.add``: ``sum_k ±(operand_k << shift_k) + constant`` with 0 to 3 operands: a constant,
  a constant add, one carry chain of two operands, or a ternary adder (three operands on one
  LUT6 + carry chain per bit). A single operand without negation or constant is wiring.
- ``shiftadd.multiply``: ``operand * constant`` on a DSP slice (a budgeted multiplier).
- ``shiftadd.cast``: the rounding and overflow into an output format (``rtlflow.rtl.arith.Cast``).
- ``shiftadd.yield``: the unit's output elements, in order.

Every op but the terminator carries ``cycle``: the clock cycle, counted from the cycle in which
the unit's input arrives, in which it computes. A value read in a later cycle than its own passes
through one register per cycle between them. The scheduling pass sets the cycles.

Ranges are exact: a value is a known integer combination of the inputs, so its range can be
narrower than interval arithmetic over its operands gives (``x - (x << 2)`` is ``-3x``).
Invariants checked by ``verify_``: an add's shifts and negations match its operands, and
nothing reads a value from a later cycle.
"""

from __future__ import annotations

from xdsl.dialects.builtin import DenseArrayBase, IntAttr, IntegerAttr, StringAttr, i64
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import IsTerminator
from xdsl.utils.exceptions import VerifyException

from rtlflow.dialects.arrays import int_array, int_tuple
from rtlflow.numerics.fixed_point import OVERFLOW_MODES, ROUNDING_MODES

# ----------------------------------------------------------------------------------- types


@irdl_attr_definition
class IntRangeType(ParametrizedAttribute, TypeAttribute):
    """An integer in [low, high]: ``!shiftadd.int<-128, 127>``."""

    name = "shiftadd.int"

    low: IntAttr
    high: IntAttr

    @staticmethod
    def of(low: int, high: int) -> IntRangeType:
        return IntRangeType(IntAttr(int(low)), IntAttr(int(high)))

    @property
    def bounds(self) -> tuple[int, int]:
        return self.low.data, self.high.data

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> tuple[Attribute, ...]:
        with parser.in_angle_brackets():
            low = parser.parse_integer()
            parser.parse_punctuation(",")
            high = parser.parse_integer()
        return IntAttr(low), IntAttr(high)

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.low.data}, {self.high.data}>")

    def verify(self) -> None:
        if self.low.data > self.high.data:
            raise VerifyException(f"empty range [{self.low.data}, {self.high.data}]")


def bounds(value: SSAValue) -> tuple[int, int]:
    kind = value.type
    if not isinstance(kind, IntRangeType):
        raise VerifyException(f"expected !shiftadd.int, got {kind}")
    return kind.bounds


# ------------------------------------------------------------------------------------- ops


class ScheduledOp(IRDLOperation):
    """An op computed in a clock cycle of its unit."""

    cycle = prop_def(IntegerAttr)

    @property
    def cycle_number(self) -> int:
        return self.cycle.value.data

    def set_cycle(self, cycle: int) -> None:
        self.cycle = IntegerAttr(cycle, i64)

    def _check_cycles(self) -> None:
        for operand in self.operands:
            owner = operand.owner
            if isinstance(owner, ScheduledOp) and owner.cycle_number > self.cycle_number:
                raise VerifyException("an operand is computed in a later cycle than its reader")


@irdl_op_definition
class AddOp(ScheduledOp):
    """``sum_k (-1)^negated_k * (operand_k << shifts_k) + constant``."""

    name = "shiftadd.add"

    values = var_operand_def(IntRangeType)
    result = result_def(IntRangeType)
    shifts = prop_def(DenseArrayBase)
    negated = prop_def(DenseArrayBase)
    constant = prop_def(IntegerAttr)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$values attr-dict `:` type($values) `->` type($result)"

    def __init__(
        self,
        values: list[SSAValue],
        shifts: tuple[int, ...],
        negated: tuple[bool, ...],
        constant: int,
        low: int,
        high: int,
        cycle: int = 0,
    ):
        super().__init__(
            operands=[values],
            result_types=[IntRangeType.of(low, high)],
            properties={
                "shifts": int_array(shifts),
                "negated": int_array(tuple(int(n) for n in negated)),
                "constant": IntegerAttr(constant, i64),
                "cycle": IntegerAttr(cycle, i64),
            },
        )

    @property
    def terms(self) -> list[tuple[SSAValue, int, bool]]:
        """(operand, shift, negated) of every operand."""
        return list(zip(self.values, int_tuple(self.shifts), map(bool, int_tuple(self.negated)),
                        strict=True))

    def verify_(self) -> None:
        shifts, negated = int_tuple(self.shifts), int_tuple(self.negated)
        if len(self.values) > 3 or len(shifts) != len(self.values) or len(negated) != len(shifts):
            raise VerifyException("an add has up to three operands, one shift and sign each")
        if any(s < 0 for s in shifts):
            raise VerifyException("shifts are left shifts (>= 0)")
        self._check_cycles()


@irdl_op_definition
class MultiplyOp(ScheduledOp):
    """``operand * constant`` on a DSP slice."""

    name = "shiftadd.multiply"

    value = operand_def(IntRangeType)
    result = result_def(IntRangeType)
    constant = prop_def(IntegerAttr)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$value attr-dict `:` type($value) `->` type($result)"

    def __init__(self, value: SSAValue, constant: int, cycle: int = 0):
        low, high = sorted(v * constant for v in bounds(value))
        super().__init__(
            operands=[value],
            result_types=[IntRangeType.of(low, high)],
            properties={"constant": IntegerAttr(constant, i64), "cycle": IntegerAttr(cycle, i64)},
        )

    def verify_(self) -> None:
        self._check_cycles()


@irdl_op_definition
class CastOp(ScheduledOp):
    """Drop ``shift`` fractional bits with ``rounding`` (the RND offset already added when
    ``rounded``), then fit ``width`` bits by ``overflow``: ``rtlflow.rtl.arith.Cast``."""

    name = "shiftadd.cast"

    value = operand_def(IntRangeType)
    result = result_def(IntRangeType)
    shift = prop_def(IntegerAttr)
    rounding = prop_def(StringAttr)
    overflow = prop_def(StringAttr)
    width = prop_def(IntegerAttr)
    is_signed = prop_def(IntegerAttr, prop_name="signed")
    rounded = opt_prop_def(IntegerAttr)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$value attr-dict `:` type($value) `->` type($result)"

    def __init__(
        self,
        value: SSAValue,
        *,
        shift: int,
        rounding: str,
        overflow: str,
        width: int,
        signed: bool,
        rounded: bool,
        low: int,
        high: int,
        cycle: int = 0,
    ):
        properties = {
            "shift": IntegerAttr(shift, i64),
            "rounding": StringAttr(rounding),
            "overflow": StringAttr(overflow),
            "width": IntegerAttr(width, i64),
            "signed": IntegerAttr(int(signed), i64),
            "cycle": IntegerAttr(cycle, i64),
        }
        if rounded:
            properties["rounded"] = IntegerAttr(1, i64)
        super().__init__(
            operands=[value], result_types=[IntRangeType.of(low, high)], properties=properties
        )

    def verify_(self) -> None:
        if self.rounding.data not in ROUNDING_MODES or self.overflow.data not in OVERFLOW_MODES:
            raise VerifyException("unknown rounding or overflow mode")
        self._check_cycles()


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends an implementation region: the unit's output elements in order."""

    name = "shiftadd.yield"

    values = var_operand_def(IntRangeType)
    traits = traits_def(IsTerminator())
    assembly_format = "$values attr-dict `:` type($values)"

    def __init__(self, *values: SSAValue):
        super().__init__(operands=[list(values)])


ShiftAdd = Dialect("shiftadd", [AddOp, MultiplyOp, CastOp, YieldOp], [IntRangeType])

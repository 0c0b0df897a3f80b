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
Invariants checked by ``verify_`` (directly, not by IRDL's generic verifier: ``check_kinds``):
the operand, result and property kinds, an add's shifts and negations match its operands, and
nothing reads a value from a later cycle.
"""

from __future__ import annotations

import functools
from typing import ClassVar

from xdsl.dialects.builtin import DenseArrayBase, IntAttr, IntegerAttr, StringAttr, i64
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SSAValue, TypeAttribute
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
        return _range_type(int(low), int(high))

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


# Attributes are immutable values: the few thousand distinct ranges, cycles and constants of a
# model's adder graphs are each built once (building one costs more than the op that holds it).
@functools.lru_cache(maxsize=1 << 16)
def _range_type(low: int, high: int) -> IntRangeType:
    return IntRangeType(IntAttr(low), IntAttr(high))


@functools.lru_cache(maxsize=1 << 16)
def _i64(value: int) -> IntegerAttr:
    return IntegerAttr(value, i64)


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
        self.cycle = _i64(int(cycle))

    #: the properties' attribute kinds, those that may be absent, and the operands (None: up to
    #: three)
    KINDS: ClassVar[dict[str, type[Attribute]]] = {}
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()
    OPERANDS: ClassVar[int | None] = 1

    def check_kinds(self) -> None:
        """What IRDL's generated verifier checks of these ops (operand and result types, the
        properties' presence and kinds), checked directly: a model's adder graphs hold
        thousands of them, and the generic verifier took a fifth of a compile."""
        count = len(self.operands)
        if (count > 3) if self.OPERANDS is None else (count != self.OPERANDS):
            raise VerifyException(f"{self.name}: {count} operands")
        for value in (*self.operands, *self.results):
            if not isinstance(value.type, IntRangeType):
                raise VerifyException(f"{self.name}: expected !shiftadd.int, got {value.type}")
        if len(self.results) != 1 or self.regions or self.successors:
            raise VerifyException(f"{self.name}: one result, no region or successor")
        for name, kind in self.KINDS.items():
            value = self.properties.get(name)
            if value is None and name in self.OPTIONAL:
                continue
            if not isinstance(value, kind):
                raise VerifyException(f"{self.name}: property '{name}' must be {kind.__name__}")
        extra = self.properties.keys() - self.KINDS.keys()
        if extra:
            raise VerifyException(f"{self.name}: unknown properties {sorted(extra)}")

    def _check_cycles(self) -> None:
        for operand in self.operands:
            owner = operand.owner
            if isinstance(owner, ScheduledOp) and owner.cycle_number > self.cycle_number:
                raise VerifyException("an operand is computed in a later cycle than its reader")


def _checked_directly(cls: type[ScheduledOp]) -> type[ScheduledOp]:
    """``cls`` verified by ``check_kinds`` and its own ``check`` instead of IRDL's generated
    verifier."""

    def verify_(self: ScheduledOp) -> None:
        self.check_kinds()
        self.check()

    cls.verify_ = verify_  # type: ignore[method-assign]
    return cls


@_checked_directly
@irdl_op_definition
class AddOp(ScheduledOp):
    """``sum_k (-1)^negated_k * (operand_k << shifts_k) + constant``."""

    name = "shiftadd.add"
    KINDS: ClassVar[dict[str, type[Attribute]]] = {
        "shifts": DenseArrayBase, "negated": DenseArrayBase, "constant": IntegerAttr,
        "cycle": IntegerAttr,
    }  # fmt: skip
    OPERANDS: ClassVar[int | None] = None

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
        # Operation's own constructor: the operands are one plain list (IRDL's would rebuild it)
        Operation.__init__(
            self,
            operands=values,
            result_types=[IntRangeType.of(low, high)],
            properties={
                "shifts": int_array(shifts),
                "negated": int_array(tuple(int(n) for n in negated)),
                "constant": _i64(int(constant)),
                "cycle": _i64(int(cycle)),
            },
        )

    @property
    def terms(self) -> list[tuple[SSAValue, int, bool]]:
        """(operand, shift, negated) of every operand."""
        return list(zip(self.values, int_tuple(self.shifts), map(bool, int_tuple(self.negated)),
                        strict=True))

    def check(self) -> None:
        shifts, negated = int_tuple(self.shifts), int_tuple(self.negated)
        if len(self.values) > 3 or len(shifts) != len(self.values) or len(negated) != len(shifts):
            raise VerifyException("an add has up to three operands, one shift and sign each")
        if any(s < 0 for s in shifts):
            raise VerifyException("shifts are left shifts (>= 0)")
        self._check_cycles()


@_checked_directly
@irdl_op_definition
class MultiplyOp(ScheduledOp):
    """``operand * constant`` on a DSP slice."""

    name = "shiftadd.multiply"
    KINDS: ClassVar[dict[str, type[Attribute]]] = {"constant": IntegerAttr, "cycle": IntegerAttr}

    value = operand_def(IntRangeType)
    result = result_def(IntRangeType)
    constant = prop_def(IntegerAttr)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$value attr-dict `:` type($value) `->` type($result)"

    def __init__(self, value: SSAValue, constant: int, cycle: int = 0):
        low, high = sorted(v * constant for v in bounds(value))
        Operation.__init__(
            self,
            operands=[value],
            result_types=[IntRangeType.of(low, high)],
            properties={"constant": _i64(int(constant)), "cycle": _i64(int(cycle))},
        )

    def check(self) -> None:
        self._check_cycles()


@_checked_directly
@irdl_op_definition
class CastOp(ScheduledOp):
    """Drop ``shift`` fractional bits with ``rounding`` (the RND offset already added when
    ``rounded``), then fit ``width`` bits by ``overflow``: ``rtlflow.rtl.arith.Cast``."""

    name = "shiftadd.cast"
    KINDS: ClassVar[dict[str, type[Attribute]]] = {
        "shift": IntegerAttr, "rounding": StringAttr, "overflow": StringAttr, "width": IntegerAttr,
        "signed": IntegerAttr, "cycle": IntegerAttr, "rounded": IntegerAttr,
    }  # fmt: skip
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"rounded"})

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
            "shift": _i64(int(shift)),
            "rounding": StringAttr(rounding),
            "overflow": StringAttr(overflow),
            "width": _i64(int(width)),
            "signed": _i64(int(signed)),
            "cycle": _i64(int(cycle)),
        }
        if rounded:
            properties["rounded"] = _i64(1)
        Operation.__init__(
            self, operands=[value], result_types=[IntRangeType.of(low, high)], properties=properties
        )

    def check(self) -> None:
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

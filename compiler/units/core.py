"""How each hardware-level op is built: its rtl unit class and that unit's integer parameters.

This is the one place that turns fixed-point semantics (formats, LSB alignment, casts) into the
plain integers the rtl units take, so the scheduling pass, the resource estimate and Verilog
emission all build exactly the same unit.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amaranth.hdl import Shape, signed, unsigned
from xdsl.ir import Operation

from rtlflow.dialects import circuit, fxp
from rtlflow.numerics.fixed_point import FixedFormat
from rtlflow.rtl.arith import Cast
from rtlflow.rtl.delay import DelayUnit
from rtlflow.rtl.pipeline import Plan, Unit
from rtlflow.rtl.stream import CollectUnit


@dataclass(frozen=True, eq=False)
class UnitSpec:
    """An rtl unit class with its parameters (registers aside)."""

    kind: str
    summary: str
    unit_class: type[Unit]
    params: dict[str, Any]

    def build(self, registers: frozenset[int] | tuple[int, ...] = (), stall: bool = False) -> Unit:
        """The unit; ``stall``: with an ``en`` input holding every register (backpressure)."""
        return self._unit(registers, stall, self.plan())  # the plan is the same for any registers

    def plan(self) -> Plan:
        """The unit's plan (steps, forced boundaries), from a unit built only to be asked; kept
        for the units of the same parameters (the register pass, the estimate and the report
        each ask, and a large unit's dry run takes seconds)."""
        key = hashlib.sha1(self._key().encode()).digest()
        plan = _PLANS.pop(key, None)
        if plan is None:
            unit = self._unit()
            unit._MustUse__silence = True  # never elaborated
            plan = unit.plan
            if len(_PLANS) >= _PLANS_KEPT:
                del _PLANS[next(iter(_PLANS))]  # the least recently used
        _PLANS[key] = plan
        return plan

    def _unit(
        self, registers: frozenset[int] | tuple[int, ...] = (), stall: bool = False,
        plan: Plan | None = None,
    ) -> Unit:  # fmt: skip
        """The unit; ``plan``: its plan when known (``Unit`` then does not make it again)."""
        extra: dict[str, Any] = {"stall": True} if stall else {}
        if self.unit_class not in (DelayUnit, CollectUnit):
            extra["registers"] = frozenset(registers)
        unit = self.unit_class.__new__(self.unit_class)
        unit._known_plan = plan
        unit.__init__(**self.params, **extra)
        return unit

    def _key(self, registers: frozenset[int] | tuple[int, ...] = (), stall: bool = False) -> str:
        """``repr((class name, sorted params, sorted registers))`` [+ " stall"]; the text of the
        parameters (an adder graph's every node) made once per spec."""
        params = self.__dict__.get("_params_text")
        if params is None:
            params = repr(sorted(self.params.items()))
            object.__setattr__(self, "_params_text", params)
        key = f"({self.unit_class.__name__!r}, {params}, {sorted(registers)!r})"
        return key + " stall" if stall else key

    def module_name(
        self, registers: frozenset[int] | tuple[int, ...] = (), stall: bool = False
    ) -> str:
        """A deterministic Verilog module name: identical units get identical names."""
        digest = hashlib.sha1(self._key(registers, stall).encode()).hexdigest()[:8]
        return f"{self.kind}_{self.summary}_{digest}"


#: plans by unit parameters, least recently used first
_PLANS: dict[bytes, Plan] = {}
_PLANS_KEPT = 1024


def shape_of(fmt: FixedFormat) -> Shape:
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)


def cast_into(fmt: FixedFormat, from_frac: int) -> Cast:
    """The cast from a value with ``from_frac`` fractional bits into ``fmt``."""
    return Cast(from_frac - fmt.frac_bits, fmt.rounding, fmt.overflow, fmt.width, fmt.signed)


def elements(op) -> int:
    """Elements the unit sees at once: the whole tensor, or one pixel's channels per beat."""
    shape = fxp.tensor_shape(op.input)
    return shape[1] if circuit.beats_of(op) > 1 else math.prod(shape)


Builder = Callable[[Operation], UnitSpec]
_BUILDERS: dict[type[Operation], Builder] = {}


def builds(*op_types: type[Operation]) -> Callable[[Builder], Builder]:
    """Register the decorated function as the unit builder of ``op_types`` (fxp ops)."""

    def register(builder: Builder) -> Builder:
        for op_type in op_types:
            _BUILDERS[op_type] = builder
        return builder

    return register


def builder_of(op: Operation) -> Builder | None:
    """The registered builder of an fxp op's unit."""
    return _BUILDERS.get(type(op))

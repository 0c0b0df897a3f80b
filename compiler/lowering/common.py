"""nn → fxp lowering, shared: the family patterns (``FamilyPattern``, ``@lowers``) and the
helpers every family uses (constants quantized without wrapping, quantizer formats, names in
messages)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import ClassVar

import numpy as np
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from rtlflow.dialects import nn
from rtlflow.dialects.arrays import WINDOW_PROPERTIES
from rtlflow.errors import RtlflowError
from rtlflow.numerics.fixed_point import FixedFormat, bits_for_range, raw_range
from rtlflow.numerics.quantization import power_of_two_exponent


def lowers(*op_types: type) -> Callable[[Callable], Callable]:
    """Mark the decorated method ``(self, op, layer, result)`` of a ``FamilyPattern`` as the
    lowering of ``op_types``: it returns the fxp op (or None where the value passes unchanged)."""

    def register(method: Callable) -> Callable:
        method.lowers = op_types  # type: ignore[attr-defined]
        return method

    return register


class FamilyPattern(RewritePattern):
    """The nn → fxp lowerings of one op family, as a rewrite pattern: an op with a ``@lowers``
    method of the family is rewritten by ``Lowering.rewrite`` (operands' fxp values, result
    format, carried scales), which calls that method for the fxp op."""

    lowerings: ClassVar[dict[type, Callable]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.lowerings = {
            op_type: method
            for method in vars(cls).values()
            for op_type in getattr(method, "lowers", ())
        }

    def __init__(self, lowering) -> None:
        self.lowering = lowering
        """the state of the function's conversion (``rtlflow.lowering.converter.Lowering``)"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        method = self.lowerings.get(type(op))
        if method is not None:
            self.lowering.rewrite(op, rewriter, partial(method, self))

    # what every family reads of the conversion's state

    @property
    def precision(self) -> FixedFormat:
        return self.lowering.precision

    @property
    def exact(self) -> bool:
        return self.lowering.exact

    @property
    def carried(self) -> dict:
        return self.lowering.carried

    @property
    def outgoing(self) -> dict:
        return self.lowering.outgoing

    def value(self, value: SSAValue) -> SSAValue:
        return self.lowering.value(value)

    def converted(self, value: SSAValue) -> bool:
        return self.lowering.converted(value)

    def input(self, op: nn.NnOp) -> SSAValue:
        return self.lowering.input(op)

    def result_type(self, op: nn.NnOp, fmt: FixedFormat):
        return self.lowering.result_type(op, fmt)

    def insert(self, op: Operation) -> None:
        self.lowering.insert(op)

    def emit(self, op: Operation) -> SSAValue:
        """Insert ``op`` before the op being rewritten; its result."""
        self.insert(op)
        return op.results[0]

    def layer(self, op: nn.NnOp):
        return self.lowering.layer(op)

    def derived(self, op: nn.NnOp) -> str | None:
        return self.lowering.derived(op)

    def activations(self, op: nn.BinaryOp, verb: str) -> tuple[SSAValue, SSAValue]:
        """The fxp values of a binary op on two activations of one shape (else an error)."""
        if not all(self.converted(v) for v in op.operands):
            raise RtlflowError(unsupported_reason(op), node=op.node_name, op=kind(op))
        if nn.shape_of(op.lhs) != nn.shape_of(op.rhs):
            raise RtlflowError(
                f"{verb} activations of shapes {list(nn.shape_of(op.lhs))} and "
                f"{list(nn.shape_of(op.rhs))} (broadcasting) is not supported",
                node=op.node_name,
                op=kind(op),
            )
        return self.value(op.lhs), self.value(op.rhs)

    def weighted(self, op, layer) -> dict:
        return self.lowering.weighted(op, layer)

    def constant_format(self, values: np.ndarray, configured: FixedFormat | None) -> FixedFormat:
        return self.lowering.constant_format(values, configured)


_ROUNDING_MODES = {"ROUND": "RND_CONV", "HALF_EVEN": "RND_CONV", "FLOOR": "TRN"}


#: QONNX rounding modes as an offset, then floor: ``floor(v + offset(s))`` for values ``v`` with
#: ``s`` fractional bits dropped (on both signs for CEIL; on the magnitude, the sign restored
#: after, for the modes symmetric about zero)
OFFSET_ROUNDING: dict[str, tuple[Callable[[int], int], bool]] = {
    "CEIL": (lambda s: (1 << s) - 1, False),
    "ROUND_TO_ZERO": (lambda s: 0, True),
    "DOWN": (lambda s: 0, True),
    "UP": (lambda s: (1 << s) - 1, True),
    "HALF_UP": (lambda s: 1 << (s - 1), True),
    "HALF_DOWN": (lambda s: (1 << (s - 1)) - 1, True),
}


def quant_format(op: nn.QuantOp, any_rounding: bool = False) -> FixedFormat | None:
    """The fixed-point format a quantizer produces by a cast: one power-of-two scale, zero point
    0, round half to even or floor (or, with ``any_rounding``, any of ``OFFSET_ROUNDING``, then
    the format's rounding is TRN), the integer bounds of a (narrow) signed or unsigned type.
    None for any other quantizer (it becomes thresholds)."""
    exponent = power_of_two_exponent(op.scales)
    rounding = _ROUNDING_MODES.get(op.rounding.data)
    if any_rounding and op.rounding.data in OFFSET_ROUNDING:
        rounding = "TRN"
    if exponent is None or np.any(op.zero_points != 0) or rounding is None or op.shift_bits:
        return None
    low, high = op.bounds
    width, signed = bits_for_range(min(low, 0), max(high, 0))
    full_low, full_high = raw_range(width, signed)
    if (low, high) == (full_low, full_high):
        overflow = "SAT"
    elif signed and (low, high) == (full_low + 1, full_high):
        overflow = "SAT_SYM"
    else:
        return None
    return FixedFormat(width, width + exponent, signed, rounding, overflow)  # type: ignore[arg-type]


def represents(fmt: FixedFormat, other: FixedFormat) -> bool:
    """Whether every value of ``other`` is a value of ``fmt`` (no rounding, no saturation)."""
    low = fmt.saturation_low * fmt.lsb
    return (
        other.frac_bits <= fmt.frac_bits
        and other.min_value >= low
        and other.max_value <= fmt.max_value
    )


def index_axis_sizes(value: SSAValue) -> list[int]:
    """The sizes of the axes that the integers of ``value`` index (through wiring ops)."""
    sizes: list[int] = []
    for use in value.uses:
        user = use.operation
        if isinstance(user, nn.GatherOp) and use.index == 1:
            sizes.append(nn.shape_of(user.data)[user.axis.value.data])
        elif isinstance(user, nn.ScatterOp) and use.index == 1:
            data = nn.shape_of(user.data)
            if user.kind.data == "nd":
                sizes += data[: nn.shape_of(user.indices)[-1]]
            else:
                sizes.append(data[user.axis.value.data])
        elif isinstance(
            user, nn.GatherOp | nn.ReshapeOp | nn.ExpandOp | nn.TransposeOp | nn.ConcatOp
        ):
            sizes += index_axis_sizes(user.results[0])
    return sizes


def first_quantizer(argument: SSAValue) -> nn.QuantOp | None:
    """The quantizer a design input goes through first, if every use of it is one."""
    users = [use.operation for use in argument.uses]
    if users and all(isinstance(u, nn.QuantOp) for u in users):
        formats = {quant_format(u) for u in users}
        return users[0] if len(formats) == 1 and None not in formats else None
    return None


def window_properties(op: nn.WindowOp) -> dict:
    return {name: getattr(op, name) for name in WINDOW_PROPERTIES}


def quantize_constant(values: np.ndarray, fmt: FixedFormat, op: nn.NnOp, what: str) -> np.ndarray:
    """Raw integers of constant ``values`` in ``fmt``; wrapping values is an error, and so are
    values that are not finite and raw integers wider than the IR's 64-bit constants."""
    if not np.isfinite(np.asarray(values, dtype=np.float64)).all():
        raise RtlflowError(
            f"{what} values are infinite or NaN: hardware computes with finite numbers only",
            node=op.node_name,
            op=kind(op),
        )
    raw, overflowed = fmt.quantize(np.asarray(values, dtype=np.float64))
    if overflowed.any() and fmt.overflow == "WRAP":
        outside = np.asarray(values, dtype=np.float64)[np.broadcast_to(overflowed, np.shape(values))]
        worst = float(outside[np.argmax(np.abs(outside))])
        raise RtlflowError(
            f"{what} values reach {worst:.4g}, outside the range of {fmt} "
            f"[{fmt.min_value:g}, {fmt.max_value:g}]: give this layer a wider {what} format "
            f"in the configuration (or SAT to saturate)",
            node=op.node_name,
            op=kind(op),
        )
    if raw.size and (int(raw.max()) >= 2**63 or int(raw.min()) < -(2**63)):
        raise RtlflowError(
            f"{what} values reach {float(np.max(np.abs(values))):.4g}: in {fmt} that is wider "
            "than the 64 bits a constant may have",
            node=op.node_name,
            op=kind(op),
        )
    return raw


def log2_exact(value: float, op: nn.NnOp, what: str) -> int:
    exponent = math.log2(value) if value > 0 else 0.5
    if exponent != math.floor(exponent):
        raise RtlflowError(
            f"{what} must give a power of two, got {value:g}", node=op.node_name, op=kind(op)
        )
    return int(exponent)


def kind(op: Operation) -> str:
    return op.name.removeprefix("nn.")


def unsupported_reason(op: Operation) -> str:
    if isinstance(op, nn.BinaryOp) and (
        nn.constant_value(op.lhs) is not None or nn.constant_value(op.rhs) is not None
    ):
        if isinstance(op, nn.DivOp) and nn.constant_value(op.rhs) is None:
            return "division by an activation tensor is not supported"
        return "a constant that broadcasts the activation to a larger shape is not supported"
    if isinstance(op, nn.BinaryOp | nn.GemmOp):
        return f"{kind(op)} of two activation tensors is not supported yet"
    return f"{kind(op)} cannot be converted to fixed point"

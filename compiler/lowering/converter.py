"""nn → fxp: the conversion of one function, dialect-conversion style.

The function's arguments get their fixed-point types first; then every op, in order, is rewritten
by the pattern of its family (``FamilyPattern``). A converted value reaches the nn ops still to be
rewritten through an ``unrealized_conversion_cast`` from its fxp value to its tensor type, so the
IR stays valid after every rewrite; once the return is rewritten, the casts and the nn constants
(now folded into the fxp ops' properties) are dead and erased. ``Lowering`` holds what the
patterns share: the default format, the quantized constants and the carried scales; each op's
formats are read from what ``nn-assign-precision`` wrote on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.dialects import func
from xdsl.dialects.builtin import UnitAttr, UnrealizedConversionCastOp
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter

from rtlflow.config import DEFAULT_PRECISION, LayerConfig
from rtlflow.dialects import fxp, nn
from rtlflow.errors import RtlflowError
from rtlflow.lowering.assign import (
    INPUTS,
    PRECISION,
    assigned,
    function_precision,
    input_formats,
)
from rtlflow.lowering.carried import Carried, CarriedScales
from rtlflow.lowering.common import FamilyPattern, kind, unsupported_reason
from rtlflow.lowering.precision import Precision
from rtlflow.numerics.fixed_point import FixedFormat


class Lowering(Precision, CarriedScales):
    """The state of one function's conversion, shared by the family patterns: the default
    format, quantized constants, carried scales, and the rewrite of one op (``rewrite``)."""

    def __init__(self, function: func.FuncOp):
        #: the default format (of constants without their own)
        self.precision = function_precision(function, DEFAULT_PRECISION)
        #: a quantization-aware model: formats are exact unless configured (see ``exact_result``)
        self.exact = False
        #: each dense / conv layer's quantized constants, computed once (``weighted``)
        self.constants: dict[Operation, dict] = {}
        #: converted values (as the nn ops see them) carried with a scale (and offset, ReLU) not
        #: yet applied (see ``Carried``)
        self.carried: dict[SSAValue, Carried] = {}
        #: the carried form of a dense / conv / quantizer result, set while converting it
        self.outgoing: dict[Operation, Carried] = {}
        self.rewriter: PatternRewriter | None = None

    def convert(self, function: func.FuncOp, patterns: Sequence[FamilyPattern]) -> None:
        block = function.body.block
        self.exact = any(isinstance(op, nn.QuantOp) for op in block.ops)
        self.convert_arguments(function)
        for op in [op for op in block.ops if not isinstance(op, UnrealizedConversionCastOp)]:
            self.rewriter = PatternRewriter(op)
            if isinstance(op, func.ReturnOp):
                self.convert_return(op)
                continue
            for pattern in patterns:
                pattern.match_and_rewrite(op, self.rewriter)
                if self.rewriter.has_done_action:
                    break
            else:
                if not isinstance(op, nn.ConstantOp):
                    raise RtlflowError(unsupported_reason(op), node=op.node_name, op=kind(op))
        for op in reversed(list(block.ops)):  # dead now: bridges and folded constants
            if isinstance(op, UnrealizedConversionCastOp | nn.ConstantOp):
                block.erase_op(op)
        function.update_function_type()

    def convert_arguments(self, function: func.FuncOp) -> None:
        """Each argument in its assigned format (the default without ``nn-assign-precision``)."""
        block = function.body.block
        formats = input_formats(function) or [self.precision] * len(block.args)
        old_args, first = list(block.args), block.first_op
        assert first is not None  # the return at least
        for fmt, argument in zip(formats, old_args, strict=True):
            new = block.insert_arg(fxp.fixed_tensor(nn.shape_of(argument), fmt), len(block.args))
            new.name_hint = argument.name_hint
            bridge = UnrealizedConversionCastOp.get([new], [argument.type])
            block.insert_op_before(bridge, first)
            argument.replace_all_uses_with(bridge.results[0])
        for argument in old_args:
            block.erase_arg(argument)
        for key in (PRECISION, INPUTS):
            function.attributes.pop(key, None)

    def convert_return(self, op: func.ReturnOp) -> None:
        for value in op.arguments:
            self.apply_carried(value)
        self.rewriter.replace(op, func.ReturnOp(*[self.value(v) for v in op.arguments]))

    def rewrite(self, op: nn.NnOp, rewriter: PatternRewriter, lower: Callable) -> None:
        """Rewrite ``op`` with its family's lowering ``lower(op, layer, result)``: carried scales
        its op cannot take are applied first; the result is bridged to the nn ops that read it."""
        self.rewriter = rewriter
        if isinstance(op, nn.AddOp) and any(
            isinstance(v.owner, nn.ConstantOp) for v in op.operands[1:]
        ):
            raise RtlflowError(unsupported_reason(op), node=op.node_name, op=kind(op))
        for value in op.operands:
            if value in self.carried and not self.takes_carried(op, self.carried[value]):
                self.apply_carried(value)
        carried = self.carried.get(op.operands[0]) if op.operands else None
        if isinstance(op, nn.ReluOp) and carried is not None and not carried.linear:
            relu = Carried(carried.scale, carried.offset, True, carried.node)
            self.bind(op, self.input(op), relu)  # the next quantizer's job
            return
        layer, result, derived = assigned(op, self.precision)
        if derived == "exact":
            result = self.exact_result(op) or result
        elif derived == "auto":
            result = self.inferred_result(op) or result
        new_op = lower(op, layer, result)
        if new_op is None:  # a quantizer into the format its input already has
            self.bind(op, self.input(op), None)
            return
        self.insert(new_op)
        new_op.results[0].name_hint = op.results[0].name_hint
        self.bind(op, new_op.results[0], self.carried_result(op, carried))

    def bind(self, op: nn.NnOp, value: SSAValue, carried: Carried | None) -> None:
        """Replace ``op`` by ``value`` (fxp), bridged to the nn ops that read its result."""
        bridge = UnrealizedConversionCastOp.get([value], [op.results[0].type])
        self.rewriter.replace(op, bridge)
        if carried is not None:
            self.carried[bridge.results[0]] = carried
            if isinstance(value.owner, Operation):  # its numbers are levels or sums, not values
                value.owner.attributes[fxp.CARRIED] = UnitAttr()

    def rebind(self, value: SSAValue, new: SSAValue) -> None:
        """Every reader of the converted ``value`` reads the fxp value ``new`` instead."""
        bridge = UnrealizedConversionCastOp.get([new], [value.type])
        self.insert(bridge)
        self.rewriter.replace_all_uses_with(value, bridge.results[0])

    def layer(self, op: nn.NnOp) -> LayerConfig:
        """The settings assigned to ``op`` (``result`` only where configured)."""
        return assigned(op, self.precision)[0]

    def derived(self, op: nn.NnOp) -> str | None:
        """"exact" or "auto" where ``op``'s result format is derived from exact ranges (all
        fractional bits, or the precision's), else None."""
        return assigned(op, self.precision)[2]

    def insert(self, op: Operation) -> None:
        """Insert ``op`` before the op being rewritten."""
        self.rewriter.insert(op)

    def converted(self, value: SSAValue) -> bool:
        """Whether ``value`` is an activation (converted), not an nn constant."""
        return isinstance(value.owner, UnrealizedConversionCastOp)

    def value(self, value: SSAValue) -> SSAValue:
        """The fxp value of a converted value."""
        owner = value.owner
        assert isinstance(owner, UnrealizedConversionCastOp), value
        return owner.inputs[0]

    def input(self, op: nn.NnOp) -> SSAValue:
        return self.value(op.operands[0])

    def result_type(self, op: nn.NnOp, fmt: FixedFormat):
        return fxp.fixed_tensor(nn.shape_of(op.results[0]), fmt)

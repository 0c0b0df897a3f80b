"""fxp-fuse-activation: a ReLU and the saturating quantizer after it become the layer's result.

Input and output level: fxp. A quantization-aware network computes ``quant(relu(layer(x)))``
after most dense and convolution layers, with ``quant`` a cast that rounds and saturates into a
few bits. When the layer's own result format holds its accumulator exactly (so the layer's cast
loses nothing), that chain equals the layer cast directly into the quantizer's range above zero:
the unsigned format one bit narrower, saturating, with the quantizer's rounding. Rounding is
monotonic and maps 0 to 0, so a negative sum lands on 0 either way, and the upper bound is the
quantizer's. The pass rewrites

    %y = fxp.conv %x ... -> fixed<10,4>
    %r = fxp.relu %y -> fixed<10,4>
    %q = fxp.cast %r -> fixed<4,1,RND_CONV,SAT>

into ``%y = fxp.conv %x ... -> ufixed<3,0,RND_CONV,SAT>`` and ``%q = fxp.cast %y ->
fixed<4,1,RND_CONV,SAT>``, an exact cast (wiring): the same values, one rounding saturating cast
per output in the hardware (in an adder graph, its output cast) instead of a cast, a ReLU and
another cast. Conditions: each result has that one reader,
the ReLU keeps its format, the cast saturates (SAT or SAT_SYM; after a ReLU both clamp only at
the top), no value carries a scale (``fxp.carried``). The layer is marked ``fxp.quantized``:
saturating into its result is the model's quantizer, not an overflow to warn about.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, UnitAttr
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from rtlflow.dialects import fxp
from rtlflow.numerics.fixed_point import FixedFormat


def holds_exactly(inner: FixedFormat, outer: FixedFormat) -> bool:
    """Whether every value of ``inner`` is a value of ``outer`` (a cast that loses nothing)."""
    if inner.frac_bits > outer.frac_bits:
        return False
    if inner.signed and not outer.signed:
        return False
    inner_int = inner.int_bits - int(inner.signed)  # magnitude bits above the point
    outer_int = outer.int_bits - int(outer.signed)
    return inner_int <= outer_int


def rectified(fmt: FixedFormat) -> FixedFormat | None:
    """The values of a saturating ``fmt`` at or above zero, as an unsigned saturating format."""
    if fmt.overflow not in ("SAT", "SAT_SYM"):
        return None
    if not fmt.signed:
        return replace(fmt, overflow="SAT")
    if fmt.width < 2:
        return None
    return FixedFormat(fmt.width - 1, fmt.int_bits - 1, False, fmt.rounding, "SAT")


def _only_reader(op: Operation) -> Operation | None:
    uses = list(op.results[0].uses)
    return uses[0].operation if len(uses) == 1 else None


class FuseReluQuantizer(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fxp.WeightedOp, rewriter: PatternRewriter) -> None:
        if not isinstance(op, fxp.DenseOp | fxp.ConvOp):
            return
        relu = _only_reader(op)
        if not isinstance(relu, fxp.ReluOp) or relu.input_format != relu.output_format:
            return
        cast = _only_reader(relu)
        if not isinstance(cast, fxp.CastOp):
            return
        if any(fxp.CARRIED in o.attributes for o in (op, relu, cast)):
            return
        fused = rectified(cast.output_format)
        if fused is None or not holds_exactly(op.accumulator.format, op.output_format):
            return
        fused_op = type(op).create(
            operands=list(op.operands),
            result_types=[fxp.fixed_tensor(fxp.tensor_shape(cast.output), fused)],
            properties=dict(op.properties),
            attributes=dict(op.attributes) | {fxp.QUANTIZED: UnitAttr()},
        )
        # the quantizer stays as an exact cast back into its format (wiring: a zero extension),
        # so its readers see what they saw
        widen = fxp.CastOp(fused_op.results[0], cast.output.type, cast.node.data)
        rewriter.replace(cast, [fused_op, widen])
        rewriter.erase(relu)
        rewriter.erase(op)


class SinkWideningCast(RewritePattern):
    """An exact widening cast moves below a max pooling or a reshape that reads it alone, so
    they work on the narrow values (a register or comparator bit fewer per element)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, cast: fxp.CastOp, rewriter: PatternRewriter) -> None:
        narrow, wide = cast.input_format, cast.output_format
        if narrow == wide or not holds_exactly(narrow, wide):
            return
        reader = _only_reader(cast)
        if isinstance(reader, fxp.PoolOp):
            if reader.kind.data != "max" or not holds_exactly(wide, reader.output_format):
                return
        elif not isinstance(reader, fxp.ReshapeOp):
            return
        moved = type(reader).create(
            operands=[cast.input],
            result_types=[fxp.fixed_tensor(fxp.tensor_shape(reader.output), narrow)],
            properties=dict(reader.properties),
            attributes=dict(reader.attributes),
        )
        widen = fxp.CastOp(moved.results[0], reader.output.type, cast.node.data)
        rewriter.replace(reader, [moved, widen])
        rewriter.erase(cast)


@dataclass(frozen=True)
class FxpFuseActivationPass(ModulePass):
    name = "fxp-fuse-activation"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FuseReluQuantizer(), apply_recursively=False).rewrite_module(op)
        PatternRewriteWalker(SinkWideningCast()).rewrite_module(op)

"""nn → fxp lowering, products: dense layers and MatMul of two activations."""

from __future__ import annotations

from rtlflow.config import LayerConfig
from rtlflow.dialects import fxp, nn
from rtlflow.errors import RtlflowError
from rtlflow.lowering.common import FamilyPattern, kind, lowers, unsupported_reason
from rtlflow.numerics.fixed_point import FixedFormat, range_format


class Linear(FamilyPattern):
    """Dense layers and MatMul (their constants: ``Precision.weighted``)."""

    @lowers(nn.DenseOp)
    def dense(self, op: nn.DenseOp, layer: LayerConfig, result: FixedFormat) -> fxp.DenseOp:
        return fxp.DenseOp(
            self.input(op),
            self.result_type(op, result),
            op.node_name,
            **self.weighted(op, layer),
            reuse_factor=fxp.int_prop(1),
        )

    @lowers(nn.MatMulOp)
    def matmul(self, op: nn.MatMulOp, layer: LayerConfig, result: FixedFormat):
        if not all(self.converted(v) for v in op.operands):
            raise RtlflowError(unsupported_reason(op), node=op.node_name, op=kind(op))
        a, b = self.value(op.lhs), self.value(op.rhs)
        if self.derived(op):
            fa, fb = fxp.tensor_format(a), fxp.tensor_format(b)
            corners = [x * y for x in (fa.min_raw, fa.max_raw) for y in (fb.min_raw, fb.max_raw)]
            terms = nn.shape_of(op.lhs)[-1]
            result = range_format(
                terms * min(corners), terms * max(corners), fa.frac_bits + fb.frac_bits
            ).with_modes(self.precision.rounding, self.precision.overflow)
        return fxp.MatMulOp([a, b], self.result_type(op, result), op.node_name)

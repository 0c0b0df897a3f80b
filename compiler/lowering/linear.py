"""nn → fxp lowering, products: dense layers and MatMul of two activations."""

from __future__ import annotations

import math

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
            result = product_format(
                fa, fb, nn.shape_of(op.lhs)[-1], self.precision, self.derived(op) == "auto"
            )
        return fxp.MatMulOp([a, b], self.result_type(op, result), op.node_name)

    @lowers(nn.MulOp)
    def mul(self, op: nn.MulOp, layer: LayerConfig, result: FixedFormat):
        """The element-wise product of two activations (GELU's ``x * Φ(x)``, hard swish): each
        pair a 1 × 1 matmul, so the products are the matmul unit's multipliers."""
        a, b = self.activations(op, "multiplying")
        shape = nn.shape_of(op.output)
        pairs = (math.prod(shape), 1, 1)
        columns = [fxp.ReshapeOp(v, fxp.fixed_tensor(pairs, fxp.tensor_format(v)), op.node_name)
                   for v in (a, b)]  # fmt: skip
        for column in columns:
            self.insert(column)
        if self.derived(op):
            formats = [fxp.tensor_format(v) for v in (a, b)]
            result = product_format(*formats, 1, self.precision, self.derived(op) == "auto")
        product = fxp.MatMulOp(
            [c.output for c in columns], fxp.fixed_tensor(pairs, result), op.node_name
        )
        self.insert(product)
        return fxp.ReshapeOp(product.output, self.result_type(op, result), op.node_name)


def product_format(
    fa: FixedFormat, fb: FixedFormat, terms: int, precision: FixedFormat, auto: bool
) -> FixedFormat:
    """The format of a sum of ``terms`` products of an ``fa`` and an ``fb`` value: exact, or
    (``auto``) with at most the precision's fractional bits; the precision's modes."""
    corners = [x * y for x in (fa.min_raw, fa.max_raw) for y in (fb.min_raw, fb.max_raw)]
    low, high, frac = terms * min(corners), terms * max(corners), fa.frac_bits + fb.frac_bits
    drop = max(0, frac - precision.frac_bits) if auto else 0
    return range_format(low >> drop, high >> drop, frac - drop).with_modes(
        precision.rounding, precision.overflow
    )

"""nn → fxp lowering, products: dense layers (constants quantized, exact accumulators) and
MatMul of two activations."""

from __future__ import annotations

from rtlflow.config import LayerConfig
from rtlflow.dialects import fxp, nn
from rtlflow.dialects.arrays import dense_from_numpy
from rtlflow.errors import RtlflowError
from rtlflow.lowering.common import kind, lowers, quantize_constant, unsupported_reason
from rtlflow.lowering.precision import sticky_bias_bits, sticky_values
from rtlflow.numerics.fixed_point import FixedFormat, dot_product_format, range_format


class Linear:
    """Dense layers and MatMul (conv shares ``weighted``)."""

    def weighted(self, op: nn.DenseOp | nn.ConvOp, layer: LayerConfig) -> dict:
        """The quantized weights and biases of a dense or conv layer and its exact
        accumulator (or the configured one), as fxp properties."""
        if op not in self.constants:
            self.constants[op] = self._weighted(op, layer)
        return self.constants[op]

    def _weighted(self, op: nn.DenseOp | nn.ConvOp, layer: LayerConfig) -> dict:
        carried = self.carried.get(op.operands[0])
        if carried is not None:
            return self._weighted_carried(op, carried)
        weight_format = self.constant_format(op.weights, layer.weight)
        bias_values = op.biases
        sticky = None
        if self.exact and layer.bias is None:
            sticky = sticky_bias_bits(
                op, fxp.tensor_format(self.input(op)).frac_bits + weight_format.frac_bits
            )
        if sticky is not None:
            bias_values = sticky_values(bias_values, sticky)
        bias_format = self.constant_format(bias_values, layer.bias)
        weights = quantize_constant(op.weights, weight_format, op, "weight")
        biases = quantize_constant(bias_values, bias_format, op, "bias")
        accumulator = layer.accumulator or dot_product_format(
            weights.reshape(weights.shape[0], -1),
            weight_format,
            biases,
            bias_format,
            fxp.tensor_format(self.input(op)),
        )
        return {
            "weight": dense_from_numpy(weights),
            "weight_type": fxp.FixedType.from_format(weight_format),
            "bias": dense_from_numpy(biases),
            "bias_type": fxp.FixedType.from_format(bias_format),
            "accumulator": fxp.FixedType.from_format(accumulator),
        }

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
        if not all(v in self.values for v in op.operands):
            raise RtlflowError(unsupported_reason(op), node=op.node_name, op=kind(op))
        a, b = self.values[op.lhs], self.values[op.rhs]
        if layer.result is None and (self.exact or self.config.infer_precision):
            fa, fb = fxp.tensor_format(a), fxp.tensor_format(b)
            corners = [x * y for x in (fa.min_raw, fa.max_raw) for y in (fb.min_raw, fb.max_raw)]
            terms = nn.shape_of(op.lhs)[-1]
            result = range_format(
                terms * min(corners), terms * max(corners), fa.frac_bits + fb.frac_bits
            ).with_modes(self.config.precision.rounding, self.config.precision.overflow)
        return fxp.MatMulOp([a, b], self.result_type(op, result), op.node_name)

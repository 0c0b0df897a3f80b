"""nn → fxp lowering, table construction: sigmoid, tanh, erf and exp as one table, ELU / SELU
and softplus as a table for their bounded part plus exact arithmetic, softmax as two tables,
layer normalisation's 1/sqrt table; sizes and ranges from the configuration."""

from __future__ import annotations

import math

import numpy as np
from xdsl.dialects.builtin import StringAttr
from xdsl.ir import SSAValue

from rtlflow.config import LayerConfig
from rtlflow.dialects import fxp, nn
from rtlflow.dialects.arrays import dense_from_numpy
from rtlflow.errors import RtlflowError
from rtlflow.lowering.common import FamilyPattern, kind, log2_exact, lowers, quantize_constant
from rtlflow.lowering.elementwise import negation, rectified, unsigned_range
from rtlflow.lowering.precision import default_constant_format
from rtlflow.numerics.fixed_point import FixedFormat, range_format

#: Default lookup-table settings (hls4ml uses 1024-entry tables as well).
DEFAULT_TABLE_SIZE = 1024

DEFAULT_TABLE_RANGES = {
    "sigmoid": (-8.0, 8.0),
    "tanh": (-4.0, 4.0),
    "erf": (-4.0, 4.0),
    "exp": (-8.0, 8.0),
    # the negative sides of ELU / SELU and softplus (their positive sides are exact)
    "expm1": (-8.0, 0.0),
    "log1p_exp": (-8.0, 0.0),
}

DEFAULT_EXP_RANGE = 16.0

DEFAULT_SOFTMAX_TYPE = FixedFormat(18, 1, signed=False)

#: layer normalisation: the width of its 1/sqrt table's entries
DEFAULT_LAYER_NORM_TABLE_BITS = 18


class Tables(FamilyPattern):
    """Ops built on lookup tables."""

    @lowers(nn.SigmoidOp, nn.TanhOp, nn.ErfOp, nn.ExpOp)
    def table(self, op, layer: LayerConfig, result: FixedFormat) -> fxp.TableOp:
        function = op.name.removeprefix("nn.")
        return self.table_of(op, self.input(op), function, layer, result)

    def table_of(
        self, op: nn.NnOp, x: SSAValue, function: str, layer: LayerConfig, fmt: FixedFormat
    ) -> fxp.TableOp:
        """``function`` of ``x`` by a table of the layer's size and range (default: the
        function's), entries in ``fmt``."""
        low, high = layer.table_range or DEFAULT_TABLE_RANGES[function]
        size = layer.table_size or DEFAULT_TABLE_SIZE
        index_bits = log2_exact(size, op, "table_size")
        step_log2 = log2_exact((high - low) / size, op, "table_range / table_size")
        input_lsb = fxp.tensor_format(x).lsb
        if high == 0.0 and layer.table_range is None:
            # a negative side ending at 0: the last entry is read at 0 (its middle), so that
            # where the other side takes over the table adds nothing
            low += max(2.0 ** (step_log2 - 1), input_lsb)
        if (low / input_lsb) != math.floor(low / input_lsb):
            raise RtlflowError(
                f"table_range starts at {low}, not a multiple of the input LSB {input_lsb}",
                node=op.node_name,
                op=kind(op),
            )
        return fxp.TableOp(
            x,
            fxp.fixed_tensor(fxp.tensor_shape(x), fmt),
            op.node_name,
            function=StringAttr(function),
            start=fxp.float_prop(low),
            index_bits=fxp.int_prop(index_bits),
            step_log2=fxp.int_prop(step_log2),
        )

    @lowers(nn.EluOp)
    def elu(self, op: nn.EluOp, layer: LayerConfig, result: FixedFormat):
        """``gamma relu(x) + gamma alpha expm1(min(x, 0))``: the positive side exact, the
        negative side a table over [-8, 0) (below it, -1 to the table's precision)."""
        x = self.input(op)
        gamma, alpha = op.gamma.value.data, op.alpha.value.data
        fx = fxp.tensor_format(x)
        negative = fxp.ClipOp(
            x, fxp.fixed_tensor(fxp.tensor_shape(x), fx), op.node_name,
            low=fxp.int_prop(fx.min_raw), high=fxp.int_prop(0),
        )  # fmt: skip
        self.insert(negative)
        curve = self.insert_op(self.table_of(op, negative.output, "expm1", layer, result))
        curve = self.insert_op(self.scaled(op, curve.output, alpha * gamma))
        rising = self.insert_op(rectified(x, op.node_name))
        if gamma != 1.0:
            rising = self.insert_op(self.scaled(op, rising.output, gamma))
        return fxp.AddOp([rising.output, curve.output], self.result_type(op, result), op.node_name)

    @lowers(nn.SoftplusOp)
    def softplus(self, op: nn.SoftplusOp, layer: LayerConfig, result: FixedFormat):
        """``relu(x) + log(1 + exp(-|x|))``: the growth exact, the rest a table over [-8, 0)."""
        x = self.input(op)
        fx, shape = fxp.tensor_format(x), fxp.tensor_shape(x)
        magnitude = self.insert_op(
            fxp.AbsOp(x, fxp.fixed_tensor(shape, unsigned_range(max(-fx.min_raw, fx.max_raw),
                                                                fx.frac_bits)), op.node_name)
        )  # fmt: skip
        negative = self.insert_op(negation(magnitude.output, op.node_name))
        curve = self.insert_op(self.table_of(op, negative.output, "log1p_exp", layer, result))
        rising = self.insert_op(rectified(x, op.node_name))
        return fxp.AddOp([rising.output, curve.output], self.result_type(op, result), op.node_name)

    def insert_op(self, op):
        self.insert(op)
        return op

    def scaled(self, op: nn.NnOp, x: SSAValue, factor: float) -> fxp.ScaleShiftOp:
        """``factor * x``, the factor in the default constant format, the product exact."""
        fx, shape = fxp.tensor_format(x), fxp.tensor_shape(x)
        scale_format = default_constant_format(self.precision)
        raw = int(quantize_constant(np.array(factor), scale_format, op, "scale"))
        frac = fx.frac_bits + scale_format.frac_bits
        ends = [raw * v for v in (fx.min_raw, fx.max_raw)]
        zero = FixedFormat(2, 2)
        return fxp.ScaleShiftOp(
            x,
            fxp.fixed_tensor(shape, range_format(min(ends), max(ends), frac)),
            op.node_name,
            scale=dense_from_numpy(np.full(shape, raw, dtype=np.int64)),
            scale_type=fxp.FixedType.from_format(scale_format),
            offset=dense_from_numpy(np.zeros(shape, dtype=np.int64)),
            offset_type=fxp.FixedType.from_format(zero),
        )


    @lowers(nn.SoftmaxOp)
    def softmax(self, op: nn.SoftmaxOp, layer: LayerConfig, result: FixedFormat) -> fxp.SoftmaxOp:
        shape = nn.shape_of(op.output)
        if op.axis.value.data % len(shape) != len(shape) - 1:
            raise RtlflowError(
                "softmax over an axis other than the last is not supported yet",
                node=op.node_name,
                op="softmax",
            )
        n = shape[-1]
        exp_size = layer.exp_table_size or DEFAULT_TABLE_SIZE
        inv_size = layer.inv_table_size or DEFAULT_TABLE_SIZE
        exp_type = layer.exp_type or DEFAULT_SOFTMAX_TYPE
        inv_type = layer.inv_type or DEFAULT_SOFTMAX_TYPE
        if exp_type.signed or inv_type.signed:
            raise RtlflowError(
                "exp_type and inv_type must be unsigned (ufixed)", node=op.node_name, op="softmax"
            )
        exp_bits = log2_exact(exp_size, op, "exp_table_size")
        inv_bits = log2_exact(inv_size, op, "inv_table_size")
        exp_step = log2_exact((layer.exp_range or DEFAULT_EXP_RANGE) / exp_size, op, "exp_range")
        # the sum of n exponentials lies in (0, n]: cover [0, 2**ceil(log2 n))
        inv_step = max(1, math.ceil(math.log2(n))) - inv_bits
        return fxp.SoftmaxOp(
            self.input(op),
            self.result_type(op, result),
            op.node_name,
            exp_index_bits=fxp.int_prop(exp_bits),
            exp_step_log2=fxp.int_prop(exp_step),
            exp_type=fxp.FixedType.from_format(exp_type),
            inv_start=fxp.float_prop(0.0),
            inv_index_bits=fxp.int_prop(inv_bits),
            inv_step_log2=fxp.int_prop(inv_step),
            inv_type=fxp.FixedType.from_format(inv_type),
        )

    @lowers(nn.LayerNormOp)
    def layer_norm(self, op: nn.LayerNormOp, layer: LayerConfig, result: FixedFormat):
        """The 1/sqrt table: ``table_size`` entries (default 1024) of ``inv_type`` (default
        18 bits with the integer bits of the largest entry)."""
        size = layer.table_size or DEFAULT_TABLE_SIZE
        index_bits = log2_exact(size, op, "table_size")
        x = self.input(op)
        fx = fxp.tensor_format(x)
        largest = math.sqrt(op.count) * 2.0**fx.frac_bits / 0.5**0.5  # the entry at m = 1/2
        table_type = layer.inv_type or FixedFormat(
            DEFAULT_LAYER_NORM_TABLE_BITS, max(1, math.floor(math.log2(largest)) + 1), signed=False
        )
        scale_format = self.constant_format(op.scales, layer.weight)
        bias_format = self.constant_format(op.biases, layer.bias)
        return fxp.LayerNormOp(
            x,
            self.result_type(op, result),
            op.node_name,
            axis=op.axis,
            epsilon=op.epsilon,
            scale=dense_from_numpy(quantize_constant(op.scales, scale_format, op, "scale")),
            scale_type=fxp.FixedType.from_format(scale_format),
            bias=dense_from_numpy(quantize_constant(op.biases, bias_format, op, "bias")),
            bias_type=fxp.FixedType.from_format(bias_format),
            index_bits=fxp.int_prop(index_bits),
            table_type=fxp.FixedType.from_format(table_type),
        )

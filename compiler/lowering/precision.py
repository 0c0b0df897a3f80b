"""nn → fxp lowering: precision assignment (configured, exact, inferred), the quantized
constants of dense and conv layers, and the sticky bias of layers whose results only reach
quantizers."""

from __future__ import annotations

import numpy as np

from rtlflow.config import LayerConfig
from rtlflow.dialects import fxp, nn
from rtlflow.dialects.arrays import dense_from_numpy, numpy_from_dense
from rtlflow.dialects.traits import KeepsGrid, holds
from rtlflow.lowering.common import quant_format, quantize_constant
from rtlflow.numerics.fixed_point import (
    FixedFormat,
    dot_product_format,
    dot_product_range,
    range_format,
)
from rtlflow.numerics.quantization import exact_format


class Precision:
    """The result format of each op: configured, exact (quantization-aware models) or inferred
    from exact ranges (``precision: auto``); constants' formats."""

    def exact_result(self, op: nn.NnOp) -> FixedFormat | None:
        """In a quantization-aware model, the format that loses nothing: a dense or conv layer's
        exact accumulator, the input's format for ReLU, max pooling and reshapes (the model's
        quantizers do all the rounding). None where there is no such rule."""
        match op:
            case nn.DenseOp() | nn.ConvOp():
                return self.weighted(op, self.layer(op))["accumulator"].format
            case _ if holds(op, KeepsGrid):  # passes values on or picks among them
                return fxp.tensor_format(self.input(op))
        return None

    def inferred_result(self, op: nn.NnOp) -> FixedFormat | None:
        """``precision: auto``: the default precision's fractional bits, and the integer bits
        of the exact range of the result (interval arithmetic over the actual weights and the
        input's range), so that the result can never overflow. None: the default precision."""
        frac = self.precision.frac_bits
        modes = (self.precision.rounding, self.precision.overflow)
        match op:
            case nn.DenseOp() | nn.ConvOp():
                props = self.weighted(op, self.layer(op))
                weights = numpy_from_dense(props["weight"])
                acc_frac, low, high = dot_product_range(
                    weights.reshape(weights.shape[0], -1),
                    props["weight_type"].format,
                    numpy_from_dense(props["bias"]),
                    props["bias_type"].format,
                    fxp.tensor_format(self.input(op)),
                )
                drop = max(0, acc_frac - frac)  # truncation keeps the range within floor bounds
                fmt = range_format(low >> drop, high >> drop, acc_frac - drop)
            case nn.ReluOp():
                fx = fxp.tensor_format(self.input(op))
                fmt = range_format(0, max(fx.max_raw, 0), fx.frac_bits)
                fmt = FixedFormat(fmt.width, fmt.int_bits, signed=False)
            case nn.ReshapeOp() | nn.TransposeOp() | nn.PadOp():
                return fxp.tensor_format(self.input(op))
            case nn.PoolOp() if op.kind.data == "max":
                return fxp.tensor_format(self.input(op))
            case _:
                return None
        return fmt.with_modes(*modes)  # type: ignore[arg-type]

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

    def constant_format(self, values: np.ndarray, configured: FixedFormat | None) -> FixedFormat:
        """A constant's format: configured, exact in a quantization-aware model, else the
        default precision."""
        if configured is not None:
            return configured
        if self.exact:
            exact = exact_format(values)
            if exact is not None:
                return exact
        return self.precision


def sticky_bias_bits(op: nn.DenseOp | nn.ConvOp, product_frac: int) -> int | None:
    """Fractional bits enough for the bias of a layer whose every result reaches quantizers
    (through ReLU, max pooling and moves): with G the finer of the products' LSB and half the
    quantizers' LSB, a float bias may be replaced by its value on the grid G plus half a step
    when it lies between grid points ("sticky" bit). Every sum then stays strictly between the
    same two multiples of G, and every later decision (ReLU, maxima, rounding ties, saturation
    bounds) sits on a multiple of G: the model's outputs do not change. None when the results
    go anywhere else."""
    pending, seen, finest = [op.output], set(), product_frac
    while pending:
        value = pending.pop()
        for use in value.uses:
            user = use.operation
            if user in seen:
                continue
            seen.add(user)
            if isinstance(user, nn.QuantOp):
                fmt = quant_format(user)
                if fmt is None:  # thresholds: decisions off the grid
                    return None
                finest = max(finest, fmt.frac_bits + 1)
            elif holds(user, KeepsGrid):
                pending.append(user.output)
            else:
                return None
    return finest + 1


def sticky_values(values: np.ndarray, frac: int) -> np.ndarray:
    """Each value on the grid 2^-(frac - 1), plus half a step when it lay between grid points."""
    step = 2.0 ** -(frac - 1)
    floor = np.floor(np.asarray(values, dtype=np.float64) / step) * step
    return floor + np.where(floor != values, step / 2, 0.0)

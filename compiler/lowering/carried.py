"""nn → fxp lowering of quantization-aware models whose scales are not powers of two: a
quantizer's levels (or a weighted sum of them) carry their scale and offset to the next
quantizer, whose thresholds absorb them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.ir import Operation, SSAValue

from rtlflow.dialects import fxp, nn
from rtlflow.dialects.arrays import dense_from_numpy, int_tuple
from rtlflow.errors import RtlflowError
from rtlflow.lowering.common import quantize_constant
from rtlflow.numerics.broadcast import per_channel
from rtlflow.numerics.fixed_point import FixedFormat, dot_product_format, range_format
from rtlflow.numerics.quantization import exact_format


@dataclass(frozen=True)
class Carried:
    """A value held as ``relu?(scale * v + offset)`` of its fxp value ``v`` (element-wise, arrays of
    the tensor's shape, exact float64 dyadics, scale > 0): a quantizer's levels with a scale
    that is not a power of two, or a dense / conv sum over such levels before its scale and
    bias. The next quantizer's thresholds absorb it; anything else gets it applied first."""

    scale: np.ndarray
    offset: np.ndarray
    relu: bool
    node: str

    @property
    def linear(self) -> bool:
        """No offset and no ReLU: moves, max pooling and weighted sums may take it along."""
        return not self.relu and not np.any(self.offset)

    def moved(self, move) -> Carried:
        return Carried(move(self.scale), move(self.offset), self.relu, self.node)


class CarriedScales:
    """Values carried with a scale, offset and ReLU not yet applied (``Carried``): when an op
    takes them as they are, how they move through it, and their application as an exact
    ``fxp.scale_shift``."""

    def takes_carried(self, op: Operation, carried: Carried) -> bool:
        """Whether ``op`` can take a carried value as it is (else the scale is applied first)."""
        shape = nn.shape_of(op.operands[0])
        match op:
            case nn.QuantOp() | nn.ReluOp() | nn.ReshapeOp() | nn.TransposeOp():
                return True
            case nn.PoolOp() if op.kind.data == "max":
                return all(
                    per_channel(a, shape) is not None for a in (carried.scale, carried.offset)
                )
            case nn.PadOp():
                return carried.linear
            case nn.DenseOp() | nn.ConvOp():
                layer = self.layer(op)
                configured = (layer.weight, layer.bias, layer.result, layer.accumulator)
                if not carried.linear or any(fmt is not None for fmt in configured):
                    return False
                if isinstance(op, nn.DenseOp):
                    rows = carried.scale.reshape(-1, shape[-1])
                    return bool(np.all(rows == rows[:1]))
                return op.group.value.data == 1 and per_channel(carried.scale, shape) is not None
        return False

    def apply_carried(self, value: SSAValue) -> None:
        """Apply a carried scale, offset and ReLU: an exact ``fxp.scale_shift`` (and ``fxp.relu``)
        before the op being rewritten; every reader of ``value`` reads the result."""
        carried = self.carried.pop(value, None)
        if carried is None:
            return
        x = self.value(value)
        fx, shape = fxp.tensor_format(x), nn.shape_of(value)
        scales = np.broadcast_to(carried.scale, shape).astype(np.float64)
        offsets = np.broadcast_to(carried.offset, shape).astype(np.float64)
        scale_format, offset_format = exact_format(scales), exact_format(offsets)
        if scale_format is None or offset_format is None:
            raise RtlflowError(
                "a scale or bias is too small to be exact in 64 fractional bits",
                node=carried.node,
                op="quant",
            )
        scale_raw, offset_raw = scale_format.quantize(scales)[0], offset_format.quantize(offsets)[0]
        frac = max(fx.frac_bits + scale_format.frac_bits, offset_format.frac_bits)
        aligned_scale = scale_raw << (frac - fx.frac_bits - scale_format.frac_bits)
        aligned_offset = offset_raw << (frac - offset_format.frac_bits)
        ends = [level * aligned_scale + aligned_offset for level in (fx.min_raw, fx.max_raw)]
        low, high = int(min(e.min() for e in ends)), int(max(e.max() for e in ends))
        result = range_format(max(low, 0) if carried.relu else low, high, frac)
        op = fxp.ScaleShiftOp(
            x,
            fxp.fixed_tensor(shape, range_format(low, high, frac)),
            carried.node,
            scale=dense_from_numpy(scale_raw.astype(np.int64)),
            scale_type=fxp.FixedType.from_format(scale_format),
            offset=dense_from_numpy(offset_raw.astype(np.int64)),
            offset_type=fxp.FixedType.from_format(offset_format),
        )
        self.insert(op)
        out = op.output
        if carried.relu:
            relu = fxp.ReluOp(out, fxp.fixed_tensor(shape, result), carried.node)
            self.insert(relu)
            out = relu.output
        self.rebind(value, out)

    def carried_result(self, op: Operation, carried: Carried | None) -> Carried | None:
        """The carried form of ``op``'s result: from its input through a move, max pooling or
        a linear ReLU, or as a dense / conv sum's or quantizer's own (``self.outgoing``)."""
        moved = self.outgoing.pop(op, None)
        return moved if moved is not None else self.moved_carried(op, carried)

    def moved_carried(self, op: Operation, carried: Carried | None) -> Carried | None:
        if carried is None or op.operands[0] not in self.carried:
            return None
        out_shape = nn.shape_of(op.results[0])
        match op:
            case nn.ReluOp():
                moved = carried
            case nn.ReshapeOp():
                moved = carried.moved(
                    lambda a: np.broadcast_to(a, nn.shape_of(op.input)).reshape(out_shape)
                )
            case nn.TransposeOp():
                perm = tuple(int_tuple(op.perm))
                moved = carried.moved(
                    lambda a: np.transpose(np.broadcast_to(a, nn.shape_of(op.input)), perm)
                )
            case nn.PadOp():
                pads = int_tuple(op.pads)
                rank = len(out_shape)
                widths = list(zip(pads[:rank], pads[rank:], strict=True))
                full = np.broadcast_to(carried.scale, nn.shape_of(op.input))
                moved = Carried(
                    np.pad(full, widths, mode="edge"), np.zeros(out_shape), False, carried.node
                )
            case nn.PoolOp():
                in_shape = nn.shape_of(op.input)
                per = [per_channel(a, in_shape) for a in (carried.scale, carried.offset)]
                channel = (1, in_shape[1]) + (1,) * (len(in_shape) - 2)
                scale, offset = (np.broadcast_to(a.reshape(channel), out_shape) for a in per)
                moved = Carried(scale, offset, carried.relu, carried.node)
            case _:
                return None
        return moved

    def _weighted_carried(self, op: nn.DenseOp | nn.ConvOp, carried: Carried) -> dict:
        """A weighted sum over levels that carry a scale (per input feature or channel): the
        weights times that scale, divided by their largest common dyadic factor per output
        (integers, as narrow as the weights allow), no bias; the factor and the bias go on
        carried by the sum (``self.outgoing``), to the next quantizer's thresholds."""
        in_shape = nn.shape_of(op.operands[0])
        if isinstance(op, nn.DenseOp):
            scale = (
                carried.scale.reshape(-1, in_shape[-1])[0] if carried.scale.ndim else carried.scale
            )
            weights = op.weights.astype(np.float64) * scale
        else:
            scale = per_channel(carried.scale, in_shape)
            weights = op.weights.astype(np.float64) * scale.reshape(
                1, -1, *([1] * (op.weights.ndim - 2))
            )
        factors = np.array([dyadic_gcd(row) for row in weights.reshape(weights.shape[0], -1)])
        integers = weights / factors.reshape(-1, *([1] * (weights.ndim - 1)))
        weight_format = exact_format(integers)
        assert weight_format is not None and weight_format.frac_bits == 0
        zeros = np.zeros(weights.shape[0])
        bias_format = FixedFormat(2, 2)
        raw = quantize_constant(integers, weight_format, op, "weight")
        accumulator = dot_product_format(
            raw.reshape(raw.shape[0], -1),
            weight_format,
            zeros.astype(np.int64),
            bias_format,
            fxp.tensor_format(self.input(op)),
        )
        out_shape = nn.shape_of(op.output)
        channel = (
            (1,) * (len(out_shape) - 1) + (-1,)
            if isinstance(op, nn.DenseOp)
            else ((1, -1) + (1,) * (len(out_shape) - 2))
        )
        self.outgoing[op] = Carried(
            np.broadcast_to(factors.reshape(channel), out_shape),
            np.broadcast_to(op.biases.astype(np.float64).reshape(channel), out_shape),
            False,
            op.node_name,
        )
        return {
            "weight": dense_from_numpy(raw.astype(np.int64)),
            "weight_type": fxp.FixedType.from_format(weight_format),
            "bias": dense_from_numpy(zeros.astype(np.int64)),
            "bias_type": fxp.FixedType.from_format(bias_format),
            "accumulator": fxp.FixedType.from_format(accumulator),
        }


def dyadic_gcd(values: np.ndarray) -> float:
    """The largest ``m * 2^e`` (m odd) dividing every value (float64 dyadics) to an integer;
    1 when all are zero."""
    ratios = [float(v).as_integer_ratio() for v in np.asarray(values).reshape(-1) if v != 0]
    if not ratios:
        return 1.0
    denominator = max(d for _, d in ratios)  # powers of two
    numerators = [n * (denominator // d) for n, d in ratios]
    return math.gcd(*numerators) / denominator

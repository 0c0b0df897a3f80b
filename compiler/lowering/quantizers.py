"""nn → fxp lowering, quantizers (``nn.quant``): a cast into the quantizer's format where its
decisions lie on the input's grid, else thresholds (``fxp.threshold``)."""

from __future__ import annotations

import numpy as np
from xdsl.ir import Operation, SSAValue

from rtlflow.config import LayerConfig
from rtlflow.dialects import fxp, nn
from rtlflow.dialects.arrays import dense_from_numpy
from rtlflow.errors import RtlflowError
from rtlflow.lowering.carried import Carried
from rtlflow.lowering.common import (
    OFFSET_ROUNDING,
    FamilyPattern,
    lowers,
    quant_format,
    represents,
)
from rtlflow.lowering.elementwise import negation, rectified
from rtlflow.numerics.fixed_point import FixedFormat, range_format
from rtlflow.numerics.quantization import power_of_two_exponent, quant_step, step_thresholds

#: a quantizer built as thresholds compares with at most this many per element
MAX_THRESHOLD_LEVELS = 4095


class Quantizers(FamilyPattern):
    """Quantizers: a cast where the decisions are on the input's grid, thresholds elsewhere."""

    @lowers(nn.QuantOp)
    def quant(self, op: nn.QuantOp, layer: LayerConfig, result: FixedFormat):
        fmt = quant_format(op)
        if fmt is None and op.input not in self.carried:
            offset_format = quant_format(op, any_rounding=True)
            if offset_format is not None:
                return self.offset_rounding(op, offset_format)
        if fmt is None or op.input in self.carried:
            return self.threshold(op)
        if represents(fmt, fxp.tensor_format(self.input(op))):
            return None  # every input value is already a value of the quantizer
        return fxp.CastOp(self.input(op), self.result_type(op, fmt), op.node_name)

    def offset_rounding(self, op: nn.QuantOp, fmt: FixedFormat) -> Operation:
        """A quantizer rounding up, toward or away from zero (``OFFSET_ROUNDING``) to a
        power-of-two scale: ``floor(v + offset)`` by an exact add and a truncating cast, on the
        magnitudes ``relu(x)`` and ``relu(-x)`` (their difference) for the modes symmetric about
        zero; then the saturating cast into ``fmt``. A few adders where thresholds would need a
        comparator per level."""
        x = self.input(op)
        drop = fxp.tensor_format(x).frac_bits - fmt.frac_bits
        if drop <= 0:  # nothing to round: a cast
            return fxp.CastOp(x, self.result_type(op, fmt), op.node_name)
        offset, symmetric = OFFSET_ROUNDING[op.rounding.data]
        if not symmetric:
            rounded = self.floor_after(op, x, offset(drop), drop)
        else:
            up = self.floor_after(op, self.emit(rectified(x, op.node_name)), offset(drop), drop)
            negated = self.emit(negation(x, op.node_name))
            down = self.emit(negation(
                self.floor_after(op, self.emit(rectified(negated, op.node_name)), offset(drop), drop),
                op.node_name,
            ))  # fmt: skip
            low, high = (
                fxp.tensor_format(down).min_raw + fxp.tensor_format(up).min_raw,
                fxp.tensor_format(down).max_raw + fxp.tensor_format(up).max_raw,
            )
            shape = fxp.tensor_shape(x)
            rounded = self.emit(fxp.AddOp(
                [up, down], fxp.fixed_tensor(shape, range_format(low, high, fmt.frac_bits)),
                op.node_name,
            ))  # fmt: skip
        return fxp.CastOp(rounded, self.result_type(op, fmt), op.node_name)

    def floor_after(self, op: nn.QuantOp, x: SSAValue, offset: int, drop: int) -> SSAValue:
        """``floor((x + offset LSBs) / 2^drop)``, exact."""
        fx, shape = fxp.tensor_format(x), fxp.tensor_shape(x)
        low, high = fx.min_raw + offset, fx.max_raw + offset
        if offset:
            unit, constant = FixedFormat(2, 2), range_format(offset, offset, fx.frac_bits)
            x = self.emit(fxp.ScaleShiftOp(
                x, fxp.fixed_tensor(shape, range_format(low, high, fx.frac_bits)), op.node_name,
                scale=dense_from_numpy(np.ones(shape, dtype=np.int64)),
                scale_type=fxp.FixedType.from_format(unit),
                offset=dense_from_numpy(np.full(shape, offset, dtype=np.int64)),
                offset_type=fxp.FixedType.from_format(constant),
            ))  # fmt: skip
        floor = range_format(low >> drop, high >> drop, fx.frac_bits - drop)
        return self.emit(fxp.CastOp(x, fxp.fixed_tensor(shape, floor), op.node_name))

    def threshold(self, op: nn.QuantOp) -> Operation:
        """A quantizer whose decisions are not on its input's grid, or whose input carries a
        scale: ``fxp.threshold`` counts the levels ``q - zero_point`` (exact thresholds on the
        raw input, one list per distinct scale, zero point and carried affine). Unless the scale
        is one power of two (the levels' LSB), the levels carry the scale on to what reads them
        (``Carried``)."""
        x = self.input(op)
        fx = fxp.tensor_format(x)
        if fx.width > 62:
            raise RtlflowError(
                f"the quantizer's input is {fx}, {fx.width} bits: scales that are not powers of "
                "two before it make exact formats this wide; give the layer before it a "
                "narrower result format in the configuration (such as fixed<32,10,RND,SAT>)",
                node=op.node_name,
                op="quant",
            )
        shape = nn.shape_of(op.output)
        flat = [
            np.broadcast_to(a, shape).reshape(-1).astype(np.float64)
            for a in (op.scales, op.zero_points)
        ]
        scales, zero_points = flat
        carried = self.carried.get(op.input)
        if carried is None:
            carried = Carried(np.ones(()), np.zeros(()), False, op.node_name)
        affine = [
            np.broadcast_to(a, shape).reshape(-1).astype(np.float64)
            for a in (carried.scale, carried.offset)
        ]
        integral = bool(np.all(zero_points == np.round(zero_points)))
        low, high = op.bounds
        keys = list(
            zip(scales.tolist(), zero_points.tolist(), affine[0].tolist(), affine[1].tolist())
        )
        steps: dict[tuple, tuple[int, list[int]]] = {}
        for key in set(keys):
            scale, zero_point, a, b = key
            step = quant_step(
                fx.frac_bits,
                scale,
                zero_point,
                low,
                high,
                op.rounding.data,
                op.shift_bits,
                (a, b, carried.relu),
            )
            first, last = step([fx.min_raw, fx.max_raw])
            if last - first > MAX_THRESHOLD_LEVELS:
                raise RtlflowError(
                    f"the quantizer takes {last - first + 1} levels over its input's range "
                    f"({fx}), more than {MAX_THRESHOLD_LEVELS + 1}: give its input a narrower "
                    "format in the configuration",
                    node=op.node_name,
                    op="quant",
                )
            base, levels = step_thresholds(step, fx.min_raw, fx.max_raw)
            steps[key] = (base - int(zero_point) if integral else base, levels)
        width = max(len(levels) for _, levels in steps.values())
        table = np.full((scales.size, width), fx.max_raw + 1, dtype=np.int64)
        base = np.zeros(scales.size, dtype=np.int64)
        for index, key in enumerate(keys):
            base[index], levels = steps[key]
            table[index, : len(levels)] = levels
        exponent = power_of_two_exponent(scales) if integral else None
        levels_format = range_format(int(base.min()), int(base.max()) + width, -(exponent or 0))
        if exponent is None:
            offsets = np.zeros_like(scales) if integral else -scales * zero_points
            self.outgoing[op] = Carried(
                scales.reshape(shape), offsets.reshape(shape), False, op.node_name
            )
        return fxp.ThresholdOp(
            x,
            self.result_type(op, levels_format),
            op.node_name,
            thresholds=dense_from_numpy(table),
            base=dense_from_numpy(base),
        )

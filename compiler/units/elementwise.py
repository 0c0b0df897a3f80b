"""Hardware units, element-wise units: scale and shift, activations, thresholds, additions."""

from __future__ import annotations

import math
from typing import Any

from rtlflow.dialects import circuit, fxp
from rtlflow.numerics.broadcast import per_channel
from rtlflow.rtl.activation import ActivationUnit
from rtlflow.rtl.add import AddUnit, StreamAddUnit
from rtlflow.rtl.scale_shift import ScaleShiftUnit
from rtlflow.rtl.threshold import ThresholdUnit
from rtlflow.units.core import UnitSpec, builds, cast_into, elements, shape_of


@builds(fxp.ScaleShiftOp)
def _scale_shift(op: fxp.ScaleShiftOp) -> UnitSpec:
    frac, scale, offset = op.aligned()
    if circuit.beats_of(op) > 1:  # on a pixel stream: one constant per channel serves all
        shape = fxp.tensor_shape(op.input)
        scale, offset = per_channel(scale, shape), per_channel(offset, shape)
    return UnitSpec(
        "scale_shift",
        str(scale.size),
        ScaleShiftUnit,
        {
            "scale": tuple(int(v) for v in scale.reshape(-1)),
            "offset": tuple(int(v) for v in offset.reshape(-1)),
            "input_shape": shape_of(op.input_format),
            "casts": (cast_into(op.output_format, frac),),
        },
    )


@builds(fxp.ReluOp, fxp.LeakyReluOp, fxp.ClipOp, fxp.CastOp, fxp.AbsOp)
def _activation(op: fxp.FxpOp) -> UnitSpec:
    fx = op.input_format
    count = elements(op)
    params: dict[str, Any] = {"input_shape": shape_of(fx), "count": count}
    frac = fx.frac_bits
    match op:
        case fxp.ReluOp():
            params["kind"] = "relu"
        case fxp.AbsOp():
            params["kind"] = "abs"
        case fxp.LeakyReluOp():
            alpha_frac = op.alpha_type.format.frac_bits
            params |= {
                "kind": "leaky_relu",
                "alpha": op.alpha.value.data,
                "alpha_shift": alpha_frac,
            }
            frac += alpha_frac
        case fxp.ClipOp():
            params |= {"kind": "clip", "low": op.low.value.data, "high": op.high.value.data}
        case fxp.CastOp():  # a clip that never clamps: only the cast
            params |= {"kind": "clip", "low": fx.min_raw, "high": fx.max_raw}
    params["casts"] = (cast_into(op.output_format, frac),)
    return UnitSpec(params["kind"], str(count), ActivationUnit, params)


@builds(fxp.ThresholdOp)
def _threshold(op: fxp.ThresholdOp) -> UnitSpec:
    table, base = op.threshold_table, op.bases
    count = elements(op)
    if count != len(base):  # on a pixel stream: every pixel has its channel's thresholds
        shape = fxp.tensor_shape(op.input)
        table = table.reshape(shape[1], -1, table.shape[1])[:, 0]
        base = base.reshape(shape[1], -1)[:, 0]
    return UnitSpec(
        "threshold",
        str(count),
        ThresholdUnit,
        {
            "thresholds": tuple(tuple(int(t) for t in row) for row in table),
            "base": tuple(int(b) for b in base),
            "input_shape": shape_of(op.input_format),
            "count": count,
            "casts": (cast_into(op.output_format, 0),),
        },
    )


@builds(fxp.AddOp)
def _add(op: fxp.AddOp) -> UnitSpec:
    formats, shape = op.input_formats, fxp.tensor_shape(op.output)
    frac = max(f.frac_bits for f in formats)
    params: dict[str, Any] = {
        "shapes": tuple(shape_of(f) for f in formats),
        "shifts": tuple(frac - f.frac_bits for f in formats),
        "count": shape[1] if circuit.beats_of(op) > 1 else math.prod(shape),  # per beat
        "casts": (cast_into(op.output_format, frac),),
    }
    if circuit.beats_of(op) > 1:  # two pixel streams, joined by buffers
        depths = circuit.fifo_depths(op)
        params["depths"] = depths
        summary = f"{params['count']}_f{depths[0]}_{depths[1]}"
        return UnitSpec("stream_add", summary, StreamAddUnit, params)
    return UnitSpec("add", str(params["count"]), AddUnit, params)

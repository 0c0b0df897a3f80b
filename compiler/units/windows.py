"""Hardware units, convolution and pooling, parallel or on a pixel stream."""

from __future__ import annotations

from typing import Any

from rtlflow.dialects import fxp
from rtlflow.rtl.conv import ConvUnit
from rtlflow.rtl.pool import PoolUnit
from rtlflow.rtl.stream import StreamWindowUnit
from rtlflow.units.core import UnitSpec, builds, cast_into, shape_of
from rtlflow.units.linear import dense_casts


def conv_spec(op: fxp.ConvOp) -> UnitSpec:
    frac, weights, biases = op.aligned()
    casts = dense_casts(op, frac)
    window = op.window
    c_out, per_in = weights.shape[:2]
    nested = tuple(
        tuple(tuple(int(w) for w in weights[o, i].reshape(-1)) for i in range(per_in))
        for o in range(c_out)
    )
    return UnitSpec(
        "conv",
        f"{'x'.join(map(str, fxp.tensor_shape(op.input)[1:]))}_{c_out}c",
        ConvUnit,
        {
            "weights": nested,
            "bias": tuple(int(b) for b in biases),
            "window": window,
            "channels": fxp.tensor_shape(op.input)[1],
            "group": op.group.value.data,
            "input_shape": shape_of(op.input_format),
            "casts": casts,
        },
    )


def pool_spec(op: fxp.PoolOp) -> UnitSpec:
    frac = op.input_format.frac_bits
    if op.kind.data == "average":
        frac += op.scale_type.format.frac_bits
    return UnitSpec(
        f"{op.kind.data}pool",
        "x".join(map(str, fxp.tensor_shape(op.input)[1:])),
        PoolUnit,
        {
            "kind": op.kind.data,
            "window": op.window,
            "channels": fxp.tensor_shape(op.input)[1],
            "scales": tuple(int(v) for v in op.scales),
            "input_shape": shape_of(op.input_format),
            "casts": (cast_into(op.output_format, frac),),
        },
    )


def _stream_window(op: fxp.WindowOp) -> UnitSpec:
    """A window op on a pixel stream: line buffer, then one output pixel per window (a padded
    one over its padded stream)."""
    window, channels = op.window.streamed(), fxp.tensor_shape(op.input)[1]
    params: dict[str, Any] = {
        "window": window,
        "channels": channels,
        "input_shape": shape_of(op.input_format),
    }
    if isinstance(op, fxp.ConvOp):
        conv = conv_spec(op).params
        params |= {
            "kind": "conv",
            "weights": conv["weights"],
            "bias": conv["bias"],
            "group": conv["group"],
            "casts": conv["casts"],
        }
    else:
        pool = pool_spec(op).params
        params |= {"kind": pool["kind"], "casts": pool["casts"], "scale": pool["scales"][0]}
    summary = f"{'x'.join(map(str, fxp.tensor_shape(op.input)[1:]))}"
    return UnitSpec(f"stream_{params['kind']}", summary, StreamWindowUnit, params)


@builds(fxp.ConvOp, fxp.PoolOp)
def _window(op: fxp.WindowOp) -> UnitSpec:
    if op.style.data == "stream":
        return _stream_window(op)
    return conv_spec(op) if isinstance(op, fxp.ConvOp) else pool_spec(op)

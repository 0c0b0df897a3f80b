"""Numpy reference semantics of the quantization operators in QONNX and standard ONNX.

Written from the operator definitions, independent of rtlflow (no rtlflow import). It serves as
the golden model for importing quantized networks:

* QONNX ``Quant`` (a.k.a. ``IntQuant``), ``BipolarQuant`` and ``Trunc`` (v1 and v2), found in the
  domains ``qonnx.custom_op.general``, ``finn.custom_op.general``, ``onnx.brevitas`` (Brevitas'
  raw export domain) and sometimes the default domain.
  Sources: fastmachinelearning/qonnx ``docs/qonnx-custom-ops/{quant_op,intquant_v1,bipolarquant_v1,
  trunc_op,trunc_v1,trunc_v2}.md`` and ``src/qonnx/custom_op/general/{quant,intquant,
  bipolar_quant,trunc}.py``.
* ONNX ``QuantizeLinear`` / ``DequantizeLinear`` (opsets 10, 13, 19, 21, 23, 25), taken from
  ``onnx.defs.get_schema(...).doc`` for onnx 1.23 and cross-checked against onnxruntime.

Arithmetic follows the specification formulas literally, in the floating type numpy's promotion
gives the inputs (float32 when x, scale and zero point are float32, which is what Brevitas, the
qonnx executor and onnxruntime do). The integer rounding step is computed *exactly* on that float
value (see :func:`round_to_int`); qonnx's own ``HALF_UP``/``HALF_DOWN`` helpers use
``floor(|y| + 0.5)``, which is off by one for the float32 just below 0.5 (0.49999997), so the two
agree except on that float artefact.

The module ends with :func:`run_model`, a tiny numpy interpreter for the ops of Brevitas-exported
models (Quant, BipolarQuant, Trunc, QuantizeLinear, Clip, DequantizeLinear, Gemm, MatMul, Conv,
MaxPool, AveragePool, Relu, Reshape, Flatten, Add, Mul, Div, Sub, Identity, Transpose, Constant).
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- rounding

#: Rounding mode names accepted by :func:`round_to_int` (upper or lower case).
#: ROUND == HALF_EVEN; DOWN == ROUND_TO_ZERO (Brevitas' name; qonnx itself rejects it).
ROUNDING_MODES = (
    "ROUND",
    "HALF_EVEN",
    "CEIL",
    "FLOOR",
    "UP",
    "DOWN",
    "ROUND_TO_ZERO",
    "HALF_UP",
    "HALF_DOWN",
)


def round_to_int(y, mode: str = "ROUND") -> np.ndarray:
    """Round every element of ``y`` to an integer value (same float dtype).

    Follows the rounding table of qonnx ``docs/qonnx-custom-ops/intquant_v1.md`` ("Rounding
    modes"), whose columns are:

    =============  ==========================================  =====  =====
    mode           rule                                        2.5    -2.5
    =============  ==========================================  =====  =====
    ROUND          nearest, ties to even (= HALF_EVEN)         2      -2
    CEIL           toward +inf                                 3      -2
    FLOOR          toward -inf                                 2      -3
    UP             away from zero                              3      -3
    DOWN           toward zero (= Brevitas ROUND_TO_ZERO)      2      -2
    HALF_UP        nearest, ties away from zero                3      -3
    HALF_DOWN      nearest, ties toward zero                   2      -2
    =============  ==========================================  =====  =====

    Older qonnx releases (and ``quant_op.md`` / ``trunc_op.md``) know only ROUND, CEIL and
    FLOOR; ``ROUND_TO_ZERO`` is accepted here as the Brevitas spelling of DOWN. Ties are decided
    exactly: the fractional part of ``|y|`` is computed as ``|y| - floor(|y|)``, which is exact
    in binary floating point.
    """
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.floating):
        y = y.astype(np.float64)
    m = str(mode).upper()
    if m in ("ROUND", "HALF_EVEN"):
        return np.rint(y)
    if m == "CEIL":
        return np.ceil(y)
    if m == "FLOOR":
        return np.floor(y)
    if m in ("DOWN", "ROUND_TO_ZERO"):
        return np.trunc(y)
    a = np.abs(y)
    fl = np.floor(a)
    frac = a - fl  # exact for a >= 0
    if m == "UP":
        mag = np.where(frac > 0, fl + 1, fl)
    elif m == "HALF_UP":
        mag = np.where(frac >= 0.5, fl + 1, fl)
    elif m == "HALF_DOWN":
        mag = np.where(frac > 0.5, fl + 1, fl)
    else:
        raise ValueError(f"unknown rounding mode {mode!r}; known: {', '.join(ROUNDING_MODES)}")
    return np.copysign(mag.astype(y.dtype), y)


# --------------------------------------------------------------------------- integer ranges


def min_int(signed, narrow, bit_width):
    """Smallest integer of the QONNX/Brevitas range (qonnx ``quant.py`` / ``intquant.py``).

    signed & narrow: ``-2**(b-1) + 1``; signed: ``-2**(b-1)``; unsigned: ``0`` (narrow does not
    change the unsigned minimum). Works elementwise on array bit widths.
    """
    b = np.asarray(bit_width, dtype=np.float64)
    if signed:
        return -(2.0 ** (b - 1)) + (1 if narrow else 0)
    return np.zeros_like(b)


def max_int(signed, narrow, bit_width):
    """Largest integer of the QONNX/Brevitas range (qonnx ``quant.py`` / ``intquant.py``).

    signed (narrow or not): ``2**(b-1) - 1``; unsigned: ``2**b - 1``; unsigned & narrow:
    ``2**b - 2`` (the implementation narrows unsigned ranges at the top, although the doc text
    only describes narrow for signed=1).
    """
    b = np.asarray(bit_width, dtype=np.float64)
    if signed:
        return 2.0 ** (b - 1) - 1
    return 2.0**b - (2 if narrow else 1)


def _float_dtype(*arrays) -> np.dtype:
    dt = np.result_type(*[np.asarray(a) for a in arrays])
    return dt if np.issubdtype(dt, np.floating) else np.dtype(np.float64)


def _check_bit_width(bw) -> np.ndarray:
    bw = np.asarray(bw)
    if np.any(bw != np.round(bw)) or np.any(bw < 1):
        raise ValueError(f"bit width must be a positive integer, got {bw}")
    return bw


# --------------------------------------------------------------------------- QONNX ops


def quant(x, scale, zero_point, bitwidth, signed=1, narrow=0, rounding_mode="ROUND"):
    """QONNX ``Quant`` / ``IntQuant`` (qonnx ``intquant_v1.md``, ``quant_op.md``; ``int_quant``
    in ``src/qonnx/custom_op/general/intquant.py``; port of Brevitas ``IntQuant``).

    Inputs: ``x`` float tensor; ``scale`` and ``zero_point`` float, scalar or broadcastable to
    ``x`` (per-channel: same rank as x, e.g. ``(C,1,1,1)`` for conv weights, ``(1,C,1,1)`` for
    NCHW activations); ``bitwidth`` a positive integer given as an int32 or float32 tensor
    (Brevitas exports a float32 scalar such as ``6.0``). Attributes ``signed`` (default 1),
    ``narrow`` (doc default 0; the qonnx class declares 1 but marks it required) and
    ``rounding_mode`` (default "ROUND" = half to even).

    Computation, in this order::

        y   = x / scale + zero_point          # float, in the promoted input dtype
        y   = clamp(y, min_int, max_int)      # clamp BEFORE rounding (equivalent for integer
        q   = round_to_int(y, rounding_mode)  #   bounds, as rounding is monotone)
        out = (q - zero_point) * scale

    Ranges (:func:`min_int`/:func:`max_int`): signed ``[-2^(b-1), 2^(b-1)-1]``, signed narrow
    ``[-2^(b-1)+1, 2^(b-1)-1]``, unsigned ``[0, 2^b-1]``, unsigned narrow ``[0, 2^b-2]``.

    1-bit signed: the spec says Quant is not for binary/bipolar values (use BipolarQuant), but the
    qonnx implementation special-cases ``bitwidth == 1 and signed`` as bipolar: ``q = +1`` where
    ``x/scale + zero_point >= 0`` else ``-1`` (no clamp, no rounding). Reproduced here
    elementwise.
    """
    x = np.asarray(x)
    dt = _float_dtype(x, scale, zero_point)
    x = x.astype(dt, copy=False)
    scale = np.asarray(scale).astype(dt, copy=False)
    zero_point = np.asarray(zero_point).astype(dt, copy=False)
    bw = _check_bit_width(bitwidth)

    y = x / scale + zero_point
    lo = np.asarray(min_int(signed, narrow, bw), dtype=dt)
    hi = np.asarray(max_int(signed, narrow, bw), dtype=dt)
    q = round_to_int(np.clip(y, lo, hi), rounding_mode)
    if signed and np.any(bw == 1):
        bipolar = np.where(y >= 0, dt.type(1), dt.type(-1))
        q = np.where(bw == 1, bipolar, q)
    return ((q - zero_point) * scale).astype(dt, copy=False)


def bipolar_quant(x, scale):
    """QONNX ``BipolarQuant`` (qonnx ``bipolarquant_v1.md``, ``bipolar_quant.py``).

    ``out = (+1 if x >= 0 else -1) * scale``. Zero (and -0.0) maps to ``+scale``; NaN to
    ``-scale``. No zero point, no bit width; Brevitas emits it for every 1-bit quantizer.
    """
    x = np.asarray(x)
    dt = _float_dtype(x, scale)
    x = x.astype(dt, copy=False)
    s = np.where(x >= 0, dt.type(1), dt.type(-1))
    return (s * np.asarray(scale).astype(dt, copy=False)).astype(dt, copy=False)


def trunc(
    x,
    scale,
    zero_point,
    input_bit_width,
    output_bit_width,
    rounding_mode="FLOOR",
    *,
    output_scale=None,
    output_zero_point=None,
    signed=1,
    narrow=0,
):
    """QONNX ``Trunc``, both versions.

    **v1** (``output_scale is None``; qonnx ``trunc_v1.md``/``trunc_op.md``, 5 inputs
    ``X, scale, zeropt, in_bitwidth, out_bitwidth``, attribute ``rounding_mode`` default
    "FLOOR"; port of the old Brevitas ``TruncIntQuant``)::

        y   = round_half_even(x / scale + zeropt)       # clean up float error
        y   = y / 2^(in_bitwidth - out_bitwidth)
        y   = round_to_int(y, rounding_mode)
        out = (y - zeropt) * scale                      # NOTE: input scale, no clamp

    The result is the input *divided* by 2^(in-out) and expressed on the input scale (this is
    how Brevitas' TruncAvgPool exported ``AveragePool -> Mul(k) -> Trunc``: sum / 2^shift).

    **v2** (``output_scale`` given; qonnx ``trunc_v2.md``, ``qonnx.custom_op.general`` opset
    version 2, 7 inputs ``X, scale, zeropt, in_bitwidth, out_scale, out_zeropt, out_bitwidth``,
    attributes ``rounding_mode`` ("FLOOR"), ``signed`` (1), ``narrow`` (0))::

        y   = round_half_even(x / scale + zeropt)
        t   = 2^round(log2(out_scale / scale))          # forced power of two
        y   = clamp(y / t, min_int(signed, narrow, out_bitwidth), max_int(...))
        y   = round_to_int(y, rounding_mode)
        out = (y - zeropt / t) * out_scale

    In v2 ``in_bitwidth`` and ``out_zeropt`` are read but not used by the computation; the
    value is preserved (re-quantized onto the ``out_scale`` grid) and saturated.
    """
    x = np.asarray(x)
    dt = _float_dtype(x, scale, zero_point)
    x = x.astype(dt, copy=False)
    scale = np.asarray(scale).astype(dt, copy=False)
    zero_point = np.asarray(zero_point).astype(dt, copy=False)
    y = np.rint(x / scale + zero_point)
    if output_scale is None:
        shift = np.asarray(input_bit_width, dtype=np.float64) - np.asarray(
            output_bit_width, dtype=np.float64
        )
        y = y / np.asarray(2.0**shift, dtype=dt)
        y = round_to_int(y, rounding_mode)
        return ((y - zero_point) * scale).astype(dt, copy=False)
    output_scale = np.asarray(output_scale).astype(dt, copy=False)
    t = np.asarray(2.0 ** np.rint(np.log2(output_scale / scale)), dtype=dt)
    bw = _check_bit_width(output_bit_width)
    lo = np.asarray(min_int(signed, narrow, bw), dtype=dt)
    hi = np.asarray(max_int(signed, narrow, bw), dtype=dt)
    y = round_to_int(np.clip(y / t, lo, hi), rounding_mode)
    return ((y - zero_point / t) * output_scale).astype(dt, copy=False)


# --------------------------------------------------------------------------- ONNX Q / DQ

#: Saturation ranges of QuantizeLinear (ONNX opset 21+ text; int2/uint2 from opset 25).
QUANT_RANGES = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int16": (-32768, 32767),
    "uint16": (0, 65535),
    "int4": (-8, 7),
    "uint4": (0, 15),
    "int2": (-2, 1),
    "uint2": (0, 3),
    "int32": (-(2**31), 2**31 - 1),  # DequantizeLinear input only
}
_CONTAINER = {
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int4": np.int8,
    "uint4": np.uint8,
    "int2": np.int8,
    "uint2": np.uint8,
    "int32": np.int32,
}


def _dtype_name(dtype) -> str:
    if isinstance(dtype, str):
        name = dtype.lower()
    else:
        name = np.dtype(dtype).name
    if name not in QUANT_RANGES:
        raise ValueError(f"unsupported quantized type {dtype!r}")
    return name


def _broadcast_param(p: np.ndarray, x_shape, axis: int, block_size: int) -> np.ndarray:
    """Reshape a scale / zero point for x: per-tensor (scalar or 1 element), per-axis (1-D of
    length ``x.shape[axis]``) or blocked (rank of x, ``ceil(D_axis / block_size)`` along axis)."""
    r = len(x_shape)
    if block_size and block_size > 0:
        ax = axis % r
        if p.ndim != r:
            raise ValueError("blocked quantization needs scale of the input's rank")
        return np.repeat(p, block_size, axis=ax).take(np.arange(x_shape[ax]), axis=ax)
    if p.ndim == 0 or p.size == 1 and p.ndim <= 1:
        return p.reshape(())
    if p.ndim == 1:
        ax = axis % r
        if p.shape[0] != x_shape[ax]:
            raise ValueError(f"per-axis scale of length {p.shape[0]} for axis {ax} of {x_shape}")
        shape = [1] * r
        shape[ax] = p.shape[0]
        return p.reshape(shape)
    raise ValueError(f"scale of shape {p.shape} needs block_size")


def quantize_linear(x, scale, zero_point=None, axis=1, dtype=None, block_size=0):
    """ONNX ``QuantizeLinear`` (opset 10/13/19/21/23/25; ``onnx.defs`` doc text).

    ``y = saturate(round_half_even(x / y_scale) + y_zero_point)``.

    * Output type: that of ``y_zero_point``; else the ``output_dtype`` attribute (opset 21+;
      ``dtype`` here, a numpy dtype or a name such as ``"int4"``); else uint8.
    * Saturation ranges: int8 [-128,127], uint8 [0,255] (opset 10+); int16, uint16, int4 [-8,7],
      uint4 [0,15] (opset 21+); int2 [-2,1], uint2 [0,3] (opset 25).
    * Granularity from the scale's shape: scalar = per-tensor (opset 10 allows only this);
      1-D of length ``x.shape[axis]`` = per-axis (opset 13+, ``axis`` default 1, negative counts
      from the back); same rank as x with ``ceil(D_axis/block_size)`` along axis = blocked
      (opset 21+, ``block_size``).
    * The division is done in the scale's float type (opset 23 adds a ``precision`` attribute);
      ``saturate`` (opset 19+) only concerns float8 outputs, which are not modelled here.

    Returns the integers in a numpy container (int4/int2 in int8, uint4/uint2 in uint8).
    """
    x = np.asarray(x)
    scale = np.asarray(scale)
    if zero_point is not None:
        zp = np.asarray(zero_point)
        name = _dtype_name(zp.dtype if dtype is None else dtype)
        if dtype is not None and zp.dtype != np.dtype(_CONTAINER[name]):
            raise ValueError("output_dtype and zero point type differ")
    else:
        name = _dtype_name(dtype if dtype is not None else "uint8")
        zp = np.zeros(scale.shape, dtype=np.int64)
    fdt = scale.dtype if np.issubdtype(scale.dtype, np.floating) else np.dtype(np.float32)
    s = _broadcast_param(scale, x.shape, axis, block_size).astype(fdt, copy=False)
    z = _broadcast_param(zp, x.shape, axis, block_size).astype(np.int64)
    q = np.rint(x.astype(fdt, copy=False) / s)
    lo, hi = QUANT_RANGES[name]
    q = np.clip(q, -(2.0**40), 2.0**40).astype(np.int64) + z
    return np.clip(q, lo, hi).astype(_CONTAINER[name])


def dequantize_linear(q, scale, zero_point=None, axis=1, block_size=0):
    """ONNX ``DequantizeLinear`` (opset 10/13/19/21/23/25; ``onnx.defs`` doc text).

    ``y = (x - x_zero_point) * x_scale``, in the scale's float type (opset 23 adds
    ``output_dtype``). Zero point optional (0); int32 inputs have no zero point. Granularity and
    ``axis``/``block_size`` as in :func:`quantize_linear`. The integer difference is exact and
    is rounded once by the multiplication.
    """
    q = np.asarray(q)
    scale = np.asarray(scale)
    fdt = scale.dtype if np.issubdtype(scale.dtype, np.floating) else np.dtype(np.float32)
    s = _broadcast_param(scale, q.shape, axis, block_size).astype(fdt, copy=False)
    if zero_point is None:
        z = np.zeros((), dtype=np.int64)
    else:
        z = _broadcast_param(np.asarray(zero_point), q.shape, axis, block_size).astype(np.int64)
    return ((q.astype(np.int64) - z).astype(fdt) * s).astype(fdt, copy=False)


def qcdq(x, scale, zero_point, clip_min, clip_max, axis=1, dtype=None):
    """Brevitas' QCDQ pattern ``QuantizeLinear -> Clip(min, max) -> DequantizeLinear``.

    Brevitas inserts the Clip (integer bounds of the Q output type) whenever the bit width is
    below 8 (or 32), or the range is narrow: e.g. int8 Clip [-32, 31] for signed 6 bit,
    [-31, 31] for signed narrow 6 bit, [-127, 127] for narrow 8 bit. For an integer zero point
    this equals :func:`quant` with the matching ``(bitwidth, signed, narrow)`` and ROUND.
    """
    q = quantize_linear(x, scale, zero_point, axis=axis, dtype=dtype)
    q = np.clip(q, clip_min, clip_max).astype(q.dtype)
    return dequantize_linear(q, scale, zero_point, axis=axis)


# --------------------------------------------------------------------------- tiny interpreter

QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "")


def _attrs(node) -> dict:
    from onnx import helper  # local import: the quantizer functions need only numpy

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _conv2d(x, w, b, strides, pads, dilations, group, dt):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    dh, dw = dilations
    sh, sw = strides
    oh = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, m, oh, ow), dtype=dt)
    mg = m // group
    for g in range(group):
        xs = x[:, g * cg : (g + 1) * cg]
        cols = np.empty((n, cg, kh, kw, oh, ow), dtype=dt)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = xs[
                    :, :, i * dh : i * dh + sh * oh : sh, j * dw : j * dw + sw * ow : sw
                ]
        wg = w[g * mg : (g + 1) * mg].reshape(mg, -1)
        out[:, g * mg : (g + 1) * mg] = np.einsum(
            "mk,nkp->nmp", wg, cols.reshape(n, cg * kh * kw, oh * ow)
        ).reshape(n, mg, oh, ow)
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out.astype(dt, copy=False)


def _pool2d(x, kernel, strides, pads, kind, count_include_pad=0):
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = strides
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(
        x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=fill
    )
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1

    def windows(a):
        return np.stack(
            [a[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]
             for i in range(kh) for j in range(kw)]
        )

    win = windows(xp)
    if kind == "max":
        return win.max(axis=0)
    if count_include_pad or not any(pads):
        return (win.sum(axis=0) / (kh * kw)).astype(x.dtype)
    pad = ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3]))
    cnt = windows(np.pad(np.ones((1, 1, h, w), x.dtype), pad)).sum(axis=0)
    return (win.sum(axis=0) / cnt).astype(x.dtype)


def run_model(model, feeds: dict, float_dtype=np.float32, quantize_bias: bool = False) -> list:
    """Evaluate an ONNX/QONNX ``ModelProto`` with the reference quantizers above.

    ``float_dtype`` is the type every float tensor (inputs, initializers, Constant values) is
    converted to: float32 reproduces PyTorch/onnxruntime arithmetic; float64 shows which results
    depend on float32 rounding. Graph inputs that have an initializer are constants.

    ``quantize_bias`` emulates onnxruntime's ``WeightBiasQuantization`` graph optimization (on
    by default from ORT_ENABLE_BASIC): the float bias of a Gemm/Conv whose two inputs come from
    DequantizeLinear nodes with scalar scales, and whose output is not a graph output, is
    replaced by ``round_half_even(bias / (s_a * s_w)) * (s_a * s_w)`` (int32 bias on the
    accumulator grid). Not ONNX semantics; only here to explain onnxruntime's numbers.
    """
    from onnx import numpy_helper

    g = model.graph
    env: dict[str, np.ndarray] = {}
    producer: dict[str, object] = {}
    graph_outputs = {o.name for o in g.output}

    def conv_float(a):
        a = np.asarray(a)
        return a.astype(float_dtype) if np.issubdtype(a.dtype, np.floating) else a

    for init in g.initializer:
        env[init.name] = conv_float(numpy_helper.to_array(init))
    for k, v in feeds.items():
        env[k] = conv_float(v)

    def dq_scale(name):
        node = producer.get(name)
        if node is None or node.op_type != "DequantizeLinear":
            return None
        s = env[node.input[1]]
        return s if s.size == 1 else None

    for node in g.node:
        a = _attrs(node)
        i = [env[n] if n else None for n in node.input]
        op = node.op_type
        dom = node.domain
        if op in ("Quant", "IntQuant") and dom in QONNX_DOMAINS:
            y = quant(i[0], i[1], i[2], i[3], a.get("signed", 1), a.get("narrow", 0),
                      a.get("rounding_mode", "ROUND"))
        elif op == "BipolarQuant" and dom in QONNX_DOMAINS:
            y = bipolar_quant(i[0], i[1])
        elif op == "Trunc" and dom in QONNX_DOMAINS:
            mode = a.get("rounding_mode", "FLOOR")
            if len(i) >= 7:
                y = trunc(i[0], i[1], i[2], i[3], i[6], mode, output_scale=i[4],
                          output_zero_point=i[5], signed=a.get("signed", 1),
                          narrow=a.get("narrow", 0))
            else:
                y = trunc(i[0], i[1], i[2], i[3], i[4], mode)
        elif op == "QuantizeLinear":
            zp = i[2] if len(i) > 2 else None
            dt = a.get("output_dtype") or None
            if dt:
                from onnx import helper

                dt = np.dtype(helper.tensor_dtype_to_np_dtype(dt)).name
            y = quantize_linear(i[0], i[1], zp, axis=a.get("axis", 1), dtype=dt,
                                block_size=a.get("block_size", 0))
        elif op == "DequantizeLinear":
            zp = i[2] if len(i) > 2 else None
            y = dequantize_linear(i[0], i[1], zp, axis=a.get("axis", 1),
                                  block_size=a.get("block_size", 0)).astype(float_dtype)
        elif op == "Clip":
            lo = i[1] if len(i) > 1 and i[1] is not None else a.get("min")
            hi = i[2] if len(i) > 2 and i[2] is not None else a.get("max")
            y = i[0]
            if lo is not None:
                y = np.maximum(y, np.asarray(lo).astype(y.dtype))
            if hi is not None:
                y = np.minimum(y, np.asarray(hi).astype(y.dtype))
        elif op in ("Gemm", "Conv"):
            bias = i[2] if len(i) > 2 else None
            if quantize_bias and bias is not None and node.output[0] not in graph_outputs:
                sa, sw = dq_scale(node.input[0]), dq_scale(node.input[1])
                if sa is not None and sw is not None:
                    s = (sa.reshape(()) * sw.reshape(())).astype(float_dtype)
                    bias = (np.rint(bias / s) * s).astype(float_dtype)
            if op == "Gemm":
                A = i[0].T if a.get("transA", 0) else i[0]
                B = i[1].T if a.get("transB", 0) else i[1]
                y = a.get("alpha", 1.0) * (A @ B) if a.get("alpha", 1.0) != 1.0 else A @ B
                if bias is not None:
                    beta = a.get("beta", 1.0)
                    y = y + (bias if beta == 1.0 else beta * bias)
                y = y.astype(float_dtype)
            else:
                if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
                    raise NotImplementedError("Conv auto_pad")
                if i[0].ndim != 4:
                    raise NotImplementedError("only 2-D Conv")
                y = _conv2d(i[0], i[1], bias, a.get("strides", [1, 1]), a.get("pads", [0] * 4),
                            a.get("dilations", [1, 1]), a.get("group", 1), float_dtype)
        elif op == "MatMul":
            y = i[0] @ i[1]
        elif op in ("MaxPool", "AveragePool"):
            if a.get("ceil_mode", 0) or a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
                raise NotImplementedError(f"{op} ceil_mode/auto_pad")
            if any(d != 1 for d in a.get("dilations", [1, 1])):
                raise NotImplementedError(f"{op} dilations")
            k = a["kernel_shape"]
            y = _pool2d(i[0], k, a.get("strides", [1, 1]), a.get("pads", [0] * 4),
                        "max" if op == "MaxPool" else "avg", a.get("count_include_pad", 0))
        elif op == "Relu":
            y = np.maximum(i[0], 0).astype(i[0].dtype)
        elif op == "Reshape":
            shape = [int(s) for s in i[1]]
            if not a.get("allowzero", 0):
                shape = [i[0].shape[k] if s == 0 else s for k, s in enumerate(shape)]
            y = i[0].reshape(shape)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Transpose":
            y = np.transpose(i[0], a.get("perm"))
        elif op in ("Add", "Sub", "Mul", "Div"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
            y = f(i[0], i[1])
        elif op == "Identity":
            y = i[0]
        elif op == "Constant":
            y = conv_float(numpy_helper.to_array(a["value"]))
        else:
            raise NotImplementedError(f"op {dom}::{op}")
        env[node.output[0]] = y
        producer[node.output[0]] = node
    return [env[o.name] for o in g.output]

"""Checks of tests/unit/quant_reference.py against independent sources.

* QuantizeLinear / DequantizeLinear / the QCDQ pattern: onnxruntime on tiny graphs built here
  (IR 8-10, opsets 10, 13, 17, 19, 21), per-tensor, per-axis and blocked, ties included.
* Quant / BipolarQuant / Trunc: hand-computed values (the qonnx rounding table, ranges, literal
  cases) and an exact Fraction-based model of the clamp-and-round step.
* The Brevitas-exported seed models in ../shared/models (skipped on a clean clone): the reference
  interpreter must reproduce ``ref_out`` bit for bit from both the QONNX and the QCDQ graph.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper
from onnx import numpy_helper as nh

from tests.unit import quant_reference as qr

ort = pytest.importorskip("onnxruntime")

SHARED = Path(__file__).resolve().parents[3] / "shared" / "models"
F32 = np.float32

# ------------------------------------------------------------------------- rounding modes

# qonnx docs/qonnx-custom-ops/intquant_v1.md, "Rounding modes" table, copied by hand.
ROUNDING_TABLE = {
    #            5.5  2.5  1.6  1.1  1.0 -1.0 -1.1 -1.6 -2.5 -5.5
    "ROUND":     [6, 2, 2, 1, 1, -1, -1, -2, -2, -6],
    "CEIL":      [6, 3, 2, 2, 1, -1, -1, -1, -2, -5],
    "FLOOR":     [5, 2, 1, 1, 1, -1, -2, -2, -3, -6],
    "UP":        [6, 3, 2, 2, 1, -1, -2, -2, -3, -6],
    "DOWN":      [5, 2, 1, 1, 1, -1, -1, -1, -2, -5],
    "HALF_UP":   [6, 3, 2, 1, 1, -1, -1, -2, -3, -6],
    "HALF_DOWN": [5, 2, 2, 1, 1, -1, -1, -2, -2, -5],
}
TABLE_X = [5.5, 2.5, 1.6, 1.1, 1.0, -1.0, -1.1, -1.6, -2.5, -5.5]
ALL_MODES = list(ROUNDING_TABLE)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rounding_table(mode, dtype):
    x = np.array(TABLE_X, dtype=dtype)
    assert qr.round_to_int(x, mode).tolist() == ROUNDING_TABLE[mode]
    assert qr.round_to_int(x, mode.lower()).tolist() == ROUNDING_TABLE[mode]
    # the same table through Quant (scale 1, zero point 0, 8 bits: no clamping)
    y = qr.quant(x, dtype(1), dtype(0), 8, signed=1, narrow=0, rounding_mode=mode)
    assert y.dtype == dtype and y.tolist() == ROUNDING_TABLE[mode]


def test_rounding_aliases_and_unknown():
    x = np.arange(-40, 41, dtype=F32) / 8
    assert np.array_equal(qr.round_to_int(x, "HALF_EVEN"), qr.round_to_int(x, "ROUND"))
    assert np.array_equal(qr.round_to_int(x, "ROUND_TO_ZERO"), qr.round_to_int(x, "DOWN"))
    with pytest.raises(ValueError):
        qr.round_to_int(x, "STOCHASTIC")


def test_rounding_ties_everywhere():
    k = np.arange(-20, 20)
    x = (k + 0.5).astype(F32)
    assert np.array_equal(qr.round_to_int(x, "ROUND"), np.where(k % 2 == 0, k, k + 1))
    assert np.array_equal(qr.round_to_int(x, "HALF_UP"), np.where(k >= 0, k + 1, k))
    assert np.array_equal(qr.round_to_int(x, "HALF_DOWN"), np.where(k >= 0, k, k + 1))
    assert np.array_equal(qr.round_to_int(x, "UP"), np.where(k >= 0, k + 1, k))
    assert np.array_equal(qr.round_to_int(x, "DOWN"), np.where(k >= 0, k, k + 1))


def test_half_modes_exact_below_one_half():
    """The float32 just below 0.5 is not a tie. qonnx computes HALF_UP as floor(|y| + 0.5),
    which rounds 0.49999997 + 0.5 up to 1.0 in float32; the reference decides exactly."""
    y = np.array([np.nextafter(F32(0.5), F32(0)), -np.nextafter(F32(0.5), F32(0))], dtype=F32)
    assert qr.round_to_int(y, "HALF_UP").tolist() == [0, 0]
    assert qr.round_to_int(y, "HALF_DOWN").tolist() == [0, 0]
    qonnx_half_up = np.sign(y) * np.floor(np.abs(y) + F32(0.5))
    assert qonnx_half_up.tolist() == [1, -1]  # the artefact the reference avoids
    z = np.array([np.nextafter(F32(2.5), F32(3))], dtype=F32)
    assert qr.round_to_int(z, "HALF_DOWN").tolist() == [3]


# ------------------------------------------------------------------------- Quant: ranges

# (bits, signed, narrow) -> (min, max), typed in by hand from the qonnx min_int/max_int docstrings
HAND_RANGES = {
    (8, 1, 0): (-128, 127), (8, 1, 1): (-127, 127), (8, 0, 0): (0, 255), (8, 0, 1): (0, 254),
    (6, 1, 0): (-32, 31), (6, 1, 1): (-31, 31), (6, 0, 0): (0, 63), (6, 0, 1): (0, 62),
    (4, 1, 0): (-8, 7), (4, 1, 1): (-7, 7), (4, 0, 0): (0, 15), (4, 0, 1): (0, 14),
    (2, 1, 0): (-2, 1), (2, 1, 1): (-1, 1), (2, 0, 0): (0, 3), (2, 0, 1): (0, 2),
    (1, 0, 0): (0, 1), (1, 0, 1): (0, 0),
}


def py_range(bits, signed, narrow):
    if signed:
        return -(2 ** (bits - 1)) + narrow, 2 ** (bits - 1) - 1
    return 0, 2**bits - 1 - narrow


@pytest.mark.parametrize("key", list(HAND_RANGES))
def test_quant_range_hand(key):
    bits, signed, narrow = key
    lo, hi = HAND_RANGES[key]
    assert py_range(bits, signed, narrow) == (lo, hi)
    assert (qr.min_int(signed, narrow, bits), qr.max_int(signed, narrow, bits)) == (lo, hi)
    x = np.array([-1e6, -300.0, 300.0, 1e6], dtype=F32)
    for bw in (np.float32(bits), np.int32(bits), bits):
        y = qr.quant(x, F32(1), F32(0), bw, signed, narrow, "ROUND")
        assert y.tolist() == [lo, lo, hi, hi]


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("signed", [0, 1])
@pytest.mark.parametrize("narrow", [0, 1])
def test_quant_covers_exactly_the_range(bits, signed, narrow):
    if bits == 1 and signed:
        pytest.skip("1-bit signed is bipolar, tested separately")
    lo, hi = py_range(bits, signed, narrow)
    x = np.arange(-600, 601, dtype=F32) / 2  # every integer and every tie, beyond the range
    q = qr.quant(x, F32(1), F32(0), F32(bits), signed, narrow, "ROUND")
    assert q.min() == lo and q.max() == hi
    assert set(np.unique(q).tolist()) == set(range(lo, hi + 1))


# ------------------------------------------------------------------------- Quant: literal cases


def test_quant_literal_cases():
    # scale 3 (not a power of two): 7.5/3 = 2.5 -> 2 (even), 4.5/3 = 1.5 -> 2, clamp at 4 bits
    x = np.array([7.5, -7.5, 4.5, 100, -100], dtype=F32)
    y = qr.quant(x, F32(3), F32(0), 4, 1, 0, "ROUND")
    assert y.tolist() == [6, -6, 6, 21, -24]
    y = qr.quant(x, F32(3), F32(0), 4, 1, 1, "ROUND")  # narrow: -8 -> -7
    assert y.tolist() == [6, -6, 6, 21, -21]
    y = qr.quant(x, F32(3), F32(0), 4, 1, 0, "HALF_UP")
    assert y.tolist() == [9, -9, 6, 21, -24]

    # unsigned 3 bit, zero point 2, scale 0.5: x/s + z = [-2, 0.5, 2, 4.6, 22] -> clamp [0, 7]
    x = np.array([-2, -0.75, 0, 1.3, 10], dtype=F32)
    for mode, q in {
        "ROUND": [0, 0, 2, 5, 7],
        "CEIL": [0, 1, 2, 5, 7],
        "FLOOR": [0, 0, 2, 4, 7],
        "HALF_UP": [0, 1, 2, 5, 7],
        "DOWN": [0, 0, 2, 4, 7],
    }.items():
        y = qr.quant(x, F32(0.5), F32(2), 3, signed=0, narrow=0, rounding_mode=mode)
        assert y.tolist() == [(v - 2) * 0.5 for v in q], mode

    # scale 0.1 (inexact): 0.25f / 0.1f rounds to exactly 2.5f, a tie
    y = qr.quant(np.array([0.25, -0.25], F32), F32(0.1), F32(0), 8, 1, 0, "ROUND")
    assert y.tolist() == [F32(2) * F32(0.1), F32(-2) * F32(0.1)]
    y = qr.quant(np.array([0.25, -0.25], F32), F32(0.1), F32(0), 8, 1, 0, "HALF_UP")
    assert y.tolist() == [F32(3) * F32(0.1), F32(-3) * F32(0.1)]

    # non-integer zero point (allowed by the spec): q - z keeps the 0.25 offset
    y = qr.quant(np.array([0.0, 1.0], F32), F32(1), F32(0.25), 4, 1, 0, "ROUND")
    assert y.tolist() == [-0.25, 0.75]


def test_quant_one_bit():
    x = np.array([-1, -0.0, 0, 0.2, -0.2, 7], dtype=F32)
    # signed 1 bit: qonnx treats it as bipolar (sign, 0 -> +1)
    assert qr.quant(x, F32(0.5), F32(0), 1, 1, 0).tolist() == [-0.5, 0.5, 0.5, 0.5, -0.5, 0.5]
    # unsigned 1 bit: range [0, 1], rounded
    x = np.array([-1, 0.2, 0.5, 0.6, 5], dtype=F32)
    assert qr.quant(x, F32(1), F32(0), 1, 0, 0).tolist() == [0, 0, 0, 1, 1]


def test_quant_per_channel_broadcast():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 3, 2, 2)) * 4).astype(F32)
    scale = np.array([0.5, 0.25, 2.0], F32).reshape(1, 3, 1, 1)
    zp = np.array([0, 1, -1], F32).reshape(1, 3, 1, 1)
    y = qr.quant(x, scale, zp, F32(4), 1, 0, "ROUND")
    for c in range(3):
        yc = qr.quant(x[:, c], scale[0, c, 0, 0], zp[0, c, 0, 0], 4, 1, 0, "ROUND")
        assert np.array_equal(y[:, c], yc)
    # conv-weight style (C_out, 1, 1, 1)
    w = (rng.standard_normal((3, 2, 3, 3))).astype(F32)
    s = np.array([0.125, 0.0625, 0.3], F32).reshape(3, 1, 1, 1)
    y = qr.quant(w, s, F32(0), 4, 1, 1, "ROUND")
    for c in range(3):
        assert np.array_equal(y[c], qr.quant(w[c], s[c, 0, 0, 0], F32(0), 4, 1, 1, "ROUND"))


def test_quant_dtype_follows_inputs():
    assert qr.quant(np.ones(3, F32), F32(0.5), F32(0), F32(4)).dtype == np.float32
    assert qr.quant(np.ones(3, F32), np.float64(0.5), 0.0, 4).dtype == np.float64
    with pytest.raises(ValueError):
        qr.quant(np.ones(3, F32), F32(1), F32(0), 2.5)


# ------------------------------------------------------------------------- Quant: exact model


def exact_round(v: Fraction, mode: str) -> int:
    fl = math.floor(v)
    frac = v - fl
    if mode == "ROUND":
        if frac != Fraction(1, 2):
            return fl + (frac > Fraction(1, 2))
        return fl if fl % 2 == 0 else fl + 1
    if mode == "CEIL":
        return math.ceil(v)
    if mode == "FLOOR":
        return fl
    a = abs(v)
    sgn = 1 if v >= 0 else -1
    fa = math.floor(a)
    fr = a - fa
    if mode == "UP":
        return sgn * (fa + (fr > 0))
    if mode == "DOWN":
        return sgn * fa
    if mode == "HALF_UP":
        return sgn * (fa + (fr >= Fraction(1, 2)))
    if mode == "HALF_DOWN":
        return sgn * (fa + (fr > Fraction(1, 2)))
    raise ValueError(mode)


def exact_quant(x, scale, zp, bits, signed, narrow, mode):
    """Float steps of the spec in numpy float32 (x/scale + zp, then (q - zp) * scale), the clamp
    and the rounding in exact rational arithmetic."""
    lo, hi = py_range(bits, signed, narrow)
    v = (x / F32(scale) + F32(zp)).astype(F32)
    q = [exact_round(min(max(Fraction(float(t)), Fraction(lo)), Fraction(hi)), mode) for t in v]
    return ((np.array(q, dtype=F32) - F32(zp)) * F32(scale)).astype(F32)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("scale", [1.0, 0.5, 0.375, 3.0, 0.1, 0.3, 1 / 3])
def test_quant_against_exact_model(mode, scale):
    rng = np.random.default_rng(7)
    ties = (np.arange(-80, 81) / 2).astype(F32) * F32(scale)  # ties when scale is exact
    rand = (rng.standard_normal(300) * 20 * scale).astype(F32)
    x = np.concatenate([ties, rand])
    for bits in (2, 3, 4, 6, 8):
        for signed, narrow in ((1, 0), (1, 1), (0, 0), (0, 1)):
            for zp in (0.0, 1.0, -2.0, 0.25):
                if not signed and zp < 0:
                    continue
                got = qr.quant(x, F32(scale), F32(zp), F32(bits), signed, narrow, mode)
                want = exact_quant(x, scale, zp, bits, signed, narrow, mode)
                assert np.array_equal(got, want), (bits, signed, narrow, zp)


# ------------------------------------------------------------------------- BipolarQuant


def test_bipolar_quant():
    x = np.array([-1, -0.0, 0.0, 1e-30, -1e-30, 5, np.nan], dtype=F32)
    y = qr.bipolar_quant(x, F32(0.5))
    assert y.tolist()[:6] == [-0.5, 0.5, 0.5, 0.5, -0.5, 0.5]
    assert y[6] == -0.5  # NaN >= 0 is false
    s = np.array([1.0, 2.0, 4.0], F32).reshape(3, 1)
    y = qr.bipolar_quant(np.array([[-3.0, 3.0]] * 3, F32), s)
    assert y.tolist() == [[-1, 1], [-2, 2], [-4, 4]]


# ------------------------------------------------------------------------- Trunc


def test_trunc_v1_literal():
    x = np.array([13, 14, -13, 10, 6, -6], dtype=F32)
    for mode, want in {
        "FLOOR": [3, 3, -4, 2, 1, -2],
        "CEIL": [4, 4, -3, 3, 2, -1],
        "ROUND": [3, 4, -3, 2, 2, -2],
        "HALF_UP": [3, 4, -3, 3, 2, -2],
        "DOWN": [3, 3, -3, 2, 1, -1],
    }.items():
        # in 8 bits -> out 6 bits: divide by 4; the result stays on the input scale
        assert qr.trunc(x, F32(1), F32(0), F32(8), F32(6), mode).tolist() == want, mode
        y = qr.trunc(x * F32(0.5), F32(0.5), F32(0), 8, 6, mode)
        assert y.tolist() == [v * 0.5 for v in want], mode
    # zero point 1 (v1 subtracts the unscaled zero point at the end): (x/s + 1) / 4
    y = qr.trunc(x, F32(1), F32(1), 8, 6, "FLOOR")
    assert y.tolist() == [2, 2, -4, 1, 0, -3]
    # the first step is round-half-even: 13.5 -> 14, 12.5 -> 12, then /4 and FLOOR
    y = qr.trunc(np.array([13.5, 12.5, 13.4], F32), F32(1), F32(0), 8, 6, "FLOOR")
    assert y.tolist() == [3, 3, 3]
    # no saturation in v1
    assert qr.trunc(np.array([1000.0], F32), F32(1), F32(0), 8, 6, "FLOOR").tolist() == [250]


def test_trunc_v2_literal():
    x = np.array([13, 14, -13, 10, 100, -100], dtype=F32)
    kw = dict(output_scale=F32(4))  # scale 1 -> 4: shift by 2, value preserved, clamped
    y = qr.trunc(x, F32(1), F32(0), F32(8), F32(4), "FLOOR", **kw)
    assert y.tolist() == [12, 12, -16, 8, 28, -32]
    y = qr.trunc(x, F32(1), F32(0), F32(8), F32(4), "ROUND", **kw)
    assert y.tolist() == [12, 16, -12, 8, 28, -32]
    y = qr.trunc(x, F32(1), F32(0), 8, 4, "FLOOR", narrow=1, **kw)
    assert y.tolist() == [12, 12, -16, 8, 28, -28]
    y = qr.trunc(x, F32(1), F32(0), 8, 4, "FLOOR", signed=0, **kw)
    assert y.tolist() == [12, 12, 0, 8, 60, 0]
    # zero point 4 is rescaled to 4/4 = 1 at the output: floor((x + 4) / 4) - 1, times 4
    y = qr.trunc(np.array([13, -13], F32), F32(1), F32(4), 8, 4, "FLOOR", **kw)
    assert y.tolist() == [12, -16]
    # the shift is forced to a power of two: out_scale/scale = 3.9 -> 4
    y = qr.trunc(np.array([13.0], F32), F32(1), F32(0), 8, 4, "FLOOR", output_scale=F32(3.9))
    assert y.tolist() == [F32(3) * F32(3.9)]
    # in_bitwidth does not matter in v2
    a = qr.trunc(x, F32(1), F32(0), 8, 4, "FLOOR", **kw)
    b = qr.trunc(x, F32(1), F32(0), 30, 4, "FLOOR", **kw)
    assert np.array_equal(a, b)


# ------------------------------------------------------------------------- Q / DQ vs onnxruntime

NP2TP = {
    "int8": TP.INT8, "uint8": TP.UINT8, "int16": TP.INT16, "uint16": TP.UINT16,
    "int4": TP.INT4, "uint4": TP.UINT4, "int32": TP.INT32,
}
IR_FOR_OPSET = {10: 8, 13: 8, 17: 8, 19: 9, 21: 10}


def session(nodes, inputs, outputs, inits, opset):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_FOR_OPSET[opset]
    )
    onnx.checker.check_model(m)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def zp_tensor(name, dtype, values, shape):
    return helper.make_tensor(name, NP2TP[dtype], shape, np.asarray(values).ravel().tolist())


def ort_qdq(x, scale, zp, dtype, opset, axis=None, block_size=None):
    """QuantizeLinear and QuantizeLinear -> DequantizeLinear through onnxruntime."""
    attrs = {}
    if axis is not None:
        attrs["axis"] = axis
    if block_size:
        attrs["block_size"] = block_size
    ins = ["x", "s"] + (["z"] if zp is not None else [])
    qtype = NP2TP[dtype]
    nodes = [
        helper.make_node("QuantizeLinear", ins, ["q"], **attrs),
        helper.make_node("DequantizeLinear", ["q"] + ins[1:], ["y"], **attrs),
    ]
    inits = [nh.from_array(np.asarray(scale, F32), "s")]
    if zp is not None:
        inits.append(zp_tensor("z", dtype, zp, list(np.shape(zp))))
    direct = dtype not in ("int4", "uint4")  # onnxruntime has no numpy type for int4 outputs
    outs = [helper.make_tensor_value_info("y", TP.FLOAT, list(x.shape))]
    if direct:
        outs.insert(0, helper.make_tensor_value_info("q", qtype, list(x.shape)))
    sess = session(nodes, [helper.make_tensor_value_info("x", TP.FLOAT, list(x.shape))], outs,
                   inits, opset)
    res = sess.run(None, {"x": x})
    return (res[0], res[1]) if direct else (None, res[0])


def tie_inputs(scale, n=300, seed=0):
    rng = np.random.default_rng(seed)
    ties = ((np.arange(-n, n) + 0.5) * scale).astype(F32)  # exact ties for power-of-two scales
    ints = (np.arange(-n, n) * scale).astype(F32)
    rand = (rng.standard_normal(2 * n) * 60 * scale).astype(F32)
    return np.concatenate([ties, ints, rand, np.array([2.5, -2.5, 0.5, -0.5, 1.5], F32) * scale])


@pytest.mark.parametrize("opset", [10, 13, 19, 21])
@pytest.mark.parametrize("dtype,zp", [("int8", 0), ("int8", -3), ("uint8", 0), ("uint8", 128)])
@pytest.mark.parametrize("scale", [1.0, 0.5, 0.015625, 0.1, 0.0123, 1 / 3])
def test_quantize_linear_per_tensor_vs_ort(opset, dtype, zp, scale):
    x = tie_inputs(scale)
    zpa = np.array(zp, dtype=np.dtype(dtype))
    q_ort, y_ort = ort_qdq(x, scale, zpa, dtype, opset)
    q = qr.quantize_linear(x, F32(scale), zpa)
    assert q.dtype == np.dtype(dtype)
    assert np.array_equal(q, q_ort)
    y = qr.dequantize_linear(q, F32(scale), zpa)
    assert y.dtype == np.float32 and np.array_equal(y, y_ort)


def test_quantize_linear_ties_literal():
    x = np.array([2.5, -2.5, 3.5, -3.5, 0.5, -0.5, 1000, -1000], F32)
    assert qr.quantize_linear(x, F32(1), np.int8(0)).tolist() == [2, -2, 4, -4, 0, 0, 127, -128]
    assert qr.quantize_linear(x, F32(1), np.uint8(10)).tolist() == [12, 8, 14, 6, 10, 10, 255, 0]
    q_ort, _ = ort_qdq(x, 1.0, np.int8(0), "int8", 13)
    assert q_ort.tolist() == [2, -2, 4, -4, 0, 0, 127, -128]


def test_quantize_linear_default_uint8_without_zero_point():
    x = tie_inputs(0.25)
    q_ort, y_ort = ort_qdq(x, 0.25, None, "uint8", 13)
    q = qr.quantize_linear(x, F32(0.25))
    assert q.dtype == np.uint8 and np.array_equal(q, q_ort)
    assert np.array_equal(qr.dequantize_linear(q, F32(0.25)), y_ort)


@pytest.mark.parametrize("opset", [13, 19, 21])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_quantize_linear_per_axis_vs_ort(opset, axis, dtype):
    rng = np.random.default_rng(3)
    shape = (3, 4, 5)
    d = shape[axis]
    scale = np.array([0.5, 0.1, 0.03125, 0.7, 1 / 3][:d], F32)
    zp = np.array([0, 5, 17, 3, 1][:d], dtype=np.dtype(dtype))
    base = np.arange(np.prod(shape)).reshape(shape) % 13 - 6 + 0.5  # ties on the power-of-2 scales
    s_b = scale.reshape([d if k == axis % 3 else 1 for k in range(3)])
    x = (base * s_b + rng.standard_normal(shape) * (rng.random(shape) < 0.3)).astype(F32)
    q_ort, y_ort = ort_qdq(x, scale, zp, dtype, opset, axis=axis)
    q = qr.quantize_linear(x, scale, zp, axis=axis)
    assert np.array_equal(q, q_ort)
    assert np.array_equal(qr.dequantize_linear(q, scale, zp, axis=axis), y_ort)


@pytest.mark.parametrize("dtype,zp", [("int16", -7), ("uint16", 1000), ("int4", 1), ("uint4", 3)])
@pytest.mark.parametrize("scale", [0.25, 0.1])
def test_quantize_linear_opset21_types_vs_ort(dtype, zp, scale):
    x = tie_inputs(scale, n=300 if "16" in dtype else 12)
    if "16" in dtype:
        x = np.concatenate([x, np.array([1e6, -1e6], F32)])
    container = np.int16 if dtype == "int16" else np.uint16 if dtype == "uint16" else None
    zpa = np.array(zp, dtype=container) if container else None
    q_ort, y_ort = ort_qdq(x, scale, zpa if container else np.array(zp), dtype, 21)
    if container:
        q = qr.quantize_linear(x, F32(scale), zpa)
        assert np.array_equal(q, q_ort)
        assert np.array_equal(qr.dequantize_linear(q, F32(scale), zpa), y_ort)
    else:
        lo, hi = qr.QUANT_RANGES[dtype]
        zp_int = np.array(zp, dtype=np.int8 if dtype == "int4" else np.uint8)
        q = qr.quantize_linear(x, F32(scale), zp_int, dtype=dtype)
        assert q.min() >= lo and q.max() <= hi and {lo, hi} <= set(q.tolist())
        assert np.array_equal(qr.dequantize_linear(q, F32(scale), zp_int), y_ort)


@pytest.mark.parametrize("shape,axis,block", [((2, 5), 1, 2), ((6, 3), 0, 4), ((2, 8), -1, 3)])
def test_quantize_linear_blocked_vs_ort(shape, axis, block):
    rng = np.random.default_rng(5)
    ax = axis % len(shape)
    sshape = list(shape)
    sshape[ax] = -(-shape[ax] // block)
    scale = rng.choice(np.array([0.5, 0.25, 0.1, 2.0, 0.3], F32), size=sshape)
    zp = rng.integers(-5, 6, size=sshape).astype(np.int8)
    x = (rng.standard_normal(shape) * 4).astype(F32)
    q_ort, y_ort = ort_qdq(x, scale, zp, "int8", 21, axis=axis, block_size=block)
    q = qr.quantize_linear(x, scale, zp, axis=axis, block_size=block)
    assert np.array_equal(q, q_ort)
    assert np.array_equal(qr.dequantize_linear(q, scale, zp, axis=axis, block_size=block), y_ort)


def test_dequantize_linear_int32_vs_ort():
    q = np.array([-(2**31), -5, 0, 7, 2**31 - 1, 123456789], dtype=np.int32)
    sess = session(
        [helper.make_node("DequantizeLinear", ["q", "s"], ["y"])],
        [helper.make_tensor_value_info("q", TP.INT32, [6])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [6])],
        [nh.from_array(np.array(0.001, F32), "s")],
        13,
    )
    assert np.array_equal(qr.dequantize_linear(q, F32(0.001)), sess.run(None, {"q": q})[0])


@pytest.mark.parametrize("bits,signed,narrow", [(6, 1, 0), (6, 1, 1), (4, 1, 0), (4, 1, 1),
                                                (8, 1, 1), (3, 0, 0), (7, 0, 1), (2, 1, 0)])
@pytest.mark.parametrize("scale", [0.25, 0.0625, 0.1])
def test_qcdq_pattern_equals_quant(bits, signed, narrow, scale):
    """Brevitas' QuantizeLinear -> Clip -> DequantizeLinear (opset 17) in onnxruntime equals
    the reference qcdq() and QONNX Quant with the same (bits, signed, narrow), ROUND."""
    x = tie_inputs(scale, n=150)
    lo, hi = py_range(bits, signed, narrow)
    dt = "int8" if signed else "uint8"
    npdt = np.dtype(dt)
    zp = np.array(0 if signed else 0, npdt)
    sess = session(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
         helper.make_node("Clip", ["q", "lo", "hi"], ["c"]),
         helper.make_node("DequantizeLinear", ["c", "s", "z"], ["y"])],
        [helper.make_tensor_value_info("x", TP.FLOAT, [x.size])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [x.size])],
        [nh.from_array(np.array(scale, F32), "s"), nh.from_array(zp, "z"),
         nh.from_array(np.array(lo, npdt), "lo"), nh.from_array(np.array(hi, npdt), "hi")],
        17,
    )
    y_ort = sess.run(None, {"x": x})[0]
    assert np.array_equal(qr.qcdq(x, F32(scale), zp, lo, hi), y_ort)
    assert np.array_equal(qr.quant(x, F32(scale), F32(0), F32(bits), signed, narrow), y_ort)


def test_qcdq_per_axis_equals_per_channel_quant():
    rng = np.random.default_rng(11)
    w = (rng.standard_normal((4, 3, 3, 3)) * 0.5).astype(F32)
    s = np.array([0.125, 0.0625, 0.1, 0.03125], F32)
    zp = np.zeros(4, np.int8)
    y_cdq = qr.qcdq(w, s, zp, -7, 7, axis=0)
    y_q = qr.quant(w, s.reshape(4, 1, 1, 1), F32(0), 4, 1, 1)
    assert np.array_equal(y_cdq, y_q)


# ------------------------------------------------------------------------- run_model on tiny graphs


def test_run_model_quant_domains_and_trunc_versions():
    x = np.array([[13.0, -13.0, 7.5, 100.0]], F32)
    inits = [nh.from_array(np.array(v, F32), n) for n, v in
             [("s", 1.0), ("z", 0.0), ("b", 4.0), ("ib", 8.0), ("ob", 6.0), ("os", 4.0)]]
    for dom in qr.QONNX_DOMAINS:
        nodes = [
            helper.make_node("Quant", ["x", "s", "z", "b"], ["q"], domain=dom, signed=1,
                             narrow=0, rounding_mode="ROUND"),
            helper.make_node("Trunc", ["x", "s", "z", "ib", "ob"], ["t1"], domain=dom,
                             rounding_mode="FLOOR"),
            helper.make_node("Trunc", ["x", "s", "z", "ib", "os", "z", "b"], ["t2"], domain=dom,
                             rounding_mode="FLOOR", signed=1, narrow=0),
            helper.make_node("BipolarQuant", ["x", "s"], ["bq"], domain=dom),
        ]
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TP.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info(n, TP.FLOAT, [1, 4])
                               for n in ("q", "t1", "t2", "bq")], inits)
        q, t1, t2, bq = qr.run_model(helper.make_model(g), {"x": x})
        assert q.tolist() == [[7, -8, 7, 7]]
        assert t1.tolist() == [[3, -4, 2, 25]]
        assert t2.tolist() == [[12, -16, 8, 28]]
        assert bq.tolist() == [[1, -1, 1, 1]]


# ------------------------------------------------------------------------- shared seed models

SHARED_MODELS = ["jet_tagger_w6a6", "muon_cnn_w4a4"]
N_SAMPLES = 200


def shared(name):
    if not (SHARED / f"{name}.qonnx.onnx").exists():
        pytest.skip(f"{SHARED} absent (clean clone)")
    data = np.load(SHARED / f"{name}.npz")
    return data


def run_all(model, x, dtype=F32, **kw):
    return np.stack([qr.run_model(model, {"x": x[k]}, dtype, **kw)[0] for k in range(len(x))])


@pytest.mark.parametrize("name", SHARED_MODELS)
@pytest.mark.parametrize("kind", ["qonnx", "qcdq"])
def test_shared_model_reproduces_ref_out(name, kind):
    """Both exports, evaluated by the specification in float32, give Brevitas' ref_out bit for
    bit; in float64 they differ by < 1e-6 and agree exactly only after a final float32 cast."""
    data = shared(name)
    model = onnx.load(SHARED / f"{name}.{kind}.onnx")
    x, ref = data["x"][:N_SAMPLES], data["ref_out"][:N_SAMPLES]
    out = run_all(model, x)
    diff = np.abs(out.astype(np.float64) - ref)
    print(f"{name}.{kind} float32: max|diff| {diff.max():.3g}, "
          f"exact {int((out == ref).sum())}/{ref.size}")
    assert out.dtype == np.float32 and np.array_equal(out, ref)
    out64 = run_all(model, x, np.float64)
    d64 = np.abs(out64 - ref).max()
    print(f"{name}.{kind} float64: max|diff| {d64:.3g}, exact {int((out64 == ref).sum())}/"
          f"{ref.size}, after float32 cast {int((out64.astype(F32) == ref).sum())}/{ref.size}")
    assert 0 < d64 < 1e-6
    assert np.array_equal(out64.astype(F32), ref)


@pytest.mark.parametrize("name", SHARED_MODELS)
def test_shared_ref_qcdq_is_onnxruntime_bias_quantization(name):
    """ref_qcdq differs from ref_out only because onnxruntime's WeightBiasQuantization pass
    rounds the hidden layers' float biases to int32 on the s_in * s_w grid."""
    data = shared(name)
    x = data["x"][:N_SAMPLES]
    model = onnx.load(SHARED / f"{name}.qcdq.onnx")
    emulated = run_all(model, x, quantize_bias=True)
    assert np.array_equal(emulated, data["ref_qcdq"][:N_SAMPLES])
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(SHARED / f"{name}.qcdq.onnx"), so,
                                providers=["CPUExecutionProvider"],
                                disabled_optimizers=["WeightBiasQuantization"])
    plain = np.stack([sess.run(None, {"x": x[k]})[0] for k in range(len(x))])
    assert np.array_equal(plain, data["ref_out"][:N_SAMPLES])


@pytest.mark.parametrize("name", SHARED_MODELS)
def test_shared_model_quantizer_parameters(name):
    """What Brevitas put in the files: power-of-two scalar scales, zero points 0, ROUND,
    signed=1 everywhere (also after ReLU), narrow=1 on weights only, float32 bit widths."""
    shared(name)
    m = onnx.load(SHARED / f"{name}.qonnx.onnx")
    inits = {i.name: nh.to_array(i) for i in m.graph.initializer}
    assert ("qonnx.custom_op.general", 2) in [(o.domain, o.version) for o in m.opset_import]
    quants = [n for n in m.graph.node if n.op_type == "Quant"]
    assert quants and {n.op_type for n in m.graph.node} <= {
        "Quant", "Gemm", "Relu", "Conv", "MaxPool", "Reshape"}
    weights = {n.name for n in m.graph.initializer if n.name.startswith("slice")}
    for n in quants:
        a = {k.name: helper.get_attribute_value(k) for k in n.attribute}
        s, z, b = (inits[n.input[k]] for k in (1, 2, 3))
        assert s.shape == () and s.dtype == np.float32 and math.log2(s).is_integer()
        assert z.shape == () and z == 0 and b.dtype == np.float32 and b in (4, 6, 8)
        assert a["rounding_mode"] == b"ROUND" and a["signed"] == 1
        assert a["narrow"] == (1 if n.input[0] in weights else 0)
    q = onnx.load(SHARED / f"{name}.qcdq.onnx")
    qinits = {i.name: nh.to_array(i) for i in q.graph.initializer}
    clips = [tuple(int(qinits[c.input[k]]) for k in (1, 2))
             for c in q.graph.node if c.op_type == "Clip"]
    assert set(clips) <= {(-32, 31), (-31, 31), (-8, 7), (-7, 7), (-127, 127)}
    for n in q.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            assert qinits[n.input[2]].dtype == np.int8 and qinits[n.input[2]] == 0

"""Quantizers of quantization-aware exports (QONNX Quant / BipolarQuant / Trunc, ONNX QDQ), and
the exact fixed-point format of constants.

Float semantics, written from the QONNX operator documents (``Quant``: ``q = clamp(round(x /
scale + zero_point), low, high)``, ``y = (q - zero_point) * scale``) and the ONNX specification of
QuantizeLinear / DequantizeLinear (round half to even, saturate to the integer type, optionally
followed by a Clip to narrower bounds). The importer folds quantizers of constants (weights)
with these functions; the float reference interpreter runs them on activations.
"""

from __future__ import annotations

import math

import numpy as np

from rtlflow.sim.fixed_point import FixedFormat, bits_for_range

#: QONNX rounding modes with their numpy implementation (ties: see the QONNX documents)
ROUNDING: dict[str, object] = {
    "ROUND": np.round,  # nearest, ties to even
    "HALF_EVEN": np.round,
    "FLOOR": np.floor,
    "CEIL": np.ceil,
    "DOWN": np.trunc,
    "ROUND_TO_ZERO": np.trunc,
    "UP": lambda v: np.sign(v) * np.ceil(np.abs(v)),
    "HALF_UP": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5),
    "HALF_DOWN": lambda v: np.sign(v) * np.ceil(np.abs(v) - 0.5),
}


def integer_bounds(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    """The integer range of a ``bits``-wide quantizer (QONNX Quant)."""
    if signed:
        return -(2 ** (bits - 1)) + int(narrow), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1 - int(narrow)


def quantize(x, scale, zero_point, low: int, high: int, rounding: str) -> np.ndarray:
    """``(clamp(round(x / scale + zero_point), low, high) - zero_point) * scale``, in float64."""
    x = np.asarray(x, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    zero_point = np.asarray(zero_point, dtype=np.float64)
    q = ROUNDING[rounding](np.clip(x / scale + zero_point, low, high))  # type: ignore[operator]
    return (q - zero_point) * scale


def bipolar(x, scale) -> np.ndarray:
    """QONNX BipolarQuant: ``+scale`` where ``x >= 0``, else ``-scale``."""
    return np.where(np.asarray(x) >= 0, 1.0, -1.0) * np.asarray(scale, dtype=np.float64)


def trunc(x, scale, zero_point, input_bits: int, output_bits: int, rounding: str) -> np.ndarray:
    """QONNX Trunc (five inputs): drop ``input_bits - output_bits`` low bits of the integer."""
    x = np.asarray(x, dtype=np.float64)
    scale, zero_point = np.asarray(scale, np.float64), np.asarray(zero_point, np.float64)
    integer = np.round(x / scale + zero_point)
    shifted = ROUNDING[rounding](integer / 2.0 ** (input_bits - output_bits))  # type: ignore[operator]
    return (shifted - zero_point) * scale


def power_of_two_exponent(scale) -> int | None:
    """``k`` when every element of ``scale`` is ``2**k``, else None."""
    values = np.unique(np.asarray(scale, dtype=np.float64))
    if values.size != 1 or values[0] <= 0:
        return None
    mantissa, exponent = math.frexp(float(values[0]))
    return exponent - 1 if mantissa == 0.5 else None


def exact_format(values: np.ndarray, max_frac_bits: int = 64) -> FixedFormat | None:
    """The narrowest signed format that holds every value exactly (None if one needs more than
    ``max_frac_bits`` fractional bits)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    frac = 0
    for value in values:
        if value == 0:
            continue
        mantissa, exponent = math.frexp(abs(float(value)))
        bits = 53
        while bits > 0 and math.ldexp(mantissa, bits) % 2 == 0:
            bits -= 1
        frac = max(frac, bits - exponent)
        if frac > max_frac_bits:
            return None
    raw = np.array([int(math.ldexp(float(v), frac)) for v in values], dtype=object)
    low, high = (int(raw.min()), int(raw.max())) if raw.size else (0, 0)
    width, _ = bits_for_range(min(low, 0), max(high, 0), signed=True)
    return FixedFormat(max(width, 2), max(width, 2) - frac)

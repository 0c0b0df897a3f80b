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

from rtlflow.numerics.fixed_point import FixedFormat, bits_for_range

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
#: the decision of QONNX BipolarQuant (and of a signed 1-bit Quant) on activations, as a rounding
#: of ``nn.quant`` with bounds [-1, 1]: +1 where ``x / scale + zero_point >= 0``, else -1
BIPOLAR = "BIPOLAR"
ROUNDING[BIPOLAR] = lambda v: np.where(np.asarray(v) >= 0, 1.0, -1.0)


def integer_bounds(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    """The integer range of a ``bits``-wide quantizer (QONNX Quant)."""
    if signed:
        return -(2 ** (bits - 1)) + int(narrow), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1 - int(narrow)


def quant_levels(
    x, scale, zero_point, low: int, high: int, rounding: str, shift: int = 0
) -> np.ndarray:
    """``clamp(round(x / scale + zero_point), low, high)`` computed as the frameworks compute it
    (QONNX's executor, Brevitas, onnxruntime): ``x / scale`` and ``+ zero_point`` in float32,
    each rounded to float32, then the rounding mode (exact on that float32 value). With
    ``shift`` (QONNX Trunc): that sum rounded half to even, divided by 2^shift, then the
    rounding mode."""
    x = np.asarray(x, dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    zero_point = np.asarray(zero_point, dtype=np.float32)
    with np.errstate(over="ignore"):
        value = (x / scale + zero_point).astype(np.float64)
    if shift:
        value = np.round(value) / 2.0**shift
    return ROUNDING[rounding](np.clip(value, low, high))  # type: ignore[operator]


def quantize(x, scale, zero_point, low: int, high: int, rounding: str, shift: int = 0) -> np.ndarray:
    """``(clamp(round(x / scale + zero_point), low, high) - zero_point) * scale`` (the levels as
    in ``quant_levels``; their values exact in float64)."""
    q = quant_levels(x, scale, zero_point, low, high, rounding, shift)
    zero_point = np.asarray(zero_point, dtype=np.float32).astype(np.float64)
    return (q - zero_point) * np.asarray(scale, dtype=np.float32).astype(np.float64)


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


# ---- quantizers of fixed-point activations: thresholds ------------------------------------


def step_thresholds(step, low_raw: int, high_raw: int) -> tuple[int, list[int]]:
    """A non-decreasing integer function ``step`` (of a list of raw integers, giving a list) of
    the raw inputs ``low_raw .. high_raw`` as ``step(x) = base + #{t in thresholds: x >= t}``:
    ``base = step(low_raw)`` and, for each level it climbs to, the smallest input that reaches
    it (found by bisection, all levels at once; a jump by several levels repeats its
    threshold)."""
    base, top = step([low_raw, high_raw])
    levels = list(range(base + 1, top + 1))
    below = [low_raw] * len(levels)  # step(below) < level <= step(above)
    above = [high_raw] * len(levels)
    while any(a - b > 1 for a, b in zip(above, below, strict=True)):
        middle = [b + (a - b) // 2 for a, b in zip(above, below, strict=True)]
        for index, reached in enumerate(v >= level for v, level in zip(step(middle), levels)):
            if reached:
                above[index] = middle[index]
            else:
                below[index] = middle[index]
    return base, above


def float32_of_raw(raw: int, frac_bits: int) -> np.float32:
    """``raw * 2**-frac_bits`` rounded once to float32 (ties to even), for any Python int."""
    magnitude = abs(raw)
    drop = max(0, magnitude.bit_length() - 24)
    if drop:  # keep 24 significant bits, ties to even, before the (then exact) conversion
        kept, rest = magnitude >> drop, magnitude & ((1 << drop) - 1)
        half = 1 << (drop - 1)
        kept += rest > half or (rest == half and kept & 1)
        magnitude = kept << drop
    return np.float32(math.ldexp(float(magnitude), -frac_bits) * (1 if raw >= 0 else -1))


def quant_step(
    frac_bits: int, scale: float, zero_point: float, low: int, high: int, rounding: str,
    shift: int = 0, affine: tuple[float, float, bool] = (1.0, 0.0, False),
):
    """The levels ``quant_levels`` gives for raw inputs with ``frac_bits`` fractional bits, each
    input as the float32 number a framework would hold. ``affine = (a, b, relu)``: the quantizer
    reads ``a * x + b`` (exact, then rounded to float32), through a ReLU if ``relu``: a scale and
    bias carried from the layers before (``a > 0``)."""
    a, b, relu = affine
    a_num, a_den = float(a).as_integer_ratio()
    b_num, b_den = float(b).as_integer_ratio()
    if frac_bits < 0:  # an LSB above 1: the raw value's weight goes to the numerator
        a_num, frac_bits = a_num << -frac_bits, 0
    denominator = max(a_den << frac_bits, b_den)  # powers of two: the larger is a multiple
    a_num *= denominator // (a_den << frac_bits)
    b_num *= denominator // b_den
    exponent = denominator.bit_length() - 1

    def step(raws: list[int]) -> list[int]:
        x = np.array(
            [float32_of_raw(int(raw) * a_num + b_num, exponent) for raw in raws], dtype=np.float32
        )
        if relu:
            x = np.maximum(x, np.float32(0))
        return [int(v) for v in quant_levels(x, scale, zero_point, low, high, rounding, shift)]

    return step

"""Fixed-point numbers as hls4ml's ap_fixed: formats, casts, quantization and lookup tables.

A value in format ``fixed<W,I>`` is stored as a raw two's-complement integer of W bits (or an
unsigned one for ``ufixed``); its real value is ``raw * 2**-(W - I)``. Everything here works on raw
integers held in numpy arrays, so the emulator, the compiler and the tests share one definition of
every rounding and overflow rule. Arrays use int64 while the widths involved fit in 62 bits and
Python integers (``dtype=object``) beyond that, so no computation here ever overflows silently.

Rounding (applied when fractional bits are dropped):
    TRN       truncate toward minus infinity (ap_fixed AP_TRN, the default)
    RND       round half up, toward plus infinity (ap_fixed AP_RND)
    RND_CONV  round half to even (ap_fixed AP_RND_CONV; QONNX ROUND, ONNX QuantizeLinear)
Overflow (applied when the integer part does not fit):
    WRAP     keep the low W bits (ap_fixed AP_WRAP, the default)
    SAT      clamp to the largest / smallest representable value (ap_fixed AP_SAT)
    SAT_SYM  clamp symmetrically: a signed format's most negative code is never produced
             (ap_fixed AP_SAT_SYM; QONNX narrow); the same as SAT for unsigned formats
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

Rounding = Literal["TRN", "RND", "RND_CONV"]
Overflow = Literal["WRAP", "SAT", "SAT_SYM"]
ROUNDING_MODES: tuple[str, ...] = ("TRN", "RND", "RND_CONV")
OVERFLOW_MODES: tuple[str, ...] = ("WRAP", "SAT", "SAT_SYM")

#: Widest value, in bits, that numpy int64 arithmetic handles here without risk of overflow.
INT64_SAFE_BITS = 62


class RawBounds:
    """The raw integer bounds of a value of ``width`` bits, ``signed`` or not, and the lowest
    value its ``overflow`` mode saturates to (shared by formats and the hardware's casts)."""

    width: int
    signed: bool
    overflow: str

    @property
    def min_raw(self) -> int:
        return raw_range(self.width, self.signed)[0]

    @property
    def max_raw(self) -> int:
        return raw_range(self.width, self.signed)[1]

    @property
    def saturation_low(self) -> int:
        return saturation_low(self.width, self.signed, self.overflow)


@dataclass(frozen=True)
class FixedFormat(RawBounds):
    """A fixed-point number format: ``width`` bits, ``int_bits`` of them integer (sign included)."""

    width: int
    int_bits: int
    signed: bool = True
    rounding: Rounding = "TRN"
    overflow: Overflow = "WRAP"

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"a fixed-point width must be at least 1 bit, got {self.width}")
        if self.rounding not in ROUNDING_MODES:
            raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {self.rounding!r}")
        if self.overflow not in OVERFLOW_MODES:
            raise ValueError(f"overflow must be one of {OVERFLOW_MODES}, got {self.overflow!r}")

    @property
    def frac_bits(self) -> int:
        """Number of fractional bits, W - I (may be negative)."""
        return self.width - self.int_bits

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac_bits

    @property
    def min_value(self) -> float:
        return self.min_raw * self.lsb

    @property
    def max_value(self) -> float:
        return self.max_raw * self.lsb

    def with_modes(self, rounding: Rounding | None = None, overflow: Overflow | None = None):
        """The same format with other rounding and/or overflow modes."""
        return replace(
            self, rounding=rounding or self.rounding, overflow=overflow or self.overflow
        )

    def to_float(self, raw: np.ndarray | int) -> np.ndarray:
        """Real values of raw integers in this format (float64)."""
        return np.asarray(raw).astype(np.float64) * self.lsb

    def quantize(self, values: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Raw integers for real ``values`` with this format's rounding and overflow.

        Returns ``(raw, overflowed)``; ``overflowed`` marks values outside the format's range.
        Scaling a float64 by a power of two and taking its floor are exact, so the rounding is.
        """
        scaled = np.asarray(values, dtype=np.float64) * 2.0**self.frac_bits
        if not np.all(np.isfinite(scaled)):
            raise ValueError("cannot quantize NaN or infinite values")
        integral = np.floor(scaled)
        if self.rounding == "RND":
            integral = integral + (scaled - integral >= 0.5)
        elif self.rounding == "RND_CONV":
            rest = scaled - integral
            integral = integral + ((rest > 0.5) | ((rest == 0.5) & (np.fmod(integral, 2) != 0)))
        raw = np.vectorize(int, otypes=[object])(integral) if integral.size else integral.astype(object)
        return apply_overflow(raw, self)

    def __str__(self) -> str:
        base = f"{'' if self.signed else 'u'}fixed<{self.width},{self.int_bits}"
        modes = []
        if self.rounding != "TRN" or self.overflow != "WRAP":
            modes = [self.rounding, self.overflow]
        return base + "".join(f",{mode}" for mode in modes) + ">"

    @classmethod
    def parse(cls, text: str) -> FixedFormat:
        """Parse ``fixed<16,6>``, ``ufixed<8,2,RND,SAT>``, ``ap_fixed<16,6,AP_RND>``, ``int<8>``."""
        match = _FORMAT_RE.fullmatch(text.strip().replace(" ", ""))
        if match is None:
            raise ValueError(
                f"cannot read the precision {text!r}: expected e.g. fixed<16,6>, "
                "ufixed<8,3>, fixed<16,6,RND,SAT> or int<8>"
            )
        kind, args = match.group(1), match.group(2).split(",")
        kind = kind.lower()
        signed = not kind.removeprefix("ap_").startswith("u")
        is_int = kind.endswith("int")
        numbers = [a for a in args if re.fullmatch(r"-?\d+", a)]
        modes = [mode_name(a) for a in args[len(numbers) :]]
        expected_numbers = 1 if is_int else 2
        if len(numbers) != expected_numbers or len(modes) > 2:
            raise ValueError(f"cannot read the precision {text!r}")
        width = int(numbers[0])
        int_bits = width if is_int else int(numbers[1])
        rounding, overflow = "TRN", "WRAP"
        for mode in modes:
            if mode in ROUNDING_MODES:
                rounding = mode
            elif mode in OVERFLOW_MODES:
                overflow = mode
            else:
                raise ValueError(
                    f"unknown rounding/overflow mode {mode!r} in {text!r}: "
                    f"use one of {ROUNDING_MODES + OVERFLOW_MODES}"
                )
        return cls(width, int_bits, signed, rounding, overflow)  # type: ignore[arg-type]


def mode_name(text: str) -> str:
    """A rounding or overflow mode as rtlflow writes it: ``ap_rnd``, ``AP_RND``, ``rnd`` → ``RND``."""
    return str(text).upper().removeprefix("AP_")


_FORMAT_RE = re.compile(r"((?:ap_)?u?(?:fixed|int))<([-\w,]+)>", re.IGNORECASE)


def csd_digits(value: int) -> list[tuple[int, int]]:
    """Canonical signed digits of ``value`` as (sign, power) pairs, fewest non-zero digits."""
    digits, power = [], 0
    while value:
        if value & 1:
            digit = 2 - (value & 3)  # +1 or -1
            digits.append((digit, power))
            value -= digit
        value >>= 1
        power += 1
    return digits


def saturation_low(width: int, signed: bool, overflow: str) -> int:
    """The smallest raw value a result is brought into: min_raw, or one above it under SAT_SYM."""
    low = raw_range(width, signed)[0]
    return low + 1 if overflow == "SAT_SYM" and signed else low


def raw_range(width: int, signed: bool) -> tuple[int, int]:
    """The smallest and largest raw integer of ``width`` bits."""
    if signed:
        return -(1 << (width - 1)), (1 << (width - 1)) - 1
    return 0, (1 << width) - 1


def bits_for_range(low: int, high: int, signed: bool | None = None) -> tuple[int, bool]:
    """Smallest (width, signed) whose raw range holds every integer in [low, high].

    Signedness follows the range (signed when ``low < 0``) unless ``signed`` forces it.
    """
    if low > high:
        raise ValueError(f"empty range [{low}, {high}]")
    if signed is None:
        signed = low < 0
    if signed:
        width = max(_signed_bits(low), _signed_bits(high))
    else:
        if low < 0:
            raise ValueError("an unsigned format cannot hold negative values")
        width = max(high.bit_length(), 1)
    return width, signed


def _signed_bits(value: int) -> int:
    return (value.bit_length() if value >= 0 else (-value - 1).bit_length()) + 1


def raw_dtype(width: int):
    """numpy dtype that holds raw values of ``width`` bits and their arithmetic safely."""
    return np.int64 if width <= INT64_SAFE_BITS else object


def as_raw_array(values, width: int) -> np.ndarray:
    """Raw integer array in the dtype :func:`raw_dtype` picks for ``width`` bits."""
    dtype = raw_dtype(width)
    array = np.asarray(values)
    if dtype is object:
        return np.vectorize(int, otypes=[object])(array) if array.size else array.astype(object)
    return array.astype(np.int64)


def exact(raw: np.ndarray, bits: int) -> np.ndarray:
    """``raw`` in a dtype whose arithmetic is exact for results of ``bits`` bits: int64 while
    they fit in 62 bits, Python integers beyond."""
    raw = np.asarray(raw)
    if bits <= INT64_SAFE_BITS:
        return raw if raw.dtype != object else raw.astype(np.int64)
    return raw if raw.dtype == object else raw.astype(object)


def bits_of(raw: np.ndarray) -> int:
    """Bits of the widest value in ``raw`` (with sign)."""
    raw = np.asarray(raw)
    if raw.size == 0:
        return 1
    return max(int(raw.max()).bit_length(), int(raw.min()).bit_length()) + 1


def shift_right(raw: np.ndarray, shift: int, rounding: Rounding) -> np.ndarray:
    """Drop ``shift`` fractional bits (a negative ``shift`` appends zeros) with ``rounding``."""
    raw = np.asarray(raw)
    if shift <= 0:
        return exact(raw, bits_of(raw) - shift) << -shift
    if rounding == "RND":
        raw = exact(raw, bits_of(raw) + 1) + (1 << (shift - 1))
    elif rounding == "RND_CONV":  # add half - 1 and the kept LSB: ties go to the even result
        raw = exact(raw, bits_of(raw) + 1)
        raw = raw + ((1 << (shift - 1)) - 1) + ((raw >> shift) & 1)
    return raw >> shift


def apply_overflow(raw: np.ndarray, fmt: FixedFormat) -> tuple[np.ndarray, np.ndarray]:
    """Fit raw integers (already at ``fmt``'s LSB) into ``fmt``'s width by wrapping or saturating.

    Returns ``(raw, overflowed)``.
    """
    raw = np.asarray(raw)
    raw = exact(raw, max(bits_of(raw), fmt.width + 1))
    low = fmt.saturation_low
    overflowed = (raw < low) | (raw > fmt.max_raw)
    if fmt.overflow in ("SAT", "SAT_SYM"):
        fitted = np.where(raw < low, low, np.where(raw > fmt.max_raw, fmt.max_raw, raw))
    else:
        fitted = raw & ((1 << fmt.width) - 1)
        if fmt.signed:
            fitted = fitted - ((fitted >> (fmt.width - 1)) << fmt.width)
    return np.asarray(fitted).astype(raw_dtype(fmt.width)), np.asarray(overflowed, dtype=bool)


def cast(raw: np.ndarray, frac_bits: int, fmt: FixedFormat) -> tuple[np.ndarray, np.ndarray]:
    """Convert raw integers with ``frac_bits`` fractional bits into ``fmt`` (its rounding/overflow).

    Returns ``(raw, overflowed)``.
    """
    return apply_overflow(shift_right(np.asarray(raw), frac_bits - fmt.frac_bits, fmt.rounding), fmt)


def dot_product_range(
    weights: np.ndarray,
    weight_format: FixedFormat,
    biases: np.ndarray,
    bias_format: FixedFormat,
    input_format: FixedFormat,
) -> tuple[int, int, int]:
    """``(frac, low, high)``: every dense sum for inputs in range lies in [low, high] * 2^-frac
    (interval arithmetic over the actual weights, one row per output)."""
    frac = max(input_format.frac_bits + weight_format.frac_bits, bias_format.frac_bits)
    w = weights.astype(object) * (1 << (frac - input_format.frac_bits - weight_format.frac_bits))
    b = biases.astype(object) * (1 << (frac - bias_format.frac_bits))
    low_x, high_x = input_format.min_raw, input_format.max_raw
    products_high = np.maximum(w * low_x, w * high_x)
    products_low = np.minimum(w * low_x, w * high_x)
    return frac, int(min(products_low.sum(axis=1) + b)), int(max(products_high.sum(axis=1) + b))


def dot_product_format(
    weights: np.ndarray,
    weight_format: FixedFormat,
    biases: np.ndarray,
    bias_format: FixedFormat,
    input_format: FixedFormat,
) -> FixedFormat:
    """The narrowest format that holds every dense sum exactly for any input in range."""
    frac, low, high = dot_product_range(weights, weight_format, biases, bias_format, input_format)
    return range_format(low, high, frac)


def worst_case_bits(input_format: FixedFormat, weight_format: FixedFormat, terms: int) -> int:
    """Accumulator width by worst-case bit growth: input + weight widths + log2(terms) + 1 (for
    the bias) — what a compiler that ignores the weights' values must use."""
    return input_format.width + weight_format.width + math.ceil(math.log2(max(terms, 1))) + 1


def range_format(low: int, high: int, frac: int) -> FixedFormat:
    """The narrowest format holding raw values [low, high] with ``frac`` fractional bits."""
    width, signed = bits_for_range(min(low, 0), max(high, 0))
    return FixedFormat(width, width - frac, signed)


# --------------------------------------------------------------------------------------------
# Lookup tables for non-linear functions
# --------------------------------------------------------------------------------------------

TABLE_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "erf": lambda x: np.vectorize(math.erf, otypes=[np.float64])(x),
    "exp": np.exp,
    # exp(x) - 1 for x <= 0: the negative side of ELU and SELU
    "expm1": np.expm1,
    # log(1 + exp(x)) for x <= 0: softplus(x) = relu(x) + log1p_exp(-|x|)
    "log1p_exp": lambda x: np.log1p(np.exp(x)),
    # exp(-x) for x >= 0: the softmax numerator after max subtraction (x = max - x_i)
    "exp_neg": lambda x: np.exp(-x),
    # 1/x for x > 0: the softmax normaliser
    "reciprocal": lambda x: 1.0 / np.maximum(x, 1e-300),
}


@dataclass(frozen=True)
class TableSpec:
    """A lookup table that approximates ``function`` over ``[start, start + size * step)``.

    The input is a raw integer with ``input_frac`` fractional bits. The index is
    ``clamp((raw - start_raw) >> shift, 0, size - 1)`` with ``start_raw = start * 2**input_frac``
    and ``shift = step_log2 + input_frac`` (a negative shift scales up), so inputs outside the range
    read the first or last entry. Entry ``k`` holds ``function`` at the centre of the input values
    that select it, rounded to nearest and saturated into ``output``.
    """

    function: str
    input_frac: int
    start: float
    index_bits: int
    step_log2: int
    output: FixedFormat

    def __post_init__(self) -> None:
        if self.function not in TABLE_FUNCTIONS:
            raise ValueError(f"no table function {self.function!r}")
        start_raw = self.start * 2.0**self.input_frac
        if start_raw != math.floor(start_raw):
            raise ValueError(f"table start {self.start} is not a multiple of the input LSB")

    @property
    def size(self) -> int:
        return 1 << self.index_bits

    @property
    def step(self) -> float:
        return 2.0**self.step_log2

    @property
    def stop(self) -> float:
        return self.start + self.size * self.step

    @property
    def start_raw(self) -> int:
        return int(self.start * 2**self.input_frac) if self.input_frac >= 0 else int(
            self.start / 2 ** (-self.input_frac)
        )

    @property
    def shift(self) -> int:
        return self.step_log2 + self.input_frac

    def entries(self) -> np.ndarray:
        """The raw table contents (``size`` integers in ``output``)."""
        lsb = 2.0**-self.input_frac
        centres = self.start + np.arange(self.size) * self.step + max(self.step - lsb, 0.0) / 2
        values = TABLE_FUNCTIONS[self.function](centres)
        raw, _ = self.output.with_modes("RND", "SAT").quantize(values)
        return raw

    def index(self, raw: np.ndarray) -> np.ndarray:
        """Table index for raw inputs (the computation the hardware performs)."""
        offset = np.asarray(raw) - self.start_raw
        index = offset >> self.shift if self.shift >= 0 else offset << -self.shift
        return np.clip(index, 0, self.size - 1).astype(np.int64)

    def lookup(self, raw: np.ndarray) -> np.ndarray:
        return self.entries()[self.index(raw)]

    def describe(self) -> str:
        return (
            f"{self.function} over [{self.start:g}, {self.stop:g}), {self.size} entries of "
            f"{self.output}"
        )

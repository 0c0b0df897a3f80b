"""The 1/sqrt of layer normalisation: one table read in block floating point.

Layer normalisation of n values x_j (``fxp.layer_norm``) works on exact integers: the centred
values ``d_j = n x_j - sum(x)`` (n times too large) and ``s = sum d_j^2`` (n^3 times the
variance, raw with 2f fractional bits when x has f). It needs ``r = 1 / (n sqrt(s / n^3 + eps))``
so that ``y_j = d_j r``. The variance of a row can be anything from 0 to huge, so a table over a
linear range of s would be coarse exactly where rows are nearly constant. Instead:

- ``s' = s + E`` with ``E = round(eps n^3 2^2f)``, so ``r = sqrt(n) 2^f / sqrt(s')`` exactly;
- the smallest even shift ``k`` with ``s' >> k < 2^B`` gives the mantissa ``m = s' >> k``
  (even, so the square root halves it: ``k = 2t``);
- ``T[m] = sqrt(n) 2^f / sqrt(m)`` (at the centre of the values m stands for) and
  ``r = T[m] 2^-t``, held without rounding as ``T[m] << (K/2 - t)`` with K the largest shift.

Relative precision is then about 2^-(B-2) at every variance (B = index bits), the hardware is a
comparator per possible shift, two multiplexers and one ROM read per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rtlflow.numerics.fixed_point import FixedFormat


@dataclass(frozen=True)
class RsqrtTable:
    """``r(s)`` for rows of ``count`` values with ``input_frac`` fractional bits, s at most
    ``largest`` (raw); ``2**index_bits`` entries of ``output`` (unsigned)."""

    count: int
    epsilon: float
    input_frac: int
    largest: int
    index_bits: int
    output: FixedFormat

    def __post_init__(self) -> None:
        if self.output.signed:
            raise ValueError("the 1/sqrt table holds unsigned entries")
        if self.index_bits < 3:
            raise ValueError("the 1/sqrt table needs at least 8 entries")

    @property
    def size(self) -> int:
        return 1 << self.index_bits

    @property
    def offset(self) -> int:
        """E: epsilon in the raw units of s."""
        return round(self.epsilon * self.count**3 * 2.0 ** (2 * self.input_frac))

    @property
    def max_shift(self) -> int:
        """K: the (even) shift of the largest s'."""
        top, shift = self.largest + self.offset, 0
        while top >> shift >= self.size:
            shift += 2
        return shift

    @property
    def frac_bits(self) -> int:
        """Fractional bits of r as ``lookup`` returns it."""
        return self.output.frac_bits + self.max_shift // 2

    @property
    def thresholds(self) -> tuple[int, ...]:
        """s' at or above ``thresholds[j]`` needs a shift of at least 2 (j + 1)."""
        return tuple(self.size << (2 * j) for j in range(self.max_shift // 2))

    def entries(self) -> np.ndarray:
        """Raw ``T[m]``: at m itself where only exact values read it (m < size / 4, shift 0),
        else at the centre of the range [m, m + 1) a shifted s' stands for."""
        m = np.arange(self.size, dtype=np.float64)
        centre = np.where(m < self.size // 4, np.maximum(m, 0.5), m + 0.5)
        values = math.sqrt(self.count) * 2.0**self.input_frac / np.sqrt(centre)
        raw, _ = self.output.with_modes("RND", "SAT").quantize(values)
        return raw

    def halvings(self, s: np.ndarray) -> np.ndarray:
        """t (the shift is 2t) for raw s."""
        shifted = np.asarray(s).astype(object) + self.offset
        t = np.zeros(np.shape(s), dtype=np.int64)
        for threshold in self.thresholds:
            t += (shifted >= threshold).astype(np.int64)
        return t

    def lookup(self, s: np.ndarray) -> np.ndarray:
        """Raw r (``frac_bits`` fractional bits) for raw s, as Python integers."""
        shifted = np.asarray(s).astype(object) + self.offset
        t = self.halvings(s)
        mantissa = np.vectorize(lambda v, h: int(v) >> (2 * int(h)), otypes=[object])(shifted, t)
        entries = self.entries().astype(object)
        index = np.minimum(mantissa.astype(np.int64), self.size - 1)
        half = self.max_shift // 2
        return np.vectorize(lambda e, h: int(e) << (half - int(h)), otypes=[object])(
            entries[index], t
        )

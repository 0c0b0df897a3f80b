"""Sliding-window geometry of convolution and pooling (ONNX semantics), shared by every level.

A window op over an input of spatial shape ``S`` has a kernel ``K``, strides, dilations and
explicit pads (begin and end per axis; ``auto_pad`` and ``ceil_mode`` are resolved on import).
For every output position and kernel tap the input position it reads is either inside the input,
in the zero padding, or (ceil mode only) beyond the padded input, where it does not count at all.
The importer, the float reference, the emulator and the hardware units all take their taps from
here, so they cannot disagree about which pixel feeds which output.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: tap classes in :meth:`Window.taps`
INSIDE, PADDING, BEYOND = 0, 1, 2


def output_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                dilation: int, ceil_mode: bool = False) -> int:
    """Output length of one spatial axis (ONNX Conv / pooling formula)."""
    span = dilation * (kernel - 1) + 1
    steps = (size + pad_begin + pad_end - span) / stride
    count = (math.ceil(steps) if ceil_mode else math.floor(steps)) + 1
    if ceil_mode and (count - 1) * stride >= size + pad_begin:
        count -= 1  # the last window must start inside the input or its begin padding
    return count


def auto_pads(mode: str, sizes, kernel, strides, dilations) -> list[int]:
    """Explicit pads (all begins, then all ends) for ``auto_pad`` SAME_UPPER / SAME_LOWER."""
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations, strict=True):
        out = math.ceil(size / s)
        total = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
        small = total // 2
        begin, end = (small, total - small) if mode == "SAME_UPPER" else (total - small, small)
        begins.append(begin)
        ends.append(end)
    return begins + ends


@dataclass(frozen=True)
class Window:
    """Geometry of one window op over ``input_shape`` (spatial axes only)."""

    input_shape: tuple[int, ...]
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[int, ...]  # begins then ends
    dilations: tuple[int, ...]
    output_shape: tuple[int, ...]

    @staticmethod
    def create(input_shape, kernel, strides=None, pads=None, dilations=None,
               ceil_mode: bool = False) -> Window:
        rank = len(kernel)
        strides = tuple(strides or (1,) * rank)
        dilations = tuple(dilations or (1,) * rank)
        pads = tuple(pads or (0,) * (2 * rank))
        output = tuple(
            output_size(input_shape[a], kernel[a], strides[a], pads[a], pads[rank + a],
                        dilations[a], ceil_mode)
            for a in range(rank)
        )
        if any(n < 1 for n in output):
            raise ValueError(
                f"a {list(kernel)} window does not fit the input {list(input_shape)} "
                f"(padded by {list(pads)})"
            )
        return Window(tuple(input_shape), tuple(kernel), strides, pads, dilations, output)

    @property
    def rank(self) -> int:
        return len(self.kernel)

    @property
    def taps_per_window(self) -> int:
        return math.prod(self.kernel)

    @property
    def positions(self) -> int:
        return math.prod(self.output_shape)

    @property
    def padded(self) -> bool:
        return any(self.pads)

    def streamed(self) -> Window:
        """The geometry a pixel stream runs: a padded window as the unpadded one over its padded
        input, whose padding arrives as zero beats (``padded_grid``); the same output positions
        and taps."""
        if not self.padded:
            return self
        rank = self.rank
        shape = tuple(self.input_shape[a] + self.pads[a] + self.pads[rank + a] for a in range(rank))
        window = Window.create(shape, self.kernel, self.strides, None, self.dilations)
        if window.output_shape != self.output_shape:
            raise ValueError("a window beyond its padding (ceil mode) does not stream")
        return window

    @cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        """``(index, kind)`` arrays [positions, taps]: flat input position (-1 when not inside)
        and the tap class (INSIDE, PADDING, BEYOND), outputs and taps in C order."""
        index = np.full((self.positions, self.taps_per_window), -1, dtype=np.int64)
        kind = np.full((self.positions, self.taps_per_window), INSIDE, dtype=np.int8)
        outputs = list(itertools.product(*(range(n) for n in self.output_shape)))
        taps = list(itertools.product(*(range(k) for k in self.kernel)))
        for p, out in enumerate(outputs):
            for t, tap in enumerate(taps):
                flat, state = 0, INSIDE
                for a in range(self.rank):
                    at = out[a] * self.strides[a] + tap[a] * self.dilations[a] - self.pads[a]
                    size = self.input_shape[a]
                    if at < 0 or at >= size:
                        beyond = at >= size + self.pads[self.rank + a]
                        state = max(state, BEYOND if beyond else PADDING)
                    flat = flat * size + min(max(at, 0), size - 1)
                kind[p, t] = state
                index[p, t] = flat if state == INSIDE else -1
        return index, kind

    def taps(self) -> tuple[np.ndarray, np.ndarray]:
        """``(index, kind)``: see ``_table``."""
        return self._table

    def counts(self, include_padding: bool) -> np.ndarray:
        """Per output position: the number of taps an average divides by."""
        _, kind = self._table
        counted = (kind == INSIDE) | ((kind == PADDING) if include_padding else False)
        return counted.sum(axis=1)

    def gather(self, x: np.ndarray, fill) -> np.ndarray:
        """Windows of ``x`` [..., *input_shape] as [..., positions, taps]; taps that are not
        inside the input read ``fill``."""
        index, _ = self._table
        flat = x.reshape(*x.shape[: x.ndim - self.rank], -1)
        values = flat[..., np.maximum(index, 0)]
        return np.where(index >= 0, values, np.asarray(fill, dtype=values.dtype))

    def completing(self) -> np.ndarray:
        """Per output position, the flat input position of its last tap inside the input (in
        raster order: the pixel whose arrival completes the window on a stream)."""
        index, _ = self._table
        return index.max(axis=1)


def padded_axes(shape, pads) -> list[np.ndarray]:
    """Over an input of spatial ``shape`` padded by ``pads`` (begins then ends): per axis, for
    each coordinate of the padded grid, whether it is inside the input."""
    rank = len(shape)
    axes = []
    for a in range(rank):
        axis = np.zeros(shape[a] + pads[a] + pads[rank + a], dtype=bool)
        axis[pads[a] : pads[a] + shape[a]] = True
        axes.append(axis)
    return axes


def padded_grid(shape, pads) -> np.ndarray:
    """Per position of the padded grid (``padded_axes``) in raster order, whether it is inside
    the input (else a padding beat)."""
    inside = np.ones((), dtype=bool)
    for axis in padded_axes(shape, pads):
        inside = np.logical_and.outer(inside, axis)
    return inside.reshape(-1)

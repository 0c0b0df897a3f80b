"""Data-dependent indexing: ONNX Gather, GatherElements, ScatterND and ScatterElements as maps.

Each of these ops moves elements to or from positions chosen by index values known only at run
time (the edges of a graph arriving with each event). An ``IndexMap`` describes such an op for
one static geometry: for every *moving* element (a result element of a gather, an update element
of a scatter) the flat positions of the index elements that place it, and where it lands for
each index value: ``base + sum_j normalize(index_j) * strides[j]`` in the flat data tensor.

Index values follow ONNX: ``-size <= v < 0`` counts from the end of the axis. Values outside
``[-size, size)`` are errors in ONNX; rtlflow defines them: a gather reads zero, a scatter drops
the update. So a padding edge whose index is out of range can never touch a real node.

The emulator and the hardware units both read these maps; tests check them against onnxruntime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: ways a scatter combines updates with the data (and updates landing on the same element):
#: ``none`` replaces (the last update in index order wins), ``add`` sums
SCATTER_REDUCTIONS = ("none", "add")


def normalize(values: np.ndarray, size: int) -> np.ndarray:
    """ONNX index values on an axis of ``size`` as positions 0..size-1, or -1 when outside."""
    values = np.asarray(values).astype(np.int64)
    wrapped = np.where(values < 0, values + size, values)
    return np.where((wrapped >= 0) & (wrapped < size), wrapped, -1)


def codes_for(position: int, size: int, low: int, high: int) -> tuple[int, ...]:
    """The index values in [low, high] (an index format's range) that select ``position``."""
    return tuple(v for v in (position, position - size) if low <= v <= high)


@dataclass(frozen=True)
class IndexMap:
    """Where each moving element goes (see the module docstring).

    positions : [moving, k] flat positions in the index tensor (k coordinates per element).
    base : [moving] flat data position when every index value is 0.
    strides, sizes : per coordinate, its data stride and axis size.
    """

    positions: np.ndarray
    base: np.ndarray
    strides: tuple[int, ...]
    sizes: tuple[int, ...]

    @property
    def moving(self) -> int:
        return len(self.base)

    def targets(self, indices: np.ndarray) -> np.ndarray:
        """Flat data positions ``[samples, moving]`` for index values ``[samples, *index
        shape]``; -1 where some coordinate is out of range."""
        flat = np.asarray(indices).reshape(len(indices), -1)
        target = np.broadcast_to(self.base, (len(flat), self.moving)).astype(np.int64)
        valid = np.ones(target.shape, dtype=bool)
        for j, (stride, size) in enumerate(zip(self.strides, self.sizes, strict=True)):
            coordinate = normalize(flat[:, self.positions[:, j]], size)
            valid &= coordinate >= 0
            target = target + coordinate * stride
        return np.where(valid, target, -1)

    def candidates(self, low: int, high: int) -> list[list[tuple[int, tuple[tuple[int, ...], ...]]]]:
        """For each moving element, every data position it can reach with the index values
        ``(codes per coordinate)`` in [low, high] that reach it."""
        result = []
        for base in self.base:
            choices = [(int(base), ())]
            for stride, size in zip(self.strides, self.sizes, strict=True):
                choices = [
                    (target + v * stride, (*codes, codes_for(v, size, low, high)))
                    for target, codes in choices
                    for v in range(size)
                    if codes_for(v, size, low, high)
                ]
            result.append(choices)
        return result


def _flat(shape: tuple[int, ...]) -> np.ndarray:
    return np.arange(math.prod(shape), dtype=np.int64).reshape(shape)


def _strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(math.prod(shape[a + 1 :])) for a in range(len(shape)))


def gather_shape(data: tuple[int, ...], indices: tuple[int, ...], axis: int, kind: str):
    """The result shape of Gather (``kind`` gather) or GatherElements (elements)."""
    axis %= len(data)
    if kind == "elements":
        return tuple(indices)
    return (*data[:axis], *indices, *data[axis + 1 :])


def gather_map(data: tuple[int, ...], indices: tuple[int, ...], axis: int, kind: str) -> IndexMap:
    """Gather: ``y[a, j, b] = x[a, idx[j], b]``; GatherElements: ``y[c] = x[c with c[axis] =
    idx[c]]``. The moving elements are y's, in C order."""
    axis %= len(data)
    stride = _strides(data)[axis]
    if kind == "elements":
        positions = _flat(indices).reshape(-1, 1)
        base = _elements_base(data, indices, axis).reshape(-1)
        return IndexMap(positions, base, (stride,), (data[axis],))
    shape = gather_shape(data, indices, axis, kind)
    base = np.take(_flat(data), np.zeros(indices, dtype=np.int64), axis=axis)
    index_position = np.broadcast_to(
        _flat(indices).reshape((1,) * axis + tuple(indices) + (1,) * (len(data) - axis - 1)),
        shape,
    )
    return IndexMap(
        index_position.reshape(-1, 1).copy(), base.reshape(-1), (stride,), (data[axis],)
    )


def _elements_base(data: tuple[int, ...], indices: tuple[int, ...], axis: int) -> np.ndarray:
    """For each element c of an index tensor, the flat data position of c with c[axis] = 0."""
    strides = _strides(data)
    coordinates = np.indices(indices)
    base = np.zeros(indices, dtype=np.int64)
    for a, stride in enumerate(strides):
        if a != axis:
            base += coordinates[a] * stride
    return base


def scatter_map(
    data: tuple[int, ...], indices: tuple[int, ...], axis: int, kind: str
) -> IndexMap:
    """ScatterElements (``kind`` elements): update c lands on data[c with c[axis] = idx[c]].
    ScatterND (nd): indices [..., k], update (q, r) lands on data[idx[q, 0..k-1], r]. The moving
    elements are the updates, in C order."""
    if kind == "elements":
        axis %= len(data)
        positions = _flat(indices).reshape(-1, 1)
        base = _elements_base(data, indices, axis).reshape(-1)
        return IndexMap(positions, base, (_strides(data)[axis],), (data[axis],))
    k = indices[-1]
    rest = data[k:]
    outer = math.prod(indices[:-1])
    index_positions = _flat(indices).reshape(outer, k)
    per_update = math.prod(rest)
    positions = np.repeat(index_positions, per_update, axis=0)
    base = np.tile(np.arange(per_update, dtype=np.int64), outer)
    return IndexMap(positions, base, _strides(data)[:k], tuple(data[:k]))


def scatter_updates_shape(data: tuple[int, ...], indices: tuple[int, ...], kind: str):
    """The shape ONNX requires of the updates."""
    if kind == "elements":
        return tuple(indices)
    return (*indices[:-1], *data[indices[-1] :])


def samples_aligned(*arrays: np.ndarray) -> list[np.ndarray]:
    """Batched operands with one common sample count (constants carry a sample axis of 1)."""
    samples = max(len(a) for a in arrays)
    return [np.broadcast_to(a, (samples, *np.shape(a)[1:])) for a in arrays]


def gather(data: np.ndarray, indices: np.ndarray, index_map: IndexMap, shape, zero=0) -> np.ndarray:
    """Batched gather by ``index_map``: ``data`` [samples, ...]; out-of-range reads ``zero``."""
    flat = data.reshape(len(data), -1)
    targets = index_map.targets(indices)
    picked = np.take_along_axis(flat, np.maximum(targets, 0), axis=1)
    picked = np.where(targets >= 0, picked, np.asarray(zero, dtype=flat.dtype))
    return picked.reshape((len(data), *shape))


def scatter(
    data: np.ndarray, indices: np.ndarray, updates: np.ndarray, index_map: IndexMap, reduction: str
) -> np.ndarray:
    """Batched scatter by ``index_map``: ``data`` [samples, ...] (a copy is returned); updates
    with an out-of-range index are dropped; with ``none`` the last update to an element wins."""
    out = np.array(data, copy=True)
    flat = out.reshape(len(out), -1)
    values = np.asarray(updates).reshape(len(updates), -1)
    targets = index_map.targets(indices)
    rows = np.arange(len(flat))
    for u in range(index_map.moving):
        hit = targets[:, u] >= 0
        where = targets[hit, u]
        if reduction == "add":
            flat[rows[hit], where] = flat[rows[hit], where] + values[hit, u]
        else:
            flat[rows[hit], where] = values[hit, u]
    return flat.reshape(out.shape)

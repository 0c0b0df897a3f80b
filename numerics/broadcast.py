"""Constants broadcast over a tensor, read back as one value per channel or per feature."""

from __future__ import annotations

import numpy as np


def per_channel(constant: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``constant`` (of ``shape`` [N, C, ...]) as one value per channel, if it is one."""
    if len(shape) < 2:
        return None
    full = np.broadcast_to(constant, shape).reshape(shape[0], shape[1], -1)
    first = full[0, :, :1]
    return full[0, :, 0].copy() if np.all(full == first[np.newaxis]) else None


def per_feature(constant: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``constant`` as one value per last-axis feature of ``shape``, if it broadcasts as such."""
    try:
        full = np.broadcast_to(constant, shape)
    except ValueError:
        return None
    if np.broadcast_shapes(constant.shape, shape) != tuple(shape):
        return None
    rows = full.reshape(-1, shape[-1]) if shape else full.reshape(1, 1)
    return rows[0].copy() if np.all(rows == rows[0]) else None

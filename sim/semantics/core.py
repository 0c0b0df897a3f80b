"""Reference semantics, shared: the fixed-point cast every fxp op ends with (and the overflow
count it keeps), axes behind the leading sample axis."""

from __future__ import annotations

from collections import Counter

import numpy as np

from rtlflow.dialects import fxp
from rtlflow.numerics.fixed_point import FixedFormat, cast


def batched_axis(op_axis: int, rank: int) -> int:
    """The axis of an op, shifted past the leading sample axis."""
    return (op_axis % rank) + 1


class FixedCore:
    """The cast into a result format; ``overflows`` counts, per node, samples that overflowed
    (not counting the model's own quantizers, whose saturation is part of the model)."""

    def __init__(self) -> None:
        self.overflows: Counter[str] = Counter()

    def _cast(
        self, op: fxp.FxpOp, raw: np.ndarray, frac_bits: int, fmt: FixedFormat, result: bool = False
    ):
        """``raw`` cast into ``fmt``; ``result``: the cast into a layer's result format."""
        result_raw, overflowed = cast(raw, frac_bits, fmt)
        # a quantizer saturates by design: the model's own, or one folded into the layer
        quantizer = isinstance(op, fxp.CastOp) or (result and fxp.QUANTIZED in op.attributes)
        if overflowed.any() and not quantizer:
            samples = overflowed.reshape(overflowed.shape[0], -1).any(axis=1)
            self.overflows[op.node_name] += int(samples.sum())
        return result_raw

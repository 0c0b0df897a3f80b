"""nn → fxp lowering, windows: convolution (weighted like dense) and pooling (average as a sum
times 1 / taps)."""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import StringAttr

from rtlflow.config import LayerConfig
from rtlflow.dialects import fxp, nn
from rtlflow.dialects.arrays import dense_from_numpy
from rtlflow.lowering.common import FamilyPattern, lowers, window_properties
from rtlflow.lowering.precision import DEFAULT_AVERAGE_SCALE
from rtlflow.numerics.fixed_point import FixedFormat



class Windows(FamilyPattern):
    """Convolution and pooling."""

    @lowers(nn.ConvOp)
    def conv(self, op: nn.ConvOp, layer: LayerConfig, result: FixedFormat) -> fxp.ConvOp:
        return fxp.ConvOp(
            self.input(op),
            self.result_type(op, result),
            op.node_name,
            **self.weighted(op, layer),
            group=op.group,
            style=StringAttr("parallel"),
            **window_properties(op),
        )

    @lowers(nn.PoolOp)
    def pool(self, op: nn.PoolOp, layer: LayerConfig, result: FixedFormat) -> fxp.PoolOp:
        if op.kind.data == "average":
            scales, scale_format = self.lowering.average_scales(op, layer)
        else:
            scale_format = layer.weight or DEFAULT_AVERAGE_SCALE
            scales = np.ones(op.window.positions, dtype=np.int64)
        return fxp.PoolOp(
            self.input(op),
            self.result_type(op, result),
            op.node_name,
            kind=op.kind,
            scale=dense_from_numpy(scales),
            scale_type=fxp.FixedType.from_format(scale_format),
            style=StringAttr("parallel"),
            **window_properties(op),
        )

"""nn → fxp lowering, routing: reshapes, transposes, padding, concatenation, broadcasts, and
gathers and scatters by constant or run-time indices."""

from __future__ import annotations

import math

import numpy as np
from xdsl.ir import SSAValue

from rtlflow.config import LayerConfig
from rtlflow.dialects import fxp, nn
from rtlflow.dialects.arrays import dense_from_numpy, int_array
from rtlflow.errors import RtlflowError
from rtlflow.lowering.common import FamilyPattern, lowers, quantize_constant
from rtlflow.numerics.fixed_point import FixedFormat, range_format
from rtlflow.numerics.indexing import gather_map
from rtlflow.numerics.quantization import exact_format


class Routing(FamilyPattern):
    """Ops that move data."""

    def moved(self, op: nn.NnOp, fxp_op: type, **properties):
        """``op`` as ``fxp_op``, which moves the input's elements in its format (a MovesData op)."""
        x = self.input(op)
        result = fxp.fixed_tensor(nn.shape_of(op.results[0]), fxp.tensor_format(x))
        return fxp_op(x, result, op.node_name, **properties)

    @lowers(nn.ReshapeOp)
    def reshape(self, op: nn.ReshapeOp, layer: LayerConfig, result: FixedFormat):
        return self.moved(op, fxp.ReshapeOp)

    @lowers(nn.TransposeOp)
    def transpose(self, op: nn.TransposeOp, layer: LayerConfig, result: FixedFormat):
        return self.moved(op, fxp.TransposeOp, perm=op.perm)

    @lowers(nn.PadOp)
    def pad(self, op: nn.PadOp, layer: LayerConfig, result: FixedFormat):
        return self.moved(op, fxp.PadOp, pads=op.pads)

    @lowers(nn.ConcatOp)
    def concat(self, op: nn.ConcatOp, layer: LayerConfig, result: FixedFormat):
        if not all(self.converted(v) for v in op.operands):
            return self.concat_constants(op)
        inputs = [self.value(v) for v in op.operands]
        return fxp.ConcatOp(inputs, self.result_type(op, result), op.node_name, axis=op.axis)

    @lowers(nn.ExpandOp)
    def expand(self, op: nn.ExpandOp, layer: LayerConfig, result: FixedFormat):
        shape = nn.shape_of(op.input)
        numbered = np.arange(math.prod(shape)).reshape(shape)
        return self.take(op, self.input(op), np.broadcast_to(numbered, nn.shape_of(op.output)))

    def take(self, op: nn.NnOp, x: SSAValue, sources: np.ndarray) -> fxp.TakeOp:
        shape = nn.shape_of(op.results[0])
        return fxp.TakeOp(
            x,
            fxp.fixed_tensor(shape, fxp.tensor_format(x)),
            op.node_name,
            sources=int_array([int(v) for v in np.asarray(sources).reshape(-1)]),
        )

    def concat_constants(self, op: nn.ConcatOp) -> fxp.TakeOp:
        """One activation concatenated with constants (a class token): the activation's
        elements moved into place, the constants (rounded into its format) filled in."""
        activations = [v for v in op.operands if self.converted(v)]
        if len(activations) != 1:
            raise RtlflowError(
                "a concatenation of constants with several activations is not supported",
                node=op.node_name,
                op="concat",
            )
        fmt = fxp.tensor_format(self.value(activations[0]))
        axis = op.axis.value.data % len(nn.shape_of(op.output))
        sources, constants = [], []
        for value in op.operands:
            shape = nn.shape_of(value)
            if self.converted(value):
                sources.append(np.arange(math.prod(shape)).reshape(shape))
                constants.append(np.zeros(shape, dtype=np.int64))
            else:
                sources.append(np.full(shape, -1))
                values = np.broadcast_to(nn.constant_value(value), shape)
                constants.append(quantize_constant(values, fmt.with_modes("RND"), op, "constant"))
        sources = np.concatenate(sources, axis=axis).reshape(-1)
        fill = np.concatenate(constants, axis=axis).reshape(-1)[sources < 0]
        take = self.take(op, self.value(activations[0]), sources)
        take.properties["fill"] = int_array([int(v) for v in fill])
        return take

    @lowers(nn.GatherOp)
    def gather(self, op: nn.GatherOp, layer: LayerConfig, result: FixedFormat):
        axis, kind = op.axis.value.data, op.kind.data
        index_map = gather_map(nn.shape_of(op.data), nn.shape_of(op.indices), axis, kind)
        indices = nn.constant_value(op.indices)
        if not self.converted(op.data):
            raise RtlflowError(
                "gathering from a constant table by run-time indices is not supported yet",
                node=op.node_name,
                op="gather",
            )
        if indices is not None:  # moves fixed elements: wiring
            return self.take(op, self.value(op.data), index_map.targets(indices[np.newaxis])[0])
        data = self.value(op.data)
        return fxp.GatherOp(
            [data, self.value(op.indices)],
            fxp.fixed_tensor(nn.shape_of(op.output), fxp.tensor_format(data)),
            op.node_name,
            axis=op.axis,
            kind=op.kind,
        )

    @lowers(nn.ScatterOp)
    def scatter(self, op: nn.ScatterOp, layer: LayerConfig, result: FixedFormat) -> fxp.ScatterOp:
        for value, what in ((op.indices, "indices"), (op.updates, "updates")):
            if not self.converted(value):
                raise RtlflowError(
                    f"a scatter with constant {what} is not supported",
                    node=op.node_name,
                    op="scatter",
                )
        indices, updates = self.value(op.indices), self.value(op.updates)
        fu = fxp.tensor_format(updates)
        initial = nn.constant_value(op.data)
        fd = fxp.tensor_format(self.value(op.data)) if initial is None else exact_format(initial)
        if fd is None:
            raise RtlflowError(
                "the scatter's constant data must be exact in fixed point",
                node=op.node_name,
                op="scatter",
            )
        frac = max(fu.frac_bits, fd.frac_bits)
        update_low, update_high = (v << (frac - fu.frac_bits) for v in (fu.min_raw, fu.max_raw))
        data_low, data_high = (v << (frac - fd.frac_bits) for v in (fd.min_raw, fd.max_raw))
        if op.reduction.data == "none":  # every result is the data or an update: their union
            result = range_format(min(update_low, data_low), max(update_high, data_high), frac)
        elif self.derived(op):
            hits = most_hits(op)
            result = range_format(
                data_low + hits * min(update_low, 0), data_high + hits * max(update_high, 0), frac
            ).with_modes(self.precision.rounding, self.precision.overflow)
        properties = {"axis": op.axis, "kind": op.kind, "reduction": op.reduction}
        inputs = [indices, updates]
        if initial is None:
            inputs.append(self.value(op.data))
        else:
            raw = quantize_constant(
                np.broadcast_to(initial, nn.shape_of(op.output)), result, op, "data"
            )
            properties["initial"] = dense_from_numpy(raw)
        return fxp.ScatterOp(inputs, self.result_type(op, result), op.node_name, **properties)


def most_hits(op: nn.ScatterOp) -> int:
    """The most updates that can land on one element of a scatter's result."""
    indices = nn.shape_of(op.indices)
    if op.kind.data == "nd":
        return math.prod(indices[:-1])
    return indices[op.axis.value.data]

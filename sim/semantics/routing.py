"""Reference semantics of the op family: constants, reshapes, transposes, concatenation,
padding, Expand, constant takes, Gather and Scatter.

Float on the nn level (checked against onnxruntime), bit-exact on the fxp level (the emulator,
the golden model of the RTL)."""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import Interpreter, PythonValues, impl

from rtlflow.dialects import fxp, nn
from rtlflow.numerics.fixed_point import exact
from rtlflow.numerics.indexing import gather, gather_map, samples_aligned, scatter, scatter_map
from rtlflow.sim.semantics.core import batched_axis


class FloatRouting:
    """nn ops: float64 numpy, a leading sample axis."""

    @impl(nn.ConstantOp)
    def run_constant(self, interpreter: Interpreter, op: nn.ConstantOp, args: PythonValues):
        return (op.array[np.newaxis].astype(np.float64),)

    @impl(nn.ReshapeOp)
    def run_reshape(self, interpreter: Interpreter, op: nn.ReshapeOp, args: PythonValues):
        x = args[0]
        return (x.reshape((x.shape[0], *nn.shape_of(op.output))),)

    @impl(nn.TransposeOp)
    def run_transpose(self, interpreter: Interpreter, op: nn.TransposeOp, args: PythonValues):
        return (np.transpose(args[0], (0, *(p + 1 for p in op.permutation))),)

    @impl(nn.ConcatOp)
    def run_concat(self, interpreter: Interpreter, op: nn.ConcatOp, args: PythonValues):
        rank = len(nn.shape_of(op.output))
        parts = samples_aligned(*args)  # constant parts (a class token) serve every sample
        return (np.concatenate(parts, axis=batched_axis(op.axis.value.data, rank)),)

    @impl(nn.PadOp)
    def run_pad(self, interpreter: Interpreter, op: nn.PadOp, args: PythonValues):
        pads = op.amounts
        rank = len(pads) // 2
        widths = [(0, 0)] + [(pads[a], pads[rank + a]) for a in range(rank)]
        return (np.pad(args[0], widths),)

    @impl(nn.ExpandOp)
    def run_expand(self, interpreter: Interpreter, op: nn.ExpandOp, args: PythonValues):
        x, shape = args[0], nn.shape_of(op.output)
        x = x.reshape((x.shape[0], *(1,) * (len(shape) - len(nn.shape_of(op.input))), *x.shape[1:]))
        return (np.broadcast_to(x, (x.shape[0], *shape)).copy(),)

    @impl(nn.GatherOp)
    def run_gather(self, interpreter: Interpreter, op: nn.GatherOp, args: PythonValues):
        data, indices = samples_aligned(*args)
        shape = nn.shape_of(op.output)
        index_map = gather_map(nn.shape_of(op.data), nn.shape_of(op.indices), op.axis.value.data,
                               op.kind.data)
        return (gather(data, indices, index_map, shape),)

    @impl(nn.ScatterOp)
    def run_scatter(self, interpreter: Interpreter, op: nn.ScatterOp, args: PythonValues):
        data, indices, updates = samples_aligned(*args)
        index_map = scatter_map(nn.shape_of(op.data), nn.shape_of(op.indices),
                                op.axis.value.data, op.kind.data)
        return (scatter(data, indices, updates, index_map, op.reduction.data),)


class FixedRouting:
    """fxp ops: raw integers, a leading sample axis; exact, then one cast (``FixedCore``)."""

    @impl(fxp.TransposeOp)
    def run_transpose(self, interpreter: Interpreter, op: fxp.TransposeOp, args: PythonValues):
        return (np.transpose(args[0], (0, *(p + 1 for p in op.permutation))),)

    @impl(fxp.PadOp)
    def run_pad(self, interpreter: Interpreter, op: fxp.PadOp, args: PythonValues):
        pads = op.amounts
        rank = len(pads) // 2
        return (np.pad(args[0], [(0, 0)] + [(pads[a], pads[rank + a]) for a in range(rank)]),)

    @impl(fxp.ConcatOp)
    def run_concat(self, interpreter: Interpreter, op: fxp.ConcatOp, args: PythonValues):
        parts = [
            self._cast(op, np.asarray(x), fmt.frac_bits, op.output_format)
            for x, fmt in zip(args, op.input_formats, strict=True)
        ]
        axis = batched_axis(op.axis.value.data, len(fxp.tensor_shape(op.output)))
        return (np.concatenate(parts, axis=axis),)

    @impl(fxp.ReshapeOp)
    def run_reshape(self, interpreter: Interpreter, op: fxp.ReshapeOp, args: PythonValues):
        x = args[0]
        return (x.reshape((x.shape[0], *fxp.tensor_shape(op.output))),)

    @impl(fxp.TakeOp)
    def run_take(self, interpreter: Interpreter, op: fxp.TakeOp, args: PythonValues):
        flat = np.asarray(args[0]).reshape(len(args[0]), -1)
        sources = np.asarray(op.source_list)
        constants = np.zeros(len(sources), dtype=np.int64)
        if op.fill_list:
            constants[sources < 0] = op.fill_list
        picked = np.where(sources >= 0, flat[:, np.maximum(sources, 0)], constants)
        return (picked.astype(flat.dtype).reshape((len(flat), *fxp.tensor_shape(op.output))),)

    @impl(fxp.GatherOp)
    def run_gather(self, interpreter: Interpreter, op: fxp.GatherOp, args: PythonValues):
        data, indices = args
        return (gather(np.asarray(data), indices, op.index_map, fxp.tensor_shape(op.output)),)

    @impl(fxp.ScatterOp)
    def run_scatter(self, interpreter: Interpreter, op: fxp.ScatterOp, args: PythonValues):
        indices, updates = args[0], np.asarray(args[1])
        formats, out = op.input_formats, op.output_format
        if len(args) == 3:
            data, fd = np.asarray(args[2]), formats[2]
        else:
            shape = (len(updates), *fxp.tensor_shape(op.output))
            data, fd = np.broadcast_to(op.initial_values, shape), out
        fu = formats[1]
        frac = max(fd.frac_bits, fu.frac_bits)
        bits = max(fd.width + frac - fd.frac_bits, fu.width + frac - fu.frac_bits)
        bits += op.index_map.moving.bit_length() + 1
        data = exact(data, bits) << (frac - fd.frac_bits)
        updates = exact(updates, bits) << (frac - fu.frac_bits)
        result = scatter(data, indices, updates, op.index_map, op.reduction.data)
        return (self._cast(op, result, frac, out),)

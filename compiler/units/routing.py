"""Hardware units, units that move data: transposes, padding, concatenation, constant takes, and the
run-time gathers and scatters."""

from __future__ import annotations

import math

from rtlflow.demand import route_sources
from rtlflow.dialects import circuit, fxp
from rtlflow.numerics.fixed_point import FixedFormat
from rtlflow.numerics.indexing import IndexMap
from rtlflow.rtl.index import GatherUnit, ScatterUnit
from rtlflow.rtl.route import RouteUnit
from rtlflow.rtl.stream import StreamPadUnit
from rtlflow.units.core import UnitSpec, builds, cast_into, shape_of


@builds(fxp.TransposeOp, fxp.PadOp, fxp.ConcatOp, fxp.TakeOp)
def _route(op) -> UnitSpec:
    """Transpose, pad and concat: which input element every output element is."""
    if isinstance(op, fxp.PadOp) and circuit.beats_of(op) > 1:
        return _stream_pad(op)
    values = list(op.inputs) if isinstance(op, fxp.MultiInputOp) else [op.input]
    formats = [fxp.tensor_format(v) for v in values]
    sizes = [math.prod(fxp.tensor_shape(v)) for v in values]
    sources = route_sources(op)
    out = op.output_format
    casts = tuple(None if fmt == out else cast_into(out, fmt.frac_bits) for fmt in formats)
    kind = op.name.removeprefix("fxp.")
    return UnitSpec(
        kind,
        str(sources.size),
        RouteUnit,
        {
            "input_groups": tuple((shape_of(f), n) for f, n in zip(formats, sizes, strict=True)),
            "sources": tuple(int(v) for v in sources.reshape(-1)),
            "casts": casts,
            "output_shape": shape_of(out),
            "fill": op.fill_list if isinstance(op, fxp.TakeOp) else (),
        },
    )


def _stream_pad(op: fxp.PadOp) -> UnitSpec:
    """A pad on a pixel stream: the border's zero beats inserted into it (holding the design
    input, or buffering the pixels that arrive meanwhile: ``circuit.fifo_depths``)."""
    shape = fxp.tensor_shape(op.input)
    fifo = sum(circuit.fifo_depths(op))
    return UnitSpec(
        "stream_pad",
        f"{'x'.join(map(str, shape[1:]))}_{'_'.join(map(str, op.spatial_pads))}_f{fifo}",
        StreamPadUnit,
        {
            "shape": shape_of(op.input_format),
            "channels": shape[1],
            "image": tuple(shape[2:]),
            "pads": op.spatial_pads,
            "fifo": fifo,
        },
    )


def _reach(index_map: IndexMap, index_format: FixedFormat) -> list[list[tuple]]:
    """Per moving element, its choices (``rtlflow.rtl.index.Choice``): every flat data
    position it can reach, with the index values (of ``index_format``) that take it there."""
    low, high = index_format.min_raw, index_format.max_raw
    return [
        [
            (target, tuple(zip((int(p) for p in index_map.positions[u]), codes, strict=True)))
            for target, codes in options
        ]
        for u, options in enumerate(index_map.candidates(low, high))
    ]


@builds(fxp.GatherOp)
def _gather(op: fxp.GatherOp) -> UnitSpec:
    data, indices = op.inputs
    fd, fi = op.input_formats
    count = math.prod(fxp.tensor_shape(op.output))
    return UnitSpec(
        "gather",
        f"{count}of{math.prod(fxp.tensor_shape(data))}",
        GatherUnit,
        {
            "data_shape": shape_of(fd),
            "data_count": math.prod(fxp.tensor_shape(data)),
            "index_shape": shape_of(fi),
            "index_count": math.prod(fxp.tensor_shape(indices)),
            "choices": tuple(tuple(c) for c in _reach(op.index_map, fi)),
        },
    )


@builds(fxp.ScatterOp)
def _scatter(op: fxp.ScatterOp) -> UnitSpec:
    formats, out = op.input_formats, op.output_format
    fi, fu = formats[0], formats[1]
    fd = formats[2] if len(formats) == 3 else out
    frac = max(fu.frac_bits, fd.frac_bits)
    count = math.prod(fxp.tensor_shape(op.output))
    landing: dict[int, list] = {}  # per result element, the updates that can land on it
    for u, options in enumerate(_reach(op.index_map, fi)):
        for target, conditions in options:
            landing.setdefault(target, []).append((u, conditions))
    initial = op.initial_values
    sizes = [math.prod(fxp.tensor_shape(v)) for v in op.inputs]
    return UnitSpec(
        f"scatter_{op.reduction.data}",
        f"{sizes[1]}to{count}",
        ScatterUnit,
        {
            "index_shape": shape_of(fi),
            "index_count": sizes[0],
            "update_shape": shape_of(fu),
            "update_count": sizes[1],
            "data_shape": shape_of(fd),
            "data_count": sizes[2] if len(sizes) == 3 else 0,
            "choices": tuple(tuple(landing.get(t, ())) for t in range(count)),
            "reduction": op.reduction.data,
            "shifts": (frac - fu.frac_bits, frac - fd.frac_bits),
            "initial": ()
            if initial is None
            else tuple(int(v) << (frac - fd.frac_bits) for v in initial.reshape(-1)),
            "casts": (cast_into(out, frac),),
        },
    )

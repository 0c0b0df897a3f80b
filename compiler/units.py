"""How each hardware-level op is built: its rtl unit class and that unit's integer parameters.

This is the one place that turns fixed-point semantics (formats, LSB alignment, casts) into the
plain integers the rtl units take, so the scheduling pass, the resource estimate and Verilog
emission all build exactly the same unit.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from amaranth.hdl import Shape, signed, unsigned
from xdsl.ir import Operation

from rtlflow.dialects import circuit, fxp, shiftadd
from rtlflow.dialects.traits import RowFoldable
import numpy as np

from rtlflow.errors import RtlflowError
from rtlflow.numerics.broadcast import per_channel
from rtlflow.rtl.activation import ActivationUnit
from rtlflow.rtl.adder_graph import AdderGraphUnit
from rtlflow.rtl.add import AddUnit
from rtlflow.rtl.arith import Cast
from rtlflow.rtl.conv import ConvUnit
from rtlflow.rtl.delay import DelayUnit
from rtlflow.rtl.dense import DenseUnit
from rtlflow.rtl.fold import FoldedUnit
from rtlflow.rtl.index import GatherUnit, ScatterUnit
from rtlflow.rtl.layer_norm import LayerNormUnit
from rtlflow.rtl.matmul import MatMulUnit
from rtlflow.rtl.pipeline import Plan, Unit
from rtlflow.rtl.pool import PoolUnit
from rtlflow.rtl.route import RouteUnit
from rtlflow.rtl.scale_shift import ScaleShiftUnit
from rtlflow.rtl.stream import CollectUnit, StreamWindowUnit
from rtlflow.rtl.softmax import SoftmaxUnit
from rtlflow.rtl.table import TableUnit
from rtlflow.rtl.threshold import ThresholdUnit
from rtlflow.numerics.fixed_point import FixedFormat, dot_product_format
from rtlflow.numerics.indexing import IndexMap


@dataclass(frozen=True, eq=False)
class UnitSpec:
    """An rtl unit class with its parameters (registers aside)."""

    kind: str
    summary: str
    unit_class: type[Unit]
    params: dict[str, Any]

    def build(self, registers: frozenset[int] | tuple[int, ...] = (), stall: bool = False) -> Unit:
        """The unit; ``stall``: with an ``en`` input holding every register (backpressure)."""
        extra = {"stall": True} if stall else {}
        if self.unit_class in (DelayUnit, CollectUnit):
            return self.unit_class(**self.params, **extra)
        return self.unit_class(**self.params, registers=frozenset(registers), **extra)

    def plan(self) -> Plan:
        """The unit's plan (steps, forced boundaries), from a unit built only to be asked."""
        unit = self.build()
        unit._MustUse__silence = True  # never elaborated
        return unit.plan

    def module_name(self, registers: frozenset[int] | tuple[int, ...] = (), stall: bool = False) -> str:
        """A deterministic Verilog module name: identical units get identical names."""
        key = repr((self.unit_class.__name__, sorted(self.params.items()), sorted(registers)))
        key += " stall" if stall else ""
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        return f"{self.kind}_{self.summary}_{digest}"


def shape_of(fmt: FixedFormat) -> Shape:
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)


def cast_into(fmt: FixedFormat, from_frac: int) -> Cast:
    """The cast from a value with ``from_frac`` fractional bits into ``fmt``."""
    return Cast(from_frac - fmt.frac_bits, fmt.rounding, fmt.overflow, fmt.width, fmt.signed)


def unit_spec(op: Operation) -> UnitSpec:
    """The unit that implements a ``circuit.unit`` (by its inner op) or a ``circuit.delay``."""
    if isinstance(op, circuit.DelayOp):
        fmt = fxp.tensor_format(op.input)
        count = math.prod(fxp.tensor_shape(op.input))
        return UnitSpec(
            "delay",
            f"{count}x{fmt.width}b_{op.cycles.value.data}c",
            DelayUnit,
            {"shape": shape_of(fmt), "count": count, "cycles": op.cycles.value.data},
        )
    if isinstance(op, circuit.CollectOp):
        fmt = fxp.tensor_format(op.input)
        channels = fxp.tensor_shape(op.input)[1]
        beats = op.beats.value.data
        return UnitSpec(
            "collect",
            f"{beats}x{channels}",
            CollectUnit,
            {"shape": shape_of(fmt), "channels": channels, "beats": beats},
        )
    if isinstance(op, circuit.UnitOp):
        if op.graph is not None:
            return adder_graph_spec(op)
        op = op.inner
    if isinstance(op, fxp.WindowOp) and op.style.data == "stream":
        return _stream_window(op)
    builder = _BUILDERS.get(type(op))
    if builder is None:
        raise NotImplementedError(f"no hardware unit for {op.name}")
    spec = builder(op)
    reuse = op.reuse_factor.value.data if op.has_trait(RowFoldable) and op.reuse_factor else 1
    return _folded(op, spec, reuse) if reuse > 1 else spec


#: the unit attribute naming the carry primitive that builds ternary adders (none: plain sums)
CARRY = "circuit.carry"


def graph_node(op: shiftadd.ScheduledOp, number: dict) -> tuple:
    """A ``shiftadd`` op as an ``AdderGraphUnit`` node; ``number``: the index of each value."""
    if isinstance(op, shiftadd.AddOp):
        node = ("add", tuple((number[v], s, n) for v, s, n in op.terms), op.constant.value.data)
    elif isinstance(op, shiftadd.MultiplyOp):
        node = ("multiply", number[op.value], op.constant.value.data)
    else:
        assert isinstance(op, shiftadd.CastOp)
        cast = (op.shift.value.data, op.rounding.data, op.overflow.data, op.width.value.data,
                bool(op.is_signed.value.data))
        node = ("cast", number[op.value], cast, op.rounded is not None)
    return (*node, *shiftadd.bounds(op.results[0]), op.cycle_number)


def adder_graph_spec(unit: circuit.UnitOp) -> UnitSpec:
    """The ``AdderGraphUnit`` of a unit's ``shiftadd`` implementation, its cycles included."""
    block = unit.graph
    assert block is not None
    number = {arg: i for i, arg in enumerate(block.args)}
    nodes = []
    for op in block.ops:
        if not isinstance(op, shiftadd.ScheduledOp):
            break
        nodes.append(graph_node(op, number))
        number[op.results[0]] = len(number)
    outputs = tuple(number[v] for v in block.last_op.operands)  # type: ignore[union-attr]
    inner = unit.inner
    rows = math.prod(fxp.tensor_shape(inner.input)[:-1]) if isinstance(inner, fxp.DenseOp) else 1
    carry = unit.attributes.get(CARRY)
    shape = fxp.tensor_shape(inner.input)
    kind = "dense" if isinstance(inner, fxp.DenseOp) else "conv"
    summary = f"{shape[-1]}x{fxp.tensor_shape(inner.output)[-1]}" if kind == "dense" else (
        f"{'x'.join(map(str, shape[1:]))}_{fxp.tensor_shape(inner.output)[1]}c")
    return UnitSpec(
        kind,
        f"{summary}_sa",
        AdderGraphUnit,
        {
            "input_shape": shape_of(inner.input_format),
            "inputs": tuple(shiftadd.bounds(arg) for arg in block.args),
            "nodes": tuple(nodes),
            "outputs": outputs,
            "output_shape": shape_of(inner.output_format),
            "rows": rows,
            "cycles": max((n[-1] for n in nodes), default=0),
            "carry": carry.data if carry is not None else None,
        },
    )


def row_spec(spec: UnitSpec) -> UnitSpec | None:
    """The unit of one row, when ``spec`` computes several rows alike (a dense layer's adder
    graph over the rows of its input): the Verilog then instances one row module per row
    (``rtlflow.rtl.rows.RowsUnit``) instead of repeating the row's logic. None otherwise."""
    if spec.unit_class is not AdderGraphUnit or spec.params["rows"] == 1:
        return None
    return UnitSpec(spec.kind, f"{spec.summary}_row", AdderGraphUnit, spec.params | {"rows": 1})


def _folded(op: Operation, spec: UnitSpec, reuse: int) -> UnitSpec:
    """``spec`` time-multiplexed over its rows in about ``reuse`` phases (``FoldedUnit``);
    ``spec`` itself when there is a single phase."""
    params = dict(spec.params)
    if isinstance(op, fxp.MatMulOp):
        plan = _matmul_phases(op, params, reuse)
    else:  # softmax, layer_norm: rows of n elements, the same logic for every row
        rows, n = params["rows"], params["n"]
        per_phase = -(-rows // reuse)
        phases = -(-rows // per_phase)
        params["rows"] = per_phase
        elements = [
            [row * n + j if row < rows else -1 for row in range(p * per_phase, (p + 1) * per_phase)
             for j in range(n)]
            for p in range(phases)
        ]
        plan = (params, ((params["input_shape"], rows * n),), elements, elements)
    inner_params, groups, sources, destinations = plan
    if len(sources) < 2:
        return spec
    inner = (spec.unit_class, tuple(sorted(inner_params.items())))
    count = math.prod(fxp.tensor_shape(op.results[0]))
    return UnitSpec(
        spec.kind,
        f"{spec.summary}_f{len(sources)}",
        FoldedUnit,
        {
            "inner": inner,
            "input_groups": groups,
            "sources": tuple(tuple(s) for s in sources),
            "destinations": tuple(tuple(d) for d in destinations),
            "output_count": count,
        },
    )


def _matmul_phases(op: fxp.MatMulOp, params: dict, reuse: int):
    """Result rows split into phases of equal structure: each phase's rows lie in one batch
    (padded per batch), so every phase reads its rows of a and one batch of b."""
    shape = fxp.tensor_shape(op.output)
    columns = shape[-1]
    rows_per_batch = shape[-2] if len(shape) >= 2 else 1
    batches = math.prod(fxp.tensor_shape(op.output)) // (columns * rows_per_batch)
    per_phase = min(rows_per_batch, -(-batches * rows_per_batch // reuse))
    padded = -(-rows_per_batch // per_phase) * per_phase
    pairs = params["pairs"]
    a_count = params["a_count"]
    sources, destinations, local_pairs = [], [], None
    for p in range(batches * padded // per_phase):
        batch, first = divmod(p * per_phase, padded)
        a_local: dict[int, int] = {}
        b_local: dict[int, int] = {}
        phase_pairs, outputs = [], []
        for row in range(first, first + per_phase):
            for column in range(columns):
                if row >= rows_per_batch:
                    outputs.append(-1)
                    continue
                o = (batch * rows_per_batch + row) * columns + column
                outputs.append(o)
                phase_pairs.append(tuple(
                    (a_local.setdefault(i, len(a_local)), b_local.setdefault(j, len(b_local)))
                    for i, j in pairs[o]
                ))
        if local_pairs is None:
            local_pairs = phase_pairs
        elif phase_pairs != local_pairs[: len(phase_pairs)]:
            raise RtlflowError(
                "the rows of this MatMul differ in structure: it cannot be folded",
                node=op.node_name,
                op="matmul",
            )
        if p == 0:
            a_size, b_size = len(a_local), len(b_local)
        a_sources = [-1] * a_size
        b_sources = [-1] * b_size
        for i, local in a_local.items():
            a_sources[local] = i
        for j, local in b_local.items():
            b_sources[local] = a_count + j
        sources.append(a_sources + b_sources)
        destinations.append(outputs)
    inner = dict(params) | {"a_count": a_size, "b_count": b_size, "pairs": tuple(local_pairs)}
    groups = ((params["a_shape"], a_count), (params["b_shape"], params["b_count"]))
    return inner, groups, sources, destinations



def _dense(op: fxp.DenseOp) -> UnitSpec:
    frac, weights, biases = op.aligned()
    casts = dense_casts(op, frac)
    shape = fxp.tensor_shape(op.input)
    n_out, n_in = weights.shape
    reuse = op.reuse_factor.value.data
    return UnitSpec(
        "dense",
        f"{n_in}x{n_out}_r{reuse}",
        DenseUnit,
        {
            "weights": tuple(tuple(int(w) for w in row) for row in weights),
            "bias": tuple(int(b) for b in biases),
            "input_shape": shape_of(op.input_format),
            "casts": casts,
            "rows": math.prod(shape[:-1]),
            "reuse_factor": reuse,
        },
    )


def _elements(op) -> int:
    """Elements the unit sees at once: the whole tensor, or one pixel's channels per beat."""
    shape = fxp.tensor_shape(op.input)
    return shape[1] if circuit.beats_of(op) > 1 else math.prod(shape)


def _scale_shift(op: fxp.ScaleShiftOp) -> UnitSpec:
    frac, scale, offset = op.aligned()
    if circuit.beats_of(op) > 1:  # on a pixel stream: one constant per channel serves all
        shape = fxp.tensor_shape(op.input)
        scale, offset = per_channel(scale, shape), per_channel(offset, shape)
    return UnitSpec(
        "scale_shift",
        str(scale.size),
        ScaleShiftUnit,
        {
            "scale": tuple(int(v) for v in scale.reshape(-1)),
            "offset": tuple(int(v) for v in offset.reshape(-1)),
            "input_shape": shape_of(op.input_format),
            "casts": (cast_into(op.output_format, frac),),
        },
    )


def _activation(op: fxp.FxpOp) -> UnitSpec:
    fx = op.input_format
    count = _elements(op)
    params: dict[str, Any] = {"input_shape": shape_of(fx), "count": count}
    frac = fx.frac_bits
    match op:
        case fxp.ReluOp():
            params["kind"] = "relu"
        case fxp.LeakyReluOp():
            alpha_frac = op.alpha_type.format.frac_bits
            params |= {"kind": "leaky_relu", "alpha": op.alpha.value.data, "alpha_shift": alpha_frac}
            frac += alpha_frac
        case fxp.ClipOp():
            params |= {"kind": "clip", "low": op.low.value.data, "high": op.high.value.data}
        case fxp.CastOp():  # a clip that never clamps: only the cast
            params |= {"kind": "clip", "low": fx.min_raw, "high": fx.max_raw}
    params["casts"] = (cast_into(op.output_format, frac),)
    return UnitSpec(params["kind"], str(count), ActivationUnit, params)


def _threshold(op: fxp.ThresholdOp) -> UnitSpec:
    table, base = op.threshold_table, op.bases
    count = _elements(op)
    if count != len(base):  # on a pixel stream: every pixel has its channel's thresholds
        shape = fxp.tensor_shape(op.input)
        table = table.reshape(shape[1], -1, table.shape[1])[:, 0]
        base = base.reshape(shape[1], -1)[:, 0]
    return UnitSpec(
        "threshold",
        str(count),
        ThresholdUnit,
        {
            "thresholds": tuple(tuple(int(t) for t in row) for row in table),
            "base": tuple(int(b) for b in base),
            "input_shape": shape_of(op.input_format),
            "count": count,
            "casts": (cast_into(op.output_format, 0),),
        },
    )


def _table(op: fxp.TableOp) -> UnitSpec:
    table = op.table
    count = _elements(op)
    return UnitSpec(
        f"table_{table.function}",
        str(count),
        TableUnit,
        {
            "entries": tuple(int(e) for e in table.entries()),
            "entry_shape": shape_of(op.output_format),
            "start": table.start_raw,
            "shift": table.shift,
            "input_shape": shape_of(op.input_format),
            "count": count,
        },
    )


def _softmax(op: fxp.SoftmaxOp) -> UnitSpec:
    shape = fxp.tensor_shape(op.input)
    exp_table, inv_table = op.exp_table, op.inv_table
    frac = exp_table.output.frac_bits + inv_table.output.frac_bits
    return UnitSpec(
        "softmax",
        f"{math.prod(shape[:-1])}x{shape[-1]}",
        SoftmaxUnit,
        {
            "rows": math.prod(shape[:-1]),
            "n": shape[-1],
            "input_shape": shape_of(op.input_format),
            "exp_entries": tuple(int(e) for e in exp_table.entries()),
            "exp_shape": shape_of(exp_table.output),
            "exp_shift": exp_table.shift,
            "inv_entries": tuple(int(e) for e in inv_table.entries()),
            "inv_shape": shape_of(inv_table.output),
            "inv_start": inv_table.start_raw,
            "inv_shift": inv_table.shift,
            "casts": (cast_into(op.output_format, frac),),
        },
    )


def _layer_norm(op: fxp.LayerNormOp) -> UnitSpec:
    shape, n, table = fxp.tensor_shape(op.input), op.count, op.table
    frac, scale, bias = op.aligned()
    return UnitSpec(
        "layer_norm",
        f"{math.prod(shape) // n}x{n}",
        LayerNormUnit,
        {
            "rows": math.prod(shape) // n,
            "n": n,
            "input_shape": shape_of(op.input_format),
            "entries": tuple(int(e) for e in table.entries()),
            "entry_shape": shape_of(table.output),
            "offset": table.offset,
            "thresholds": table.thresholds,
            "scale": tuple(int(v) for v in scale),
            "bias": tuple(int(v) for v in bias),
            "casts": (cast_into(op.output_format, frac),),
        },
    )


def dense_casts(op: fxp.WeightedOp, frac: int) -> tuple[Cast, ...]:
    """The casts from a dense or conv layer's exact sum (``frac`` fractional bits) to its
    result: one, or two when a narrower accumulator format was configured."""
    accumulator = op.accumulator.format
    weights = op.weights.reshape(op.weights.shape[0], -1)
    exact = dot_product_format(
        weights, op.weight_type.format, op.biases, op.bias_type.format, op.input_format
    )
    if accumulator == exact:
        return (cast_into(op.output_format, frac),)
    return (cast_into(accumulator, frac), cast_into(op.output_format, accumulator.frac_bits))


def _conv(op: fxp.ConvOp) -> UnitSpec:
    frac, weights, biases = op.aligned()
    casts = dense_casts(op, frac)
    window = op.window
    c_out, per_in = weights.shape[:2]
    nested = tuple(
        tuple(tuple(int(w) for w in weights[o, i].reshape(-1)) for i in range(per_in))
        for o in range(c_out)
    )
    return UnitSpec(
        "conv",
        f"{'x'.join(map(str, fxp.tensor_shape(op.input)[1:]))}_{c_out}c",
        ConvUnit,
        {
            "weights": nested,
            "bias": tuple(int(b) for b in biases),
            "window": window,
            "channels": fxp.tensor_shape(op.input)[1],
            "group": op.group.value.data,
            "input_shape": shape_of(op.input_format),
            "casts": casts,
        },
    )


def _pool(op: fxp.PoolOp) -> UnitSpec:
    frac = op.input_format.frac_bits
    if op.kind.data == "average":
        frac += op.scale_type.format.frac_bits
    return UnitSpec(
        f"{op.kind.data}pool",
        "x".join(map(str, fxp.tensor_shape(op.input)[1:])),
        PoolUnit,
        {
            "kind": op.kind.data,
            "window": op.window,
            "channels": fxp.tensor_shape(op.input)[1],
            "scales": tuple(int(v) for v in op.scales),
            "input_shape": shape_of(op.input_format),
            "casts": (cast_into(op.output_format, frac),),
        },
    )


def _stream_window(op: fxp.WindowOp) -> UnitSpec:
    """A window op on a pixel stream: line buffer, then one output pixel per window."""
    window, channels = op.window, fxp.tensor_shape(op.input)[1]
    params: dict[str, Any] = {
        "window": window,
        "channels": channels,
        "input_shape": shape_of(op.input_format),
    }
    if isinstance(op, fxp.ConvOp):
        conv = _conv(op).params
        params |= {
            "kind": "conv",
            "weights": conv["weights"],
            "bias": conv["bias"],
            "group": conv["group"],
            "casts": conv["casts"],
        }
    else:
        pool = _pool(op).params
        params |= {"kind": pool["kind"], "casts": pool["casts"], "scale": pool["scales"][0]}
    summary = f"{'x'.join(map(str, fxp.tensor_shape(op.input)[1:]))}"
    return UnitSpec(f"stream_{params['kind']}", summary, StreamWindowUnit, params)


def _add(op: fxp.AddOp) -> UnitSpec:
    formats = op.input_formats
    frac = max(f.frac_bits for f in formats)
    count = math.prod(fxp.tensor_shape(op.output))
    return UnitSpec(
        "add",
        str(count),
        AddUnit,
        {
            "shapes": tuple(shape_of(f) for f in formats),
            "shifts": tuple(frac - f.frac_bits for f in formats),
            "count": count,
            "casts": (cast_into(op.output_format, frac),),
        },
    )


def _route(op) -> UnitSpec:
    """Transpose, pad and concat: which input element every output element is."""
    values = list(op.inputs) if isinstance(op, fxp.MultiInputOp) else [op.input]
    formats = [fxp.tensor_format(v) for v in values]
    sizes = [math.prod(fxp.tensor_shape(v)) for v in values]
    numbered = []
    offset = 0
    for value, size in zip(values, sizes, strict=True):
        numbered.append(np.arange(offset, offset + size).reshape(fxp.tensor_shape(value)))
        offset += size
    match op:
        case fxp.TransposeOp():
            sources = np.transpose(numbered[0], op.permutation)
        case fxp.PadOp():
            pads = op.amounts
            rank = len(pads) // 2
            widths = [(pads[a], pads[rank + a]) for a in range(rank)]
            sources = np.pad(numbered[0], widths, constant_values=-1)
        case fxp.ConcatOp():
            sources = np.concatenate(numbered, axis=op.axis.value.data % len(numbered[0].shape))
        case fxp.TakeOp():
            sources = np.asarray(op.source_list)
    out = op.output_format
    casts = tuple(
        None if fmt == out else cast_into(out, fmt.frac_bits) for fmt in formats
    )
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


def _matmul(op: fxp.MatMulOp) -> UnitSpec:
    (fa, fb), (a, b) = op.input_formats, op.inputs
    a_shape, b_shape = fxp.tensor_shape(a), fxp.tensor_shape(b)
    a_numbers = np.arange(math.prod(a_shape)).reshape(a_shape)
    b_numbers = np.arange(math.prod(b_shape)).reshape(b_shape)
    if len(a_shape) == 1:
        a_numbers = a_numbers[np.newaxis]
    if len(b_shape) == 1:
        b_numbers = b_numbers[:, np.newaxis]
    k = a_numbers.shape[-1]
    # every output element's (a, b) pairs: broadcast the batch axes as matmul does
    a_pairs = np.broadcast_to(a_numbers[..., :, np.newaxis, :], (*np.broadcast_shapes(
        a_numbers.shape[:-2], b_numbers.shape[:-2]), a_numbers.shape[-2], b_numbers.shape[-1], k))
    b_pairs = np.broadcast_to(np.swapaxes(b_numbers, -1, -2)[..., np.newaxis, :, :], a_pairs.shape)
    pairs = tuple(
        tuple(zip((int(i) for i in ai), (int(j) for j in bj), strict=True))
        for ai, bj in zip(a_pairs.reshape(-1, k), b_pairs.reshape(-1, k), strict=True)
    )
    return UnitSpec(
        "matmul",
        f"{'x'.join(map(str, a_shape))}_{'x'.join(map(str, b_shape))}",
        MatMulUnit,
        {
            "a_shape": shape_of(fa),
            "a_count": math.prod(a_shape),
            "b_shape": shape_of(fb),
            "b_count": math.prod(b_shape),
            "pairs": pairs,
            "casts": (cast_into(op.output_format, fa.frac_bits + fb.frac_bits),),
        },
    )


_BUILDERS = {
    fxp.DenseOp: _dense,
    fxp.ScaleShiftOp: _scale_shift,
    fxp.ReluOp: _activation,
    fxp.LeakyReluOp: _activation,
    fxp.ClipOp: _activation,
    fxp.CastOp: _activation,
    fxp.ThresholdOp: _threshold,
    fxp.TableOp: _table,
    fxp.SoftmaxOp: _softmax,
    fxp.LayerNormOp: _layer_norm,
    fxp.ConvOp: _conv,
    fxp.PoolOp: _pool,
    fxp.AddOp: _add,
    fxp.TransposeOp: _route,
    fxp.PadOp: _route,
    fxp.ConcatOp: _route,
    fxp.TakeOp: _route,
    fxp.GatherOp: _gather,
    fxp.ScatterOp: _scatter,
    fxp.MatMulOp: _matmul,
}

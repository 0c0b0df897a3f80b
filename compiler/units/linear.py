"""Hardware units, dense layers, their adder graphs (one row module per row) and MatMul."""

from __future__ import annotations

import math

import numpy as np
from xdsl.ir import Block

from rtlflow.dialects import circuit, fxp, shiftadd
from rtlflow.numerics.fixed_point import dot_product_format
from rtlflow.rtl.adder_graph import AdderGraphUnit
from rtlflow.rtl.arith import Cast
from rtlflow.rtl.dense import DenseUnit
from rtlflow.rtl.fold import FoldedUnit
from rtlflow.rtl.matmul import MatMulUnit
from rtlflow.units.core import UnitSpec, builds, cast_into, shape_of
from rtlflow.units.folding import folded_rows, row_folding


@builds(fxp.DenseOp)
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
        cast = (
            op.shift.value.data,
            op.rounding.data,
            op.overflow.data,
            op.width.value.data,
            bool(op.is_signed.value.data),
        )
        node = ("cast", number[op.value], cast, op.rounded is not None)
    return (*node, *shiftadd.bounds(op.results[0]), op.cycle_number)


def graph_nodes(block: Block) -> tuple[list[tuple[shiftadd.ScheduledOp, tuple]], list, dict]:
    """An implementation block read as ``AdderGraphUnit`` nodes: its scheduled ops in order,
    each with its node; the range of every value (the block's inputs first, then each op's
    result); the index of every value."""
    number = {arg: i for i, arg in enumerate(block.args)}
    ranges = [shiftadd.bounds(arg) for arg in block.args]
    nodes = []
    for op in block.ops:
        if not isinstance(op, shiftadd.ScheduledOp):
            break
        nodes.append((op, graph_node(op, number)))
        number[op.results[0]] = len(ranges)
        ranges.append(shiftadd.bounds(op.results[0]))
    return nodes, ranges, number


def adder_graph_spec(unit: circuit.UnitOp) -> UnitSpec:
    """The ``AdderGraphUnit`` of a unit's ``shiftadd`` implementation, its cycles included."""
    block = unit.graph
    assert block is not None
    scheduled, _, number = graph_nodes(block)
    nodes = [node for _, node in scheduled]
    outputs = tuple(number[v] for v in block.last_op.operands)  # type: ignore[union-attr]
    inner = unit.inner
    folding = row_folding(inner)
    rows = repeated_rows(inner)
    carry = unit.attributes.get(CARRY)
    shape = fxp.tensor_shape(inner.input)
    kind = "dense" if isinstance(inner, fxp.DenseOp) else "conv"
    summary = (
        f"{shape[-1]}x{fxp.tensor_shape(inner.output)[-1]}"
        if kind == "dense"
        else (f"{'x'.join(map(str, shape[1:]))}_{fxp.tensor_shape(inner.output)[1]}c")
    )
    spec = UnitSpec(
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
    return spec if folding is None else folded_rows(inner, spec)


def repeated_rows(op) -> int:
    """Rows a layer's adder graph is repeated over: a dense layer's leading dimensions, those
    of one phase when they fold (a folded convolution's positions of one phase), else one."""
    folding = row_folding(op)
    if folding is not None:
        return folding[0]
    return math.prod(fxp.tensor_shape(op.input)[:-1]) if isinstance(op, fxp.DenseOp) else 1


def row_spec(spec: UnitSpec) -> UnitSpec | None:
    """The unit of one row, when ``spec`` computes several rows alike (a dense layer's adder
    graph over the rows of its input, or the rows of a phase when they fold): the Verilog then
    instances one row module per row (``rtlflow.rtl.rows.RowsUnit``, ``FoldedUnit``) instead
    of repeating the row's logic. None otherwise."""
    if spec.unit_class is FoldedUnit:  # a dense layer's rows folded onto its adder graph
        unit_class, params = spec.params["inner"]
        if unit_class is not AdderGraphUnit:  # one row a phase too: the row module is text
            return None
        return UnitSpec(spec.kind, f"{spec.summary}_row", AdderGraphUnit, dict(params) | {"rows": 1})
    if spec.unit_class is not AdderGraphUnit or spec.params["rows"] == 1:
        return None
    return UnitSpec(spec.kind, f"{spec.summary}_row", AdderGraphUnit, spec.params | {"rows": 1})


def row_registers(spec: UnitSpec, registers: frozenset[int]) -> frozenset[int]:
    """The registers of ``spec``'s row module (``row_spec``), ``spec``'s being ``registers``."""
    if spec.unit_class is not FoldedUnit:
        return registers
    unit_class, params = spec.params["inner"]
    graph = unit_class(**dict(params) | {"rows": 1})
    graph._MustUse__silence = True  # asked for its plan only
    return FoldedUnit.row_registers(registers, graph)


@builds(fxp.MatMulOp)
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
    a_pairs = np.broadcast_to(
        a_numbers[..., :, np.newaxis, :],
        (
            *np.broadcast_shapes(a_numbers.shape[:-2], b_numbers.shape[:-2]),
            a_numbers.shape[-2],
            b_numbers.shape[-1],
            k,
        ),
    )
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

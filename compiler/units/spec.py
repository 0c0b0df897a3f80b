"""The unit of every hardware-level op: a delay, a stream's collector, an adder graph, or the
registered builder of the unit's inner fxp op (folded over R phases where the op says so)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from xdsl.ir import Operation

from rtlflow.dialects import circuit, fxp
from rtlflow.dialects.traits import RowFoldable
from rtlflow.errors import RtlflowError
from rtlflow.rtl.delay import DelayUnit
from rtlflow.rtl.stream import CollectUnit
from rtlflow.units.core import UnitSpec, builder_of, shape_of
from rtlflow.units.folding import chain_around, folded, folded_attention
from rtlflow.units.linear import adder_graph_spec


#: while the IR is read, not changed (``specs_kept``): op id -> (the op, its spec); per
#: thread (a context variable), so that a compile in another thread never reads it
_KEPT: ContextVar[dict[int, tuple[Operation, UnitSpec]] | None] = ContextVar("kept", default=None)


@contextmanager
def specs_kept() -> Iterator[None]:
    """Within the block, each op's unit spec is made once: for what reads a finished circuit
    level (the estimate, the Verilog, the report each ask for every unit's spec, and an adder
    graph's spec reads its whole graph). The IR must not change meanwhile."""
    token = _KEPT.set(_KEPT.get() or {})
    try:
        yield
    finally:
        _KEPT.reset(token)


def unit_spec(op: Operation) -> UnitSpec:
    """The unit that implements a ``circuit.unit`` (by its inner op) or a ``circuit.delay``."""
    kept_specs = _KEPT.get()
    if kept_specs is None:
        return _unit_spec(op)
    kept = kept_specs.get(id(op))
    if kept is None or kept[0] is not op:
        kept = kept_specs[id(op)] = (op, _unit_spec(op))
    return kept[1]


def _unit_spec(op: Operation) -> UnitSpec:
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
        if len(op.ops) > 1:
            softmax = [inner for inner in op.ops if isinstance(inner, fxp.SoftmaxOp)]
            chain = chain_around(softmax[0]) if len(softmax) == 1 else None
            spec = folded_attention(chain) if chain and list(chain) == op.ops else None
            if spec is None:
                raise RtlflowError(
                    "a unit holding several ops must hold a folded attention (a MatMul, a "
                    "softmax and a MatMul with the same reuse factor, their phases the same "
                    "rows, only reshapes between them)",
                    node=op.node_name,
                    op="attention",
                )
            return spec
        op = op.inner
    builder = builder_of(op)
    if builder is None:
        raise NotImplementedError(f"no hardware unit for {op.name}")
    spec = builder(op)
    reuse = op.reuse_factor.value.data if op.has_trait(RowFoldable) and op.reuse_factor else 1
    return folded(op, spec, reuse) if reuse > 1 else spec

"""Hardware units, rows folded onto fewer copies of a unit's logic (reuse factor R > 1 of softmax,
layer norm, MatMul, a dense layer over several rows and a parallel convolution's output
positions; the scores MatMul, softmax and mixing MatMul of attention as one unit): the phases
and what each reads and writes."""

from __future__ import annotations

import math

import numpy as np
from xdsl.ir import Operation

from rtlflow.dialects import fxp
from rtlflow.errors import RtlflowError
from rtlflow.rtl.attention import FoldedAttentionUnit
from rtlflow.rtl.fold import FoldedUnit
from rtlflow.units.core import UnitSpec, builder_of


def folded(op: Operation, spec: UnitSpec, reuse: int) -> UnitSpec:
    """``spec`` time-multiplexed over its rows in about ``reuse`` phases (``FoldedUnit``);
    ``spec`` itself when there is a single phase."""
    params = dict(spec.params)
    if isinstance(op, fxp.MatMulOp):
        plan = _matmul_phases(op, params, reuse)
    else:  # softmax, layer_norm: rows of n elements, the same logic for every row
        rows, n = params["rows"], params["n"]
        per_phase, phases = row_phases(rows, reuse)
        params["rows"] = per_phase
        elements = _row_elements(rows, per_phase, phases, n)
        plan = (params, ((params["input_shape"], rows * n),), elements, elements)
    return _folded_spec(op, spec, *plan)


def row_phases(rows: int, reuse: int) -> tuple[int, int]:
    """Rows folded by ``reuse``: (rows per phase, phases), ceil(rows / R) rows per phase."""
    per_phase = -(-rows // reuse)
    return per_phase, -(-rows // per_phase)


def row_folding(op: Operation) -> tuple[int, int] | None:
    """A layer whose rows share one adder graph, folded by its reuse factor R > 1: (rows per
    phase, phases); one graph per row of a phase serves every phase (``folded_rows``). The
    rows are a dense layer's leading dimensions (tokens, edges, nodes) or a parallel
    convolution's output positions (each the window's taps of every input channel, a padding
    tap reading 0). None for any other layer, or a single row."""
    rows = folded_row_count(op)
    if rows is None or rows == 1:
        return None
    return row_phases(rows, op.reuse_factor.value.data)


def folded_row_count(op: Operation) -> int | None:
    """The rows ``row_folding`` folds: a dense layer's or a parallel convolution's with a
    reuse factor above 1; None otherwise."""
    if isinstance(op, fxp.DenseOp) and op.reuse_factor.value.data > 1:
        return math.prod(fxp.tensor_shape(op.input)[:-1])
    if (
        isinstance(op, fxp.ConvOp)
        and op.style.data == "parallel"
        and op.reuse_factor is not None
        and op.reuse_factor.value.data > 1
    ):
        return op.window.positions
    return None


def folded_rows(op: fxp.WeightedOp, spec: UnitSpec) -> UnitSpec:
    """``spec``, a unit computing ``row_folding(op)[0]`` rows of ``op`` (its adder graph),
    time-multiplexed over all of ``op``'s rows."""
    phases = row_folding(op)
    assert phases is not None
    per_phase, count = phases
    n_inputs = math.prod(fxp.tensor_shape(op.input))
    groups = ((spec.params["input_shape"], n_inputs),)
    if isinstance(op, fxp.ConvOp):
        sources, destinations = _position_elements(op, per_phase, count)
        return _folded_spec(op, spec, spec.params, groups, sources, destinations)
    rows = math.prod(fxp.tensor_shape(op.input)[:-1])
    n_in, n_out = fxp.tensor_shape(op.input)[-1], fxp.tensor_shape(op.output)[-1]
    sources = _row_elements(rows, per_phase, count, n_in)
    destinations = _row_elements(rows, per_phase, count, n_out)
    return _folded_spec(op, spec, spec.params, groups, sources, destinations)


def position_taps(op: fxp.ConvOp) -> np.ndarray:
    """[positions, channels * taps]: the flat input element each output position's adder
    graph input reads (channel-major, as ``conv_position_rows`` numbers them; -1: padding,
    read as 0)."""
    index, _ = op.window.taps()
    channels, pixels = fxp.tensor_shape(op.input)[1], math.prod(op.window.input_shape)
    flat = np.arange(channels)[None, :, None] * pixels + index[:, None, :]
    return np.where(index[:, None, :] >= 0, flat, -1).reshape(index.shape[0], -1)


def _position_elements(op: fxp.ConvOp, per_phase: int, phases: int):
    """Per phase, the inputs (``position_taps``) and the outputs ([C_out, positions] order) of
    its positions (-1 past the last)."""
    taps = position_taps(op)
    positions, n_in = taps.shape
    c_out = fxp.tensor_shape(op.output)[1]
    sources, destinations = [], []
    for p in range(phases):
        chosen = range(p * per_phase, (p + 1) * per_phase)
        sources.append(
            [int(s) for q in chosen for s in (taps[q] if q < positions else [-1] * n_in)]
        )
        destinations.append(
            [o * positions + q if q < positions else -1 for q in chosen for o in range(c_out)]
        )
    return sources, destinations


def _row_elements(rows: int, per_phase: int, phases: int, n: int) -> list[list[int]]:
    """Per phase, the flat indices of its rows' n elements each (-1 past the last row)."""
    return [
        [
            row * n + j if row < rows else -1
            for row in range(p * per_phase, (p + 1) * per_phase)
            for j in range(n)
        ]
        for p in range(phases)
    ]


def _folded_spec(op, spec, inner_params, groups, sources, destinations) -> UnitSpec:
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
                phase_pairs.append(
                    tuple(
                        (a_local.setdefault(i, len(a_local)), b_local.setdefault(j, len(b_local)))
                        for i, j in pairs[o]
                    )
                )
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


def attention_chain(softmax: Operation) -> tuple[Operation, ...] | None:
    """``softmax(a @ b) @ v`` around ``softmax``, when its ops fold together (``chain_around``
    and the phases of both MatMuls the same rows): the ops from the scores MatMul to the
    mixing MatMul, or None."""
    chain = chain_around(softmax)
    return chain if chain is not None and _attention_phases(chain) is not None else None


def chain_around(softmax: Operation) -> tuple[Operation, ...] | None:
    """The ops of ``softmax(a @ b) @ v`` around ``softmax`` with the same reuse factor R > 1
    on the three, the scores and the softmax's results read by the next op only, through
    reshapes (or takes of every element in order) that keep the scores' rows; None otherwise
    (whether their phases line up is ``folded_attention``'s to say)."""
    if not isinstance(softmax, fxp.SoftmaxOp) or softmax.reuse_factor is None:
        return None
    before: list[Operation] = []
    value = softmax.input
    while is_wiring(value.owner) and _read_once(value):
        before.insert(0, value.owner)
        value = value.owner.input
    scores = value.owner
    if not isinstance(scores, fxp.MatMulOp) or not _read_once(value):
        return None
    after: list[Operation] = []
    value = softmax.output
    while _read_once(value) and is_wiring(_reader(value)):
        after.append(_reader(value))
        value = after[-1].results[0]
    mix = _reader(value) if _read_once(value) else None
    if not isinstance(mix, fxp.MatMulOp) or mix.operands[0] is not value:
        return None
    reuse = {op.reuse_factor.value.data if op.reuse_factor else 1 for op in (scores, softmax, mix)}
    if len(reuse) != 1 or reuse == {1}:
        return None
    if fxp.tensor_shape(scores.output)[-1] != fxp.tensor_shape(softmax.input)[-1]:
        return None  # a softmax row would straddle rows of the scores
    return (scores, *before, softmax, *after, mix)


def is_wiring(op) -> bool:
    """A reshape, or a take of every element in order (the same flat elements)."""
    if isinstance(op, fxp.ReshapeOp):
        return True
    count = math.prod(fxp.tensor_shape(op.operands[0])) if isinstance(op, fxp.TakeOp) else -1
    return count >= 0 and op.source_list == tuple(range(count))


def _read_once(value) -> bool:
    return value.has_one_use()


def _reader(value) -> Operation:
    return next(iter(value.uses)).operation


def folded_attention(chain: tuple[Operation, ...]) -> UnitSpec | None:
    """The ``FoldedAttentionUnit`` of a ``chain_around``: one phase's rows through the scores,
    the softmax and the mix; None when their phases do not line up."""
    plan = _attention_phases(chain)
    if plan is None:
        return None
    (scores, groups, sources, _), softmax, (mix, mix_groups, mix_sources, destinations) = plan
    a_count = mix["a_count"]
    values = [tuple(s - mix_groups[0][1] if s >= 0 else -1 for s in phase[a_count:])
              for phase in mix_sources]  # fmt: skip
    v = chain[-1].inputs[1]
    shape = fxp.tensor_shape(chain[-1].output)
    return UnitSpec(
        "attention",
        f"{'x'.join(map(str, shape))}_f{len(sources)}",
        FoldedAttentionUnit,
        {
            "scores": tuple(sorted(scores.items())),
            "softmax": tuple(sorted(softmax.items())),
            "mix": tuple(sorted(mix.items())),
            "input_groups": groups + ((mix_groups[1][0], math.prod(fxp.tensor_shape(v))),),
            "sources": tuple(tuple(s) for s in sources),
            "values": tuple(values),
            "destinations": tuple(tuple(d) for d in destinations),
            "output_count": math.prod(shape),
        },
    )


def _attention_phases(chain):
    """(scores plan, the softmax's parameters for one phase, mix plan) as ``_matmul_phases``
    gives them, or None when the phases do not line up (the mix's phase p reading other
    softmax results than the scores' phase p computes)."""
    scores_op, mix_op = chain[0], chain[-1]
    (softmax_op,) = [op for op in chain if isinstance(op, fxp.SoftmaxOp)]
    reuse = scores_op.reuse_factor.value.data
    try:
        scores = _matmul_phases(scores_op, dict(builder_of(scores_op)(scores_op).params), reuse)
        mix = _matmul_phases(mix_op, dict(builder_of(mix_op)(mix_op).params), reuse)
    except RtlflowError:
        return None
    _, _, _, produced = scores
    inner, _, read, _ = mix
    if len(read) != len(produced) or len(read) < 2:
        return None
    a_count = inner["a_count"]
    if any(list(r[:a_count]) != list(p) for r, p in zip(read, produced, strict=True)):
        return None
    softmax = dict(builder_of(softmax_op)(softmax_op).params)
    n = softmax["n"]
    if a_count % n:
        return None
    softmax["rows"] = a_count // n
    return scores, softmax, mix

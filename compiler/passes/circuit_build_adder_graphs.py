"""circuit-build-adder-graphs: constant products as shared shift-add logic, visible in the IR.

Input and output level: circuit (before scheduling). Every unit of a dense layer with reuse
factor 1 and of a parallel convolution gets an ``implementation`` region in the ``shiftadd``
dialect: its constant matrix-vector product solved by ``rtlflow.cmvm`` (canonical signed digits,
subexpressions shared across weights and outputs, and across output channels and positions of a
convolution), each adder as wide as the exact range of its values (``rtlflow.value_ranges``: a
ReLU's output has no sign bit, small sums give narrow inputs), then the output casts. With
``ternary`` the output trees use three-operand adders (one LUT6 and carry chain per bit on
Xilinx parts). Outputs that nothing reads (a convolution's last row that no pooling window
covers; ``rtlflow.demand``) are constant 0 and cost nothing. The cycles of the ops are left at 0
for ``circuit-insert-registers``.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
from amaranth.hdl import Const
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Block, SSAValue
from xdsl.rewriter import Rewriter
from xdsl.passes import ModulePass

from rtlflow import cmvm
from rtlflow.dialects import circuit, fxp, shiftadd
from rtlflow.rtl.arith import Cast, Term, apply_cast, shape_for_range
from rtlflow.rtl.conv import conv_position_rows, conv_rows
from rtlflow.config import ModelConfig
from rtlflow.delay_model import dsp_count, operator_resources
from rtlflow.demand import demanded
from rtlflow.parts import find_part
from rtlflow.rtl.primitives import CARRY_PRIMITIVE
from rtlflow.rtl.adder_graph import node_operators
from rtlflow.units import CARRY, dense_casts, graph_nodes
from rtlflow.units.folding import position_taps, row_folding
from rtlflow.units.linear import repeated_rows
from rtlflow.value_ranges import value_ranges


@dataclass(frozen=True)
class CircuitBuildAdderGraphsPass(ModulePass):
    name = "circuit-build-adder-graphs"

    part: str = "xcvu13p"
    config: ModelConfig = field(default_factory=ModelConfig)
    """The configuration: its dsp_budget and the layers' own dsp_budget entries."""
    ternary: bool = True
    """Output trees of three-operand adders (else two-operand). On the part's family they are
    built from its LUT6_2 and carry primitives."""
    jobs: int | None = None
    """Processes solving the layers' graphs at once (None: one per core, when it pays)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = find_part(self.part)
        family = target.part.family
        carry = CARRY_PRIMITIVE.get(family) if self.ternary else None
        config = self.config
        for function in op.ops:
            assert isinstance(function, func.FuncOp)
            ranges = value_ranges(function)
            units = [
                unit
                for unit in function.body.block.ops
                if isinstance(unit, circuit.UnitOp) and builds_adder_graph(unit.inner)
            ]
            demand = demanded(function)
            problems = [
                layer_problem(unit.inner, *ranges[unit.inputs[0]], demand.get(unit.results[0]))
                for unit in units
            ]
            on_dsps = allocate_dsps(
                [(unit.inner, problem) for unit, problem in zip(units, problems, strict=True)],
                config.dsp_budget_slices(target.part.dsp),
                {name: layer.dsp_budget for name, layer in config.layers.items()},
                family,
            )
            solved = solve_in_parallel(
                [_solve_arguments(unit.inner, problem, self.ternary) for unit, problem in
                 zip(units, problems, strict=True)], self.jobs
            )  # fmt: skip
            for unit, problem, chosen, graph in zip(units, problems, on_dsps, solved, strict=True):
                block = cheapest_graph(unit.inner, problem, chosen, self.ternary, family, graph)
                built = unit.implemented_by(block)
                if carry is not None:
                    built.attributes[CARRY] = StringAttr(carry)
                Rewriter.replace_op(unit, built)


def builds_adder_graph(op) -> bool:
    """Whether a layer's constant products become an adder graph."""
    if circuit.beats_of(op) > 1:
        return False
    if isinstance(op, fxp.DenseOp):  # R = 1, or R > 1 folding its rows onto fewer graphs
        return op.reuse_factor.value.data == 1 or row_folding(op) is not None
    return isinstance(op, fxp.ConvOp) and op.style.data == "parallel"


def layer_problem(
    op: fxp.WeightedOp, low: np.ndarray, high: np.ndarray, read: np.ndarray | None = None
):
    """``(rows, constants, input ranges, casts)`` of a dense layer (one row of its inputs, the
    union of the rows' ranges) or a parallel convolution (all its inputs; one output position's
    window when its positions fold, ``row_folding``). Outputs that nothing
    reads (``read``, a flat mask of the result; ``rtlflow.demand``) get no terms and constant 0."""
    frac, weights, biases = op.aligned()
    casts = dense_casts(op, frac)
    rounding = casts[0].rounding_constant
    if isinstance(op, fxp.DenseOp):
        n_in = weights.shape[1]
        low, high = low.reshape(-1, n_in).min(axis=0), high.reshape(-1, n_in).max(axis=0)
        rows = [[(k, int(w)) for k, w in enumerate(row) if w] for row in weights]
        constants = [int(b) + rounding for b in biases]
    else:
        c_out, per_in = weights.shape[:2]
        nested = [[[int(w) for w in weights[o, i].reshape(-1)] for i in range(per_in)]
                  for o in range(c_out)]
        channels = fxp.tensor_shape(op.input)[1]
        positions = op.window.positions
        if row_folding(op) is not None:  # one position's graph, its rows folded
            rows = conv_position_rows(nested, channels, op.group.value.data)
            constants = [int(b) + rounding for b in biases]
            low, high = _position_ranges(op, low.reshape(-1), high.reshape(-1))
            if read is not None:  # [C_out, positions]: a channel nobody reads at any position
                read = read.reshape(c_out, positions).any(axis=1)
        else:
            rows = conv_rows(nested, op.window, channels, op.group.value.data)
            constants = [int(b) + rounding for b in biases for _ in range(positions)]
            low, high = low.reshape(-1), high.reshape(-1)
    if read is not None:
        unread = ~read.reshape(-1, len(rows)).any(axis=0)  # a dense layer's rows share outputs
        rows = [[] if dead else row for row, dead in zip(rows, unread, strict=True)]
        constants = [0 if dead else c for c, dead in zip(constants, unread, strict=True)]
    ranges = [(int(a), int(b)) for a, b in zip(low, high, strict=True)]
    return rows, constants, ranges, casts


def _position_ranges(op: fxp.ConvOp, low: np.ndarray, high: np.ndarray):
    """The range of each input of a convolution's one-position graph (``position_taps``): the
    union over the positions of the elements it reads (0 where it reads padding)."""
    taps = position_taps(op)
    inside = taps >= 0
    low = np.where(inside, low[np.maximum(taps, 0)], 0).min(axis=0)
    high = np.where(inside, high[np.maximum(taps, 0)], 0).max(axis=0)
    return low, high


@dataclass(frozen=True)
class DspChoice:
    """A layer's products worth a DSP slice, best first, as (input index, magnitude, slices),
    and the slices the budget gives the layer."""

    candidates: tuple[tuple[int, int, int], ...]
    slices: int


def allocate_dsps(layers, budget: int, own: dict[str, int | None], family: str) -> list[DspChoice]:
    """Which constant products may go on DSP slices: the products that save the most LUTs per
    slice across all layers, in that order, while the model's ``budget`` and each layer's
    ``own`` limit last. One product serves every output that multiplies that input by ±that
    magnitude. A product of d canonical signed digits costs about d - 1 adders as wide as its
    result in each output that uses it; one of one or two digits (a shift, one adder) never goes
    on a DSP."""
    candidates = []
    for position, (op, (rows, _, ranges, _)) in enumerate(layers):
        uses: dict[tuple[int, int], int] = {}
        for row in rows:
            for k, weight in row:
                uses[(k, abs(weight))] = uses.get((k, abs(weight)), 0) + 1
        copies = repeated_rows(op)
        for (k, magnitude), count in sorted(uses.items()):
            digits = len(cmvm.csd_digits(magnitude))
            if digits < 3:
                continue
            x_bits = cmvm.bits_for(*ranges[k])
            w_bits = magnitude.bit_length() + 1
            slices = max(1, dsp_count(x_bits, w_bits, family)) * copies
            saved = count * (digits - 1) * (x_bits + w_bits)
            candidates.append((-saved / slices, position, k, magnitude, slices))
    candidates.sort()
    ranked: list[list[tuple[int, int, int]]] = [[] for _ in layers]
    given = [0] * len(layers)
    full = [False] * len(layers)
    for _, position, k, magnitude, slices in candidates:
        ranked[position].append((k, magnitude, slices))
        limit = own.get(layers[position][0].node_name)
        if full[position] or (limit is not None and given[position] + slices > limit):
            full[position] = True  # this layer's share ends here
        elif slices > budget:
            budget = 0  # the model's ends here: a larger budget only ever adds products
            full = [True] * len(layers)
        else:
            budget -= slices
            given[position] += slices
    return [DspChoice(tuple(r), g) for r, g in zip(ranked, given, strict=True)]


def dsp_steps(count: int) -> list[int]:
    """How many of a layer's ``count`` ranked products to try on DSPs: all, half, a quarter,
    ..., one, none. The grid depends on the layer only, so a larger budget tries every choice a
    smaller one could."""
    steps = {0}
    while count:
        steps.add(count)
        count //= 2
    return sorted(steps)


def cheapest_graph(
    op: fxp.WeightedOp, problem, choice: DspChoice, ternary: bool, family: str,
    solved: cmvm.AdderGraph | None = None,
):  # fmt: skip
    """The layer's implementation with its best ``n`` products on DSP slices, ``n`` on the grid
    of ``dsp_steps`` within the layer's slices, chosen for the fewest LUTs (the fewest DSPs
    among equals). Shared subexpressions make a product's saving hard to know in advance;
    trying them makes LUTs fall monotonically as the budget grows. ``solved``: the graph with
    no product on DSPs, when already solved."""
    best = None
    used = [0]
    for _, _, slices in choice.candidates:
        used.append(used[-1] + slices)
    steps = [n for n in dsp_steps(len(choice.candidates)) if used[n] <= choice.slices]
    if steps == [0]:  # no product fits on a DSP slice: nothing to compare
        return _graph(op, problem, set(), ternary, solved)
    for n in steps:
        chosen = {(k, magnitude) for k, magnitude, _ in choice.candidates[:n]}
        block = _graph(op, problem, chosen, ternary, solved if n == 0 else None)
        cost = graph_luts(block, family)
        if best is None or cost < best[0]:
            best = (cost, block)
    assert best is not None
    return best[1]


def graph_luts(block: Block, family: str) -> int:
    """The LUT estimate of an implementation block (its adders and casts)."""
    nodes, ranges, _ = graph_nodes(block)
    return sum(
        operator_resources(o, family).lut for _, node in nodes for o in node_operators(node, ranges)
    )


def cast_result(low: int, high: int, cast: Cast, rounded: bool) -> tuple[int, int]:
    """The range of a value in [low, high] after ``cast`` (as the hardware computes it)."""
    term = Term(Const(0, shape_for_range(low, high)), low, high)
    result, _ = apply_cast(term, cast, rounded=rounded)
    return result.low, result.high


#: digit pairs per tile: its side is the largest whose tile stays within them
TILE_PAIRS = 400_000


def position_tiles(op: fxp.WeightedOp, rows: list) -> list[list[int]] | None:
    """For a convolution too large to solve at once (``cmvm.MAX_PAIRS``), its outputs grouped
    into square tiles of output positions (all channels of each): tiles of one shape over the
    interior read the same weights over shifted inputs, so ``cmvm.solve_grouped`` solves one and
    instances it. Sharing across the positions of a tile stays; the work grows with the
    positions instead of their square. None to solve the layer at once."""
    if not isinstance(op, fxp.ConvOp) or row_folding(op) is not None:
        return None
    work = cmvm.pair_work(rows)
    if work <= cmvm.MAX_PAIRS:
        return None
    shape = op.window.output_shape
    positions = op.window.positions
    per_position = work / positions
    side = max(1, int((TILE_PAIRS / max(per_position, 1)) ** (1 / len(shape))))
    tiles: dict[tuple[int, ...], list[int]] = {}
    for position, index in enumerate(np.ndindex(*shape)):
        members = tiles.setdefault(tuple(i // side for i in index), [])
        members.extend(o * positions + position for o in range(len(rows) // positions))
    return list(tiles.values())


#: digit pairs (``cmvm.pair_work``) over all layers from which solving them in parallel
#: processes pays for starting the processes (about a second of solving)
PARALLEL_PAIRS = 300_000


def _solve_arguments(op: fxp.WeightedOp, problem, ternary: bool, tiled: bool = True):
    """What ``_solve`` needs for a layer's graph (``problem``'s rows, constants and ranges);
    ``tiled``: a large convolution solved tile by tile (``position_tiles``)."""
    rows, constants, ranges, _ = problem
    options = {"arity": 3 if ternary else 2, "max_pairs": cmvm.MAX_PAIRS}
    tiles = position_tiles(op, rows) if tiled else None
    return rows, constants, ranges, tiles, options


def _solve(rows, constants, ranges, tiles, options) -> cmvm.AdderGraph:
    if tiles is not None:
        return cmvm.solve_grouped(rows, constants, ranges, tiles, **options)
    return cmvm.solve(rows, constants, ranges, **options)


def solve_in_parallel(
    problems: list, jobs: int | None, min_pairs: int = PARALLEL_PAIRS
) -> list[cmvm.AdderGraph | None]:
    """The graphs of ``problems`` (``_solve``'s arguments) solved in parallel when there are
    cores and work (``min_pairs``), and this is not itself a worker (a point of a scan): the
    largest here while worker processes solve the others, largest first; else Nones (solved
    where they are used)."""
    from rtlflow.emit_verilog import worker_context

    work = [cmvm.pair_work(problem[0]) for problem in problems]
    workers = min(jobs or os.cpu_count() or 1, len(problems))
    nested = multiprocessing.parent_process() is not None
    if workers <= 1 or nested or sum(work) < min_pairs:
        return [None] * len(problems)
    largest, *order = sorted(range(len(problems)), key=lambda i: -work[i])
    with ProcessPoolExecutor(max_workers=workers - 1, mp_context=worker_context()) as pool:
        futures = {i: pool.submit(_solve, *problems[i]) for i in order}
        here = _solve(*problems[largest])
        return [here if i == largest else futures[i].result() for i in range(len(problems))]


def _graph(
    op: fxp.WeightedOp, problem, on_dsps: set, ternary: bool,
    solved: cmvm.AdderGraph | None = None,
) -> Block:  # fmt: skip
    """The implementation block of a dense or convolution layer: the products chosen for DSPs
    first, then the adder graph of the rest (the DSP products enter it as inputs of weight 1),
    then the output casts. ``solved``: the graph, when already solved (no product on DSPs)."""
    rows, constants, ranges, casts = problem
    block = Block(arg_types=[shiftadd.IntRangeType.of(a, b) for a, b in ranges])
    values: list[SSAValue] = list(block.args)
    graph_rows, graph_ranges = [], list(ranges)
    products: dict[tuple[int, int], int] = {}  # (input, magnitude) -> the product's value
    for row in rows:
        graph_row = []
        for k, weight in row:
            key = (k, abs(weight))
            if key not in on_dsps:
                graph_row.append((k, weight))
                continue
            if key not in products:
                product = shiftadd.MultiplyOp(block.args[k], abs(weight))
                block.add_op(product)
                values.append(product.result)
                graph_ranges.append(shiftadd.bounds(product.result))
                products[key] = len(graph_ranges) - 1
            graph_row.append((products[key], 1 if weight > 0 else -1))
        graph_rows.append(graph_row)
    if solved is not None and not on_dsps:
        graph = solved
    else:
        graph_problem = (graph_rows, constants, graph_ranges, casts)
        graph = _solve(*_solve_arguments(op, graph_problem, ternary, tiled=not on_dsps))
    for adder in graph.adders:
        add = shiftadd.AddOp(
            [values[o.node] for o in adder.operands],
            tuple(o.shift for o in adder.operands),
            tuple(o.negated for o in adder.operands),
            adder.constant,
            adder.low,
            adder.high,
        )
        block.add_op(add)
        values.append(add.result)
    outputs = []
    for node in graph.outputs:
        value, shift = values[node], 0
        adder = graph.adders[node - len(graph_ranges)] if node >= len(graph_ranges) else None
        if adder is not None and len(adder.operands) == 1 and adder.constant == 0:
            (operand,) = adder.operands
            if not operand.negated:  # an output shifted left: the cast drops fewer bits
                value, shift = values[operand.node], operand.shift
        for index, cast in enumerate(casts):
            if index == 0 and shift:
                cast = replace(cast, shift=cast.shift - shift)
            low_out, high_out = cast_result(*shiftadd.bounds(value), cast, rounded=index == 0)
            step = shiftadd.CastOp(
                value,
                shift=cast.shift,
                rounding=cast.rounding,
                overflow=cast.overflow,
                width=cast.width,
                signed=cast.signed,
                rounded=index == 0,
                low=low_out,
                high=high_out,
            )
            block.add_op(step)
            value = step.result
        outputs.append(value)
    block.add_op(shiftadd.YieldOp(*outputs))
    for dead in [op for op in reversed(list(block.ops)) if op.results and not op.results[0].uses]:
        if not dead.results[0].uses:  # an output's shift, folded into its cast
            block.erase_op(dead)
    return block

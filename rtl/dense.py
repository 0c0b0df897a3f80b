"""DenseUnit: a fully connected layer with constant weights, pipelined, any reuse factor.

Reuse factor 1 (II = 1): every product exists in parallel with its weight folded into the logic:
a zero weight costs nothing, ±2^k is a shift, a two-digit canonical-signed-digit constant is one
adder, any other weight a constant multiplier. Each neuron sums its products and its constant
(bias plus the rounding offset of the output cast) in a pairwise adder tree of exact widths.

Reuse factor R > 1 (II = R): the input is latched, each neuron owns ceil(nonzero weights / R)
multipliers that see a different (input, weight) pair in each of R phases, and an accumulator
adds the phases' partial sums, starting from the neuron's constant. One input every R cycles.

Both forms end with the output casts (rounding and overflow) and take their registers at the
boundaries the compiler chose.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, Value

from rtlflow.rtl.arith import (
    Cast,
    Operator,
    Term,
    add_level,
    adder_tree_levels,
    choose,
    constant_multiply,
    fit,
    shape_for_range,
)
from rtlflow.rtl.pipeline import (
    Pipeline,
    Unit,
    cast_stages,
    cross_groups,
    cross_terms,
    latch_phases,
    start_terms,
)


class DenseUnit(Unit):
    """``y[r, n] = cast(sum_k x[r, k] * weights[n][k] + bias[n])`` for each of ``rows`` rows.

    Parameters
    ----------
    weights : N rows of K integers, in the accumulator's LSB (already aligned).
    bias : N integers in the accumulator's LSB.
    input_shape : shape of one input element.
    casts : casts from the accumulator to the output (the last one gives the output shape).
    rows : independent input vectors handled in parallel (leading tensor dimensions).
    reuse_factor : R; one input every R cycles, ceil(nonzero/R) multipliers per neuron.
    registers : register boundaries of the plan (see ``rtlflow.rtl.pipeline``).

    Members and latency: see :class:`~rtlflow.rtl.pipeline.Unit`; throughput one input per R
    cycles, latency ``len(registers | forced) + R - 1``.
    """

    def __init__(
        self,
        *,
        weights: tuple[tuple[int, ...], ...],
        bias: tuple[int, ...],
        input_shape,
        casts: tuple[Cast, ...],
        rows: int = 1,
        reuse_factor: int = 1,
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if not weights or not weights[0]:
            raise ValueError("a dense unit needs at least one weight")
        if any(len(row) != len(weights[0]) for row in weights):
            raise ValueError("every weight row must have the same length")
        if len(bias) != len(weights):
            raise ValueError("one bias per output neuron")
        if not casts:
            raise ValueError("at least one output cast")
        if reuse_factor < 1 or rows < 1:
            raise ValueError("reuse_factor and rows must be at least 1")
        self.weights = tuple(tuple(int(w) for w in row) for row in weights)
        self.bias = tuple(int(b) for b in bias)
        self.casts = tuple(casts)
        self.rows = rows
        self.reuse_factor = reuse_factor
        self.extra_latency = reuse_factor - 1
        self.ii = reuse_factor
        self.n_out, self.n_in = len(weights), len(weights[0])
        super().__init__(
            input_shape=input_shape,
            input_count=rows * self.n_in,
            output_shape=casts[-1].shape,
            output_count=rows * self.n_out,
            registers=registers,
            stall=stall,
        )

    def constants(self) -> list[int]:
        """What each neuron's sum starts from: its bias plus the first cast's rounding offset."""
        return [b + self.casts[0].rounding_constant for b in self.bias]

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        if self.reuse_factor == 1:
            sums = self._parallel_sums(pipeline, inputs)
        else:
            sums = self._reused_sums(m, pipeline, inputs)
        outputs = cast_stages(pipeline, sums, self.casts, rounded=True)
        return [term.value for term in outputs]

    # ---- reuse factor 1 ------------------------------------------------------------------

    def _parallel_sums(self, pipeline: Pipeline, inputs: list[Term]) -> list[Term]:
        rows = []
        for row in range(self.rows):
            offset = row * self.n_in
            for weights in self.weights:
                rows.append([(offset + k, w) for k, w in enumerate(weights)])
        return linear_sums(pipeline, inputs, rows, self.constants() * self.rows)

    # ---- reuse factor R > 1 ----------------------------------------------------------------

    def _reused_sums(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Term]:
        reuse = self.reuse_factor
        # boundary 0: the input latch, held for the R phases of one inference
        held, phase, active = latch_phases(m, pipeline, inputs, reuse)
        pipeline.valid = active
        pipeline.tags = [phase == 0, phase == reuse - 1]

        # select: every multiplier picks its (input, weight) pair of the current phase; the input
        # multiplexers are shared by all multipliers that pick the same inputs in the same phases
        inputs_chosen: list[Term] = []  # one per distinct input multiplexer
        mux_of: dict[tuple, int] = {}
        weights_chosen: list[Term] = []  # one per multiplier
        feeds: list[tuple[int, int]] = []  # per multiplier: (input multiplexer, owning neuron)
        mux_operators: list[Operator] = []
        rom_operators: list[Operator] = []
        weight_low = min(0, min(min(row) for row in self.weights))
        weight_high = max(0, max(max(row) for row in self.weights))
        weight_shape = shape_for_range(weight_low, weight_high)
        for row in range(self.rows):
            xs = held[row * self.n_in : (row + 1) * self.n_in]
            zero = Const(0, xs[0].value.shape())
            for neuron, weights in enumerate(self.weights):
                nonzero = [k for k, w in enumerate(weights) if w]
                per_phase = -(-len(nonzero) // reuse)
                for lane in range(per_phase):
                    picks = [
                        nonzero[p * per_phase + lane] if p * per_phase + lane < len(nonzero) else None
                        for p in range(reuse)
                    ]
                    # the phases that pick an input (past them, zero: synthesis keeps a choice
                    # among these alone, as the operators below count it)
                    used = max((p + 1 for p, k in enumerate(picks) if k is not None), default=1)
                    # pad to every value of the phase counter, so each multiplexer is complete
                    picks += [None] * ((1 << len(phase)) - len(picks))
                    key = (row, tuple(picks))
                    if key not in mux_of:
                        mux_of[key] = len(inputs_chosen)
                        choices = [xs[k].value if k is not None else zero for k in picks]
                        low = min(xs[0].low, 0)
                        chosen = choose(m, choices, phase, "operand")
                        inputs_chosen.append(Term(chosen, low, xs[0].high))
                        mux_operators.append(("mux", len(xs[0].value), used))
                    constants = [
                        Const(weights[k] if k is not None else 0, weight_shape) for k in picks
                    ]
                    weight = choose(m, constants, phase, "weight")
                    weights_chosen.append(Term(weight, weight_low, weight_high))
                    rom_operators.append(("rom", weight_shape.width, 1 << (used - 1).bit_length()))
                    feeds.append((mux_of[key], row * self.n_out + neuron))
        crossed = cross_terms(
            pipeline, "select", mux_operators + rom_operators, inputs_chosen + weights_chosen
        )
        inputs_chosen, weights_chosen = crossed[: len(inputs_chosen)], crossed[len(inputs_chosen) :]

        # multiply
        products, operators = [], []
        for (mux, _), w in zip(feeds, weights_chosen, strict=True):
            x = inputs_chosen[mux]
            corners = [x.low * w.low, x.low * w.high, x.high * w.low, x.high * w.high]
            low, high = min(corners), max(corners)
            products.append(Term(fit(x.value * w.value, low, high), low, high))
            operators.append(("multiply", x.width, w.width))
        products = cross_terms(pipeline, "multiply", operators, products)

        # per-neuron adder trees over the neuron's multipliers
        trees: list[list[Term]] = [[] for _ in range(self.rows * self.n_out)]
        for (_, owner), product in zip(feeds, products, strict=True):
            trees[owner].append(product)
        trees = [tree or [Term.constant(0)] for tree in trees]
        sums = reduce_trees(pipeline, trees, add_level, "add level")

        # accumulate the R partial sums, starting from each neuron's constant
        first, last = pipeline.tags
        accumulators, operators = [], []
        ranges = self._accumulator_ranges(inputs)
        statements = []
        for index, (partial, (low, high)) in enumerate(zip(sums, ranges, strict=True)):
            constant = self.constants()[index % self.n_out]
            accumulator = Signal(shape_for_range(low, high), name=f"acc{index}", reset_less=True)
            start = Mux(first, constant, accumulator)
            total = start - partial.value if partial.negated else start + partial.value
            statements.append(accumulator.eq(total))
            accumulators.append(Term(accumulator, low, high))
            operators.append(("add", len(accumulator), 0))  # the start choice folds into its LUTs
        bits = sum(len(term.value) for term in accumulators)
        pipeline.stage_forced("accumulate", operators, bits)
        with m.If(pipeline.valid):
            m.d.sync += statements
        done = Signal(name="acc_valid")
        m.d.sync += done.eq(pipeline.valid & last)
        pipeline.valid, pipeline.tags = done, []
        return accumulators

    def _accumulator_ranges(self, inputs: list[Term]) -> list[tuple[int, int]]:
        """Bounds on every partial sum of each neuron (any subset of its products)."""
        x_low, x_high = inputs[0].low, inputs[0].high
        ranges = []
        for _ in range(self.rows):
            for weights, constant in zip(self.weights, self.constants(), strict=True):
                low = high = constant
                for w in weights:
                    a, b = w * x_low, w * x_high
                    low += min(a, b, 0)
                    high += max(a, b, 0)
                ranges.append((low, high))
        return ranges


def linear_sums(
    pipeline: Pipeline,
    inputs: list[Term],
    rows: list[list[tuple[int, int]]],
    constants: list[int],
    *,
    started: bool = False,
) -> list[Term]:
    """Every ``sum_j inputs[index_j] * weight_j + constant`` at once: constant products (zero
    weights cost nothing), then pairwise adder trees, one pipeline step per level. ``rows`` holds
    each sum's (input index, weight) pairs. Shared by dense and convolution units.
    ``started``: the pipeline is already past boundary 0 (the inputs come from a line buffer)."""
    if not started:
        inputs = start_terms(pipeline, inputs)
    trees: list[list[Term]] = []
    operators: list[Operator] = []
    for pairs, constant in zip(rows, constants, strict=True):
        terms = []
        for index, weight in pairs:
            product, used = constant_multiply(inputs[index], weight)
            operators += used
            if product is not None:
                terms.append(product)
        if constant:
            terms.append(Term.constant(constant))
        trees.append(terms or [Term.constant(0)])
    trees = cross_groups(pipeline, "multiply", operators, trees)
    return reduce_trees(pipeline, trees, add_level, "add level")


def reduce_trees(
    pipeline: Pipeline, trees: list[list[Term]], level_of, name: str, *, wired: bool = False
) -> list[Term]:
    """Reduce every group to one term, one pipeline step per level of ``level_of`` (pairwise).
    ``wired``: each level's results are named wires (for a level that reads its operands more
    than once, such as a compare-and-select, whose expressions would otherwise grow as 4^levels).
    """
    return reduce_trees_carrying(pipeline, trees, level_of, name, [], wired=wired)[0]


def reduce_trees_carrying(
    pipeline: Pipeline, trees: list[list[Term]], level_of, name: str, carried: list[Term],
    *, wired: bool = False,
) -> tuple[list[Term], list[Term]]:
    """``reduce_trees`` with ``carried`` terms (values a later step still needs, such as a
    softmax's inputs beside their maximum) crossing every level's boundary alongside; returns
    the reduced terms and the carried ones."""
    carried = list(carried)
    for level in range(max(adder_tree_levels(len(tree)) for tree in trees)):
        operators: list[Operator] = []
        reduced = []
        for tree in trees:
            tree, used = level_of(tree)
            reduced.append(pipeline.wires(tree, f"{name.replace(' ', '_')}{level + 1}")
                           if wired else tree)
            operators += used
        carried, *trees = cross_groups(
            pipeline, f"{name} {level + 1}", operators, [carried, *reduced]
        )
    return [tree[0] for tree in trees], carried

"""LayerNormUnit: layer normalisation over rows of n elements, one table, no division.

Per row (see ``fxp.layer_norm``): ``S = sum x`` (adder tree), ``d_j = n x_j - S`` (a constant
multiply and a subtraction: the centred values, exact), ``s = sum d_j^2`` (multipliers and an
adder tree), ``r = table[clamp(s >> shift)]`` (the 1/sqrt table, a ROM read port with its
register), ``y_j = cast(d_j * r * scale_j + bias_j)`` (a multiplier, a constant multiply, the
bias with the rounding constant). Every step is a pipeline boundary the delay model may register.
"""

from __future__ import annotations

from amaranth.hdl import Module, Shape, Value

from rtlflow.rtl.arith import (
    Cast,
    Operator,
    Term,
    add,
    add_level,
    adder_tree_levels,
    constant_multiply,
    fit,
)
from rtlflow.rtl.matmul import product
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages, cross_terms, start_terms
from rtlflow.rtl.table import read_ports, table_index


class LayerNormUnit(Unit):
    """``y = cast(d * table(sum d^2) * scale + bias)`` with ``d = n x - sum x`` per row.

    Parameters
    ----------
    rows, n : ``rows`` independent rows of ``n`` elements.
    input_shape : shape of an input element.
    entries, entry_shape, shift : the table (unsigned entries), index ``s >> shift`` clamped.
    scale, bias : per element of a row, integers aligned to the final sum's LSB.
    casts : from that sum to the output.
    """

    def __init__(
        self,
        *,
        rows: int,
        n: int,
        input_shape,
        entries: tuple[int, ...],
        entry_shape,
        shift: int,
        scale: tuple[int, ...],
        bias: tuple[int, ...],
        casts: tuple[Cast, ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if len(entries) < 2 or len(entries) & (len(entries) - 1):
            raise ValueError("the table needs a power-of-two number of entries")
        if Shape.cast(entry_shape).signed:
            raise ValueError("the table holds unsigned entries")
        if len(scale) != n or len(bias) != n:
            raise ValueError("one scale and one bias per element of a row")
        self.rows, self.n = rows, n
        self.entries, self.entry_shape, self.shift = tuple(entries), entry_shape, shift
        self.scale, self.bias, self.casts = tuple(scale), tuple(bias), tuple(casts)
        super().__init__(
            input_shape=input_shape,
            input_count=rows * n,
            output_shape=casts[-1].shape,
            output_count=rows * n,
            registers=registers,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        n = self.n
        xs = start_terms(pipeline, inputs)
        rows = [xs[r * n : (r + 1) * n] for r in range(self.rows)]
        rows, sums = self._row_sums(pipeline, rows, "sum")

        # the centred values, n times too large: n x_j - S
        centred, operators = [], []
        for row, total in zip(rows, sums, strict=True):
            for x in row:
                scaled, used = constant_multiply(x, n)
                operators += used
                difference, operator = add(scaled, Term(total.value, total.low, total.high,
                                                        not total.negated))
                centred.append(difference)
                operators.append(operator)
        centred = cross_terms(pipeline, "centre", operators, centred)

        # squares, summed per row
        squares, operators = [], []
        for d in centred:
            squares.append(_square(d, operators))
        carried = cross_terms(pipeline, "square", operators, centred + squares)
        centred = carried[: len(centred)]
        grouped = [carried[len(centred) + r * n : len(centred) + (r + 1) * n]
                   for r in range(self.rows)]
        grouped, totals = self._row_sums(pipeline, grouped, "square sum", carry=centred)
        centred = grouped  # the carried centred values come back flat

        # 1/sqrt table
        index_bits = len(self.entries).bit_length() - 1
        indices, operators = [], []
        for total in totals:
            index, used = table_index(total, 0, self.shift, index_bits)
            indices.append(index)
            operators += used
        data, used = read_ports(m, pipeline, "rsqrt_table", self.entries, self.entry_shape, indices)
        values = pipeline.stage(
            "rsqrt table", operators + used, data + [d.value for d in centred],
            memory_reads=len(data),
        )
        reciprocals = [Term(v, 0, max(self.entries)) for v in values[: self.rows]]
        centred = [Term(v, d.low, d.high, d.negated)
                   for v, d in zip(values[self.rows :], centred, strict=True)]

        # normalised values, then scale and bias (with the first cast's rounding constant)
        normalised, operators = [], []
        for index, d in enumerate(centred):
            normalised.append(product(d, reciprocals[index // n], operators))
        normalised = cross_terms(pipeline, "normalise", operators, normalised)
        results, operators = [], []
        rounding = self.casts[0].rounding_constant
        for index, t in enumerate(normalised):
            scaled, used = constant_multiply(t, self.scale[index % n])
            operators += used
            constant = self.bias[index % n] + rounding
            if scaled is None:
                results.append(Term.constant(constant))
                continue
            if constant:
                scaled, operator = add(scaled, Term.constant(constant))
                operators.append(operator)
            results.append(scaled)
        results = cross_terms(pipeline, "scale", operators, results)
        return [t.value for t in cast_stages(pipeline, results, self.casts, rounded=True)]

    def _row_sums(
        self, pipeline: Pipeline, rows: list[list[Term]], name: str, carry: list[Term] | None = None
    ) -> tuple[list, list[Term]]:
        """Each row's sum by an adder tree, the rows (or ``carry``) carried alongside."""
        kept = [t for row in rows for t in row] if carry is None else list(carry)
        trees = [list(row) for row in rows]
        for level in range(adder_tree_levels(self.n)):
            operators: list[Operator] = []
            reduced = []
            for tree in trees:
                tree, used = add_level(tree)
                reduced.append(tree)
                operators += used
            crossed = cross_terms(
                pipeline, f"{name} level {level + 1}", operators,
                kept + [t for tree in reduced for t in tree],
            )
            kept, position, trees = crossed[: len(kept)], len(kept), []
            for tree in reduced:
                trees.append(crossed[position : position + len(tree)])
                position += len(tree)
        totals = [tree[0] for tree in trees]
        if carry is None:
            return [kept[r * self.n : (r + 1) * self.n] for r in range(self.rows)], totals
        return kept, totals


def _square(d: Term, operators: list[Operator]) -> Term:
    """``d * d``, never negative."""
    magnitude = max(abs(d.low), abs(d.high))
    low = 0 if d.low <= 0 <= d.high else min(d.low * d.low, d.high * d.high)
    operators.append(("multiply", d.width, d.width))
    return Term(fit(d.value * d.value, low, magnitude * magnitude), low, magnitude * magnitude)

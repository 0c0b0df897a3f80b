"""SoftmaxUnit: numerically stable softmax over rows of n elements, by two lookup tables.

Per row: ``m = max_i x_i`` (a tree of compare-and-select), ``d_i = m - x_i >= 0``,
``e_i = exp_entries[clamp(d_i >> exp_shift)]``, ``s = sum_i e_i`` (an adder tree),
``r = inv_entries[clamp((s - inv_start) >> inv_shift)]``, ``y_i = cast(e_i * r)``.
The exponential table holds exp(-d) and the reciprocal table 1/s; both are ROM read ports with
their own register.
"""

from __future__ import annotations

from amaranth.hdl import Module, Value

from rtlflow.rtl.arith import Cast, Term, add_level, fit, max_level
from rtlflow.rtl.dense import reduce_trees_carrying
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages, cross_terms, start_terms
from rtlflow.rtl.table import check_table, read_ports, table_index


class SoftmaxUnit(Unit):
    """Softmax over the last axis of a ``rows x n`` input.

    Parameters
    ----------
    rows, n : the input is ``rows`` independent rows of ``n`` elements.
    input_shape : shape of an input element.
    exp_entries, exp_shape, exp_shift : exp(-d) table (unsigned entries), index ``d >> shift``.
    inv_entries, inv_shape, inv_start, inv_shift : 1/s table, index ``(s - start) >> shift``.
    casts : from the product ``e * r`` to the output.

    Latency: the registers chosen plus the two memories'; throughput 1 per cycle.
    """

    def __init__(
        self,
        *,
        rows: int,
        n: int,
        input_shape,
        exp_entries: tuple[int, ...],
        exp_shape,
        exp_shift: int,
        inv_entries: tuple[int, ...],
        inv_shape,
        inv_start: int,
        inv_shift: int,
        casts: tuple[Cast, ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        check_table(exp_entries, exp_shape)
        check_table(inv_entries, inv_shape)
        self.rows, self.n = rows, n
        self.exp_entries, self.exp_shape, self.exp_shift = tuple(exp_entries), exp_shape, exp_shift
        self.inv_entries, self.inv_shape = tuple(inv_entries), inv_shape
        self.inv_start, self.inv_shift = inv_start, inv_shift
        self.casts = tuple(casts)
        super().__init__(
            input_shape=input_shape,
            input_count=rows * n,
            output_shape=casts[-1].shape,
            output_count=rows * n,
            registers=registers,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        xs = start_terms(pipeline, inputs)
        rows = [xs[r * self.n : (r + 1) * self.n] for r in range(self.rows)]

        # maximum of each row, the inputs carried alongside
        maxima, xs = reduce_trees_carrying(
            pipeline, rows, max_level, "max level", xs, wired=True
        )
        rows = [xs[r * self.n : (r + 1) * self.n] for r in range(self.rows)]

        # differences to the maximum, then the exponential table
        differences, operators = [], []
        for row, maximum in zip(rows, maxima, strict=True):
            for x in row:
                low, high = max(maximum.low - x.high, 0), maximum.high - x.low
                difference = Term(fit(maximum.value - x.value, low, high), low, high)
                differences.append(difference)
                operators.append(("add", difference.width, 0))
        differences = cross_terms(pipeline, "subtract", operators, differences)
        exp_bits = len(self.exp_entries).bit_length() - 1
        indices, operators = [], []
        for difference in differences:
            index, used = table_index(difference, 0, self.exp_shift, exp_bits)
            indices.append(index)
            operators += used
        data, used = read_ports(m, pipeline, "exp_table", self.exp_entries, self.exp_shape, indices)
        data = pipeline.stage("exp table", operators + used, data, memory_reads=len(data))
        exp_high = max(self.exp_entries)
        exponentials = [Term(value, 0, exp_high) for value in data]

        # sum of each row, the exponentials carried alongside
        rows = [exponentials[r * self.n : (r + 1) * self.n] for r in range(self.rows)]
        sums, exponentials = reduce_trees_carrying(
            pipeline, rows, add_level, "sum level", exponentials
        )

        # reciprocal of each sum
        inv_bits = len(self.inv_entries).bit_length() - 1
        indices, operators = [], []
        for total in sums:
            index, used = table_index(total, self.inv_start, self.inv_shift, inv_bits)
            indices.append(index)
            operators += used
        data, used = read_ports(m, pipeline, "inv_table", self.inv_entries, self.inv_shape, indices)
        carried = pipeline.stage(
            "inverse table", operators + used, data + [e.value for e in exponentials],
            memory_reads=len(data),
        )
        inv_high = max(self.inv_entries)
        reciprocals = [Term(value, 0, inv_high) for value in carried[: self.rows]]
        exponentials = [
            Term(value, e.low, e.high)
            for value, e in zip(carried[self.rows :], exponentials, strict=True)
        ]

        # products
        products, operators = [], []
        for index, e in enumerate(exponentials):
            r = reciprocals[index // self.n]
            high = e.high * r.high
            products.append(Term(fit(e.value * r.value, 0, high), 0, high))
            operators.append(("multiply", e.width, r.width))
        products = cross_terms(pipeline, "multiply", operators, products)
        return [term.value for term in cast_stages(pipeline, products, self.casts)]

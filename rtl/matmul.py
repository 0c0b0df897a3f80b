"""MatMulUnit: products of two run-time tensors (``a @ b``), summed per output element.

Unlike a dense layer no operand is a constant, so every product is a real multiplier, except
where an operand is a single unsigned bit (an incidence or adjacency matrix of 0/1 entries): that
product is a selection, ``b if a else 0``, and the unit is selection and summation logic only.
Each output sums its products (and the first cast's rounding constant) in a pairwise adder tree,
then the output casts. II = 1.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Shape, Value

from rtlflow.rtl.arith import Cast, Operator, Term, add_level, fit
from rtlflow.rtl.dense import reduce_trees
from rtlflow.rtl.pipeline import Pipeline, Unit, cast_stages, cross_groups, start_terms


class MatMulUnit(Unit):
    """``y[o] = cast(sum_{(i, j) in pairs[o]} a[i] * b[j])``.

    Parameters
    ----------
    a_shape, a_count ; b_shape, b_count : element shapes and counts of the two operands.
    pairs : per output element, the (flat a element, flat b element) pairs of its sum.
    casts : from the exact sum (LSB = a's LSB x b's LSB) to the output.
    """

    def __init__(
        self,
        *,
        a_shape: Shape,
        a_count: int,
        b_shape: Shape,
        b_count: int,
        pairs: tuple[tuple[tuple[int, int], ...], ...],
        casts: tuple[Cast, ...],
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        self.a_count, self.pairs, self.casts = a_count, tuple(pairs), tuple(casts)
        super().__init__(
            input_shape=a_shape,
            input_count=a_count + b_count,
            output_shape=casts[-1].shape,
            output_count=len(pairs),
            registers=registers,
            stall=stall,
            input_groups=((a_shape, a_count), (b_shape, b_count)),
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        inputs = start_terms(pipeline, inputs)
        a, b = inputs[: self.a_count], inputs[self.a_count :]
        rounding = self.casts[0].rounding_constant
        trees, operators = [], []
        for pairs in self.pairs:
            tree = [product(a[i], b[j], operators) for i, j in pairs]
            if rounding:
                tree.append(Term.constant(rounding))
            trees.append(tree or [Term.constant(0)])
        trees = cross_groups(pipeline, "multiply", operators, trees)
        sums = reduce_trees(pipeline, trees, add_level, "add level")
        return [t.value for t in cast_stages(pipeline, sums, self.casts, rounded=True)]


def product(x: Term, y: Term, operators: list[Operator]) -> Term:
    """``x * y`` of two run-time values: a selection when one is a 0/1 bit, else a multiplier."""
    if (y.low, y.high) == (0, 1):
        x, y = y, x
    if (x.low, x.high) == (0, 1):
        operators.append(("select", y.width, 0))
        return Term(Mux(x.value, y.value, 0), min(y.low, 0), max(y.high, 0))
    corners = [x.low * y.low, x.low * y.high, x.high * y.low, x.high * y.high]
    low, high = min(corners), max(corners)
    operators.append(("multiply", x.width, y.width))
    return Term(fit(x.value * y.value, low, high), low, high)

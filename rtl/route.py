"""RouteUnit: elements moved, not computed: transpose, zero padding, concatenation.

Each output element is one input element (possibly through a format cast, for a concatenation
of differently formatted tensors) or a constant zero. Without casts the unit is wiring only:
no logic, no registers unless the schedule puts the design's output register here.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Shape, Value

from rtlflow.rtl.arith import Cast, Term, apply_cast, extend
from rtlflow.rtl.pipeline import Pipeline, Unit, cross_terms, start_terms


class RouteUnit(Unit):
    """``y[i] = cast_g(x[sources[i]])``, or where ``sources[i]`` is -1 the next constant of
    ``fill`` (0 when ``fill`` is empty).

    Parameters
    ----------
    input_groups : (shape, count) of each input tensor, in order.
    sources : for each output element the flat input index (over all groups), or -1 for zero.
    casts : per input group, the cast into the output format (None: the same format).
    output_shape : the output element shape.
    fill : raw constants (in the output format) for the -1 sources, in order (a class token).
    """

    def __init__(
        self,
        *,
        input_groups: tuple[tuple[Shape, int], ...],
        sources: tuple[int, ...],
        casts: tuple[Cast | None, ...],
        output_shape: Shape,
        fill: tuple[int, ...] = (),
        registers: tuple[int, ...] | frozenset[int] = (),
        stall: bool = False,
    ):
        if len(casts) != len(input_groups):
            raise ValueError("one cast (or None) per input group")
        if fill and len(fill) != sum(1 for s in sources if s < 0):
            raise ValueError("one fill constant per -1 source")
        self.sources, self.casts, self.fill = tuple(sources), tuple(casts), tuple(fill)
        super().__init__(
            input_shape=input_groups[0][0],
            input_count=sum(count for _, count in input_groups),
            output_shape=output_shape,
            output_count=len(sources),
            registers=registers,
            stall=stall,
            input_groups=input_groups,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        inputs = start_terms(pipeline, inputs)
        group_of = [g for g, (_, count) in enumerate(self.input_groups) for _ in range(count)]
        if any(cast is not None for cast in self.casts):
            converted, operators = [], []
            for term, group in zip(inputs, group_of, strict=True):
                cast = self.casts[group]
                if cast is not None:
                    term, used = apply_cast(term, cast)
                    operators += used
                converted.append(term)
            inputs = cross_terms(pipeline, "cast", operators, converted)
        shape = Shape.cast(self.output_shape)
        outputs = []
        constants = iter(self.fill)
        for source in self.sources:
            if source < 0:
                outputs.append(Const(next(constants, 0), shape))
            else:  # extended by its own sign to the output width (a cast may leave it narrower)
                value = extend(inputs[source].value, shape.width)[: shape.width]
                outputs.append(value.as_signed() if shape.signed else value)
        return outputs

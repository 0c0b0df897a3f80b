"""DelayUnit: a vector delayed by a fixed number of clock cycles (latency balancing)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Value

from rtlflow.rtl.arith import Term
from rtlflow.rtl.pipeline import Pipeline, Unit


class DelayUnit(Unit):
    """``y`` is ``x`` from ``cycles`` cycles earlier. Latency ``cycles``; throughput 1 per cycle."""

    def __init__(self, *, shape, count: int, cycles: int, stall: bool = False):
        if cycles < 1:
            raise ValueError("a delay is at least one cycle")
        self.cycles = cycles
        super().__init__(
            input_shape=shape, input_count=count, output_shape=shape, output_count=count,
            stall=stall,
        )

    def build(self, m: Module, pipeline: Pipeline, inputs: list[Term]) -> list[Value]:
        # the vector as one value: one register a cycle, not one per element (a balance of
        # hundreds of cycles over thousands of elements is otherwise 10^5 signals to build)
        (line,) = pipeline.start([Cat(term.value for term in inputs)])
        for _ in range(self.cycles):
            (line,) = pipeline.stage("delay", [], [line], force=True)
        width, signed = self.input_shape.width, self.input_shape.signed
        elements = [line[i * width : (i + 1) * width] for i in range(self.input_count)]
        return [e.as_signed() if signed else e for e in elements]

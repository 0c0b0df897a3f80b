"""DelayUnit: a vector delayed by a fixed number of clock cycles (latency balancing)."""

from __future__ import annotations

from amaranth.hdl import Module, Value

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
        values = pipeline.start([term.value for term in inputs])
        for _ in range(self.cycles):
            values = pipeline.stage("delay", [], values, force=True)
        return values

"""cocotb testbench for an rtlflow design, driven only by its report.json and test vectors.

Copied into every output directory as ``tb/test_design.py``; it needs cocotb and numpy, not
rtlflow. It drives the inference inputs back to back at the design's full rate, checks every
output bit for bit against the expected vectors (the bit-exact emulator's outputs), and measures
latency and initiation interval as report.json defines them: an inference accepted in cycle t
(valid and ready high) whose output is presented with valid high in cycle t + L has latency L.
A second pass, with ``RTLFLOW_GAPS`` > 0, leaves random idle cycles between inferences (and
between beats), and, when the outputs have ``ready``, holds ``ready`` low in random cycles
(backpressure).

Streamed inputs (``beats`` > 1) are sent as ``beats`` chunks of the tensor after transposing it
by the port's ``order`` (a pixel with all its channels per beat); latency counts from the first
beat of an inference.

Environment: RTLFLOW_OUTDIR (default: the directory above this file), RTLFLOW_RESULTS (where
the results JSON goes), RTLFLOW_GAPS (probability of an idle cycle), RTLFLOW_SEED,
RTLFLOW_VECTORS (other test vectors than tb/vectors.npz). With RTLFLOW_TRACE (a JSON file naming
unit instances and a results file) the bench instead sends the first sample alone and records
each instance's first output: where a design departs from the emulator, layer by layer.

Timing: inputs are written just after a rising edge; everything the design presents during a
cycle (outputs, ``ready``) is sampled at that cycle's falling edge, when it has settled.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

OUTDIR = Path(os.environ.get("RTLFLOW_OUTDIR", Path(__file__).resolve().parent.parent))
CLOCK_PERIOD_NS = 10


def pack(elements: np.ndarray, width: int) -> int:
    """Flattened tensor → data port value: element i at bits [i*W, (i+1)*W)."""
    value, mask = 0, (1 << width) - 1
    for index, element in enumerate(np.asarray(elements).reshape(-1).tolist()):
        value |= (int(element) & mask) << (index * width)
    return value


def unpack(value: int, count: int, width: int, signed: bool) -> list[int]:
    """Data port value → flattened tensor elements (two's complement when signed)."""
    mask, elements = (1 << width) - 1, []
    for index in range(count):
        element = (value >> (index * width)) & mask
        if signed and element >> (width - 1):
            element -= 1 << width
        elements.append(element)
    return elements


class Cycles:
    """Counts rising clock edges; cycle t is the time between edge t and edge t + 1."""

    def __init__(self, clock):
        self.clock, self.now = clock, 0

    async def run(self) -> None:
        while True:
            await RisingEdge(self.clock)
            self.now += 1


def beats_of(port: dict, tensor: np.ndarray) -> list[np.ndarray]:
    """The chunks of a tensor as the port takes them, first beat first."""
    order = port.get("order")
    flat = np.transpose(np.asarray(tensor), order).reshape(-1) if order else np.asarray(tensor).reshape(-1)
    return np.split(flat, port.get("beats", 1))


class Driver:
    """Presents each inference (beat by beat when streamed), honouring ``ready`` if present."""

    def __init__(self, dut, manifest: dict, cycles: Cycles):
        self.dut, self.cycles = dut, cycles
        self.inputs = manifest["inputs"]
        self.valid = getattr(dut, self.inputs[0]["valid"])
        ready = self.inputs[0]["ready"]
        self.ready = getattr(dut, ready) if ready else None
        self.accepted: list[int] = []  # cycle of each inference's first beat

    async def send(self, samples: list[list[np.ndarray]], gaps: float, rng: random.Random) -> None:
        for sample in samples:
            chunks = [beats_of(port, tensor) for port, tensor in zip(self.inputs, sample, strict=True)]
            for beat in range(len(chunks[0])):
                while gaps and rng.random() < gaps:
                    self.valid.value = 0
                    await RisingEdge(self.dut.clk)
                for port, parts in zip(self.inputs, chunks, strict=True):
                    getattr(self.dut, port["data"]).value = pack(parts[beat], port["format"]["width"])
                self.valid.value = 1
                cycle = await self._transfer()
                if beat == 0:
                    self.accepted.append(cycle)
        self.valid.value = 0

    async def _transfer(self) -> int:
        """Hold valid until the design takes the data; the cycle in which it did."""
        while True:
            await FallingEdge(self.dut.clk)
            await ReadOnly()
            taken = self.ready is None or int(self.ready.value) == 1
            cycle = self.cycles.now
            await RisingEdge(self.dut.clk)
            if taken:
                return cycle


class Backpressure:
    """Drives the outputs' ``ready``: always high, or low in random cycles."""

    def __init__(self, dut, manifest: dict):
        ready = manifest["outputs"][0].get("ready")
        self.ready = getattr(dut, ready) if ready else None
        self.dut = dut

    def set(self, value: int) -> None:
        if self.ready is not None:
            self.ready.value = value

    async def run(self, probability: float, rng: random.Random) -> None:
        while self.ready is not None:
            await RisingEdge(self.dut.clk)
            self.ready.value = 0 if rng.random() < probability else 1


class Monitor:
    """Records every output presented with ``valid`` high, with its cycle."""

    def __init__(self, dut, manifest: dict, cycles: Cycles):
        self.dut, self.cycles = dut, cycles
        self.outputs = manifest["outputs"]
        self.valid = getattr(dut, self.outputs[0]["valid"])
        ready = self.outputs[0].get("ready")
        self.ready = getattr(dut, ready) if ready else None
        self.seen: list[tuple[int, list[list[int]]]] = []

    async def run(self) -> None:
        while True:
            await FallingEdge(self.dut.clk)
            await ReadOnly()
            taken = self.ready is None or int(self.ready.value) == 1
            if int(self.valid.value) == 1 and taken:
                tensors = []
                for port in self.outputs:
                    fmt = port["format"]
                    count = int(np.prod(port["shape"]))
                    value = int(getattr(self.dut, port["data"]).value)
                    tensors.append(unpack(value, count, fmt["width"], fmt["signed"]))
                self.seen.append((self.cycles.now, tensors))


class Scoreboard:
    """Compares observed outputs with the expected vectors, in order."""

    def __init__(self, expected: list[list[np.ndarray]]):
        self.expected = expected
        self.mismatches: list[dict] = []

    def check(self, observed: list[tuple[int, list[list[int]]]]) -> int:
        """Compare in order; returns how many outputs were compared."""
        observed = observed[: len(self.expected)]
        for index, (_, tensors) in enumerate(observed):
            want = [np.asarray(t).reshape(-1).tolist() for t in self.expected[index]]
            if tensors != want and len(self.mismatches) < 10:
                self.mismatches.append({"sample": index, "got": tensors, "expected": want})
            elif tensors != want:
                self.mismatches.append({"sample": index})
        return len(observed)


def load_vectors(manifest: dict) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    vectors = np.load(os.environ.get("RTLFLOW_VECTORS") or OUTDIR / "tb" / "vectors.npz")
    inputs = [vectors[f"input{i}"] for i in range(len(manifest["inputs"]))]
    outputs = [vectors[f"output{i}"] for i in range(len(manifest["outputs"]))]
    samples = [[tensor[n] for tensor in inputs] for n in range(len(inputs[0]))]
    expected = [[tensor[n] for tensor in outputs] for n in range(len(outputs[0]))]
    return samples, expected


async def run_pass(dut, manifest, cycles, samples, gaps, rng):
    """Send ``samples``; wait for their outputs (or for a generous timeout)."""
    driver, monitor = Driver(dut, manifest, cycles), Monitor(dut, manifest, cycles)
    backpressure = Backpressure(dut, manifest)
    backpressure.set(1)
    watch = cocotb.start_soon(monitor.run())
    pressure = cocotb.start_soon(backpressure.run(gaps, rng)) if gaps > 0 else None
    await driver.send(samples, gaps, rng)
    slack = 4 if gaps > 0 else 1  # cycles with ready low stretch the tail
    deadline = cycles.now + slack * (manifest["latency_cycles"] + 4 * manifest["initiation_interval"]) + 20
    while len(monitor.seen) < len(samples) and cycles.now < deadline:
        await RisingEdge(dut.clk)
    if pressure is not None:
        pressure.cancel()
    backpressure.set(1)
    for _ in range(3):  # outputs beyond the expected ones would be a fault too
        await RisingEdge(dut.clk)
    watch.cancel()
    return driver.accepted, monitor.seen


async def start(dut, manifest: dict) -> Cycles:
    """Clock, cycle counter, idle inputs, reset."""
    cocotb.start_soon(Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start())
    cycles = Cycles(dut.clk)
    cocotb.start_soon(cycles.run())
    reset = getattr(dut, manifest["reset"]["port"])
    active = 1 if manifest["reset"]["active"] == "high" else 0
    getattr(dut, manifest["inputs"][0]["valid"]).value = 0
    Backpressure(dut, manifest).set(1)
    reset.value = active
    for _ in range(3):
        await RisingEdge(dut.clk)
    reset.value = 1 - active
    return cycles


async def trace_units(dut, manifest: dict, trace: dict) -> None:
    """Send the first sample alone; record the first output (``y``, valid high) of each unit
    instance ``trace["instances"]`` names, into ``trace["results"]``."""
    samples, _ = load_vectors(manifest)
    cycles = await start(dut, manifest)
    pending = {name: getattr(dut, name) for name in trace["instances"]}
    seen: dict[str, str] = {}
    cocotb.start_soon(Driver(dut, manifest, cycles).send(samples[:1], 0.0, random.Random(1)))
    deadline = cycles.now + 2 * manifest["latency_cycles"] + 8 * manifest["initiation_interval"] + 20
    while pending and cycles.now < deadline:
        await FallingEdge(dut.clk)
        await ReadOnly()
        for name, unit in list(pending.items()):
            if int(unit.y__valid.value) == 1:
                seen[name] = str(int(unit.y__payload.value))
                del pending[name]
        await RisingEdge(dut.clk)
    Path(trace["results"]).write_text(json.dumps(seen, indent=1))


@cocotb.test()
async def test_design(dut):
    manifest = json.loads((OUTDIR / "report.json").read_text())
    if os.environ.get("RTLFLOW_TRACE"):
        await trace_units(dut, manifest, json.loads(Path(os.environ["RTLFLOW_TRACE"]).read_text()))
        return
    samples, expected = load_vectors(manifest)
    gaps = float(os.environ.get("RTLFLOW_GAPS", "0"))
    rng = random.Random(int(os.environ.get("RTLFLOW_SEED", "1")))
    cycles = await start(dut, manifest)

    scoreboard = Scoreboard(expected)
    accepted, seen = await run_pass(dut, manifest, cycles, samples, 0.0, rng)
    checked = scoreboard.check(seen)
    latencies = sorted({out[0] - start for out, start in zip(seen, accepted)})
    intervals = sorted({b - a for a, b in zip(accepted, accepted[1:])})
    passes = [seen]
    if gaps > 0:
        _, gapped = await run_pass(dut, manifest, cycles, samples, gaps, rng)
        checked += scoreboard.check(gapped)
        passes.append(gapped)

    results = {
        "samples": len(samples),
        "checked": checked,
        "missing": sum(max(0, len(samples) - len(p)) for p in passes),
        "unexpected": sum(max(0, len(p) - len(samples)) for p in passes),
        "mismatches": len(scoreboard.mismatches),
        "first_mismatches": scoreboard.mismatches[:10],
        "latency_cycles": latencies,
        "reported_latency_cycles": manifest["latency_cycles"],
        "initiation_interval": intervals[0] if intervals else None,
        "reported_initiation_interval": manifest["initiation_interval"],
        "gaps": gaps,
    }
    results["passed"] = (
        results["missing"] == 0
        and results["unexpected"] == 0
        and results["mismatches"] == 0
        and latencies == [manifest["latency_cycles"]]
        and (len(samples) < 2 or intervals == [manifest["initiation_interval"]])
    )
    target = os.environ.get("RTLFLOW_RESULTS")
    if target:
        Path(target).write_text(json.dumps(results, indent=1))
    assert results["missing"] == 0, f"{results['missing']} inferences produced no output"
    assert results["unexpected"] == 0, f"{results['unexpected']} outputs without an inference"
    assert results["mismatches"] == 0, f"{results['mismatches']} outputs differ: {results['first_mismatches'][:2]}"
    assert latencies == [manifest["latency_cycles"]], f"latency {latencies} != reported {manifest['latency_cycles']}"
    if len(samples) > 1:
        assert intervals == [manifest["initiation_interval"]], f"II {intervals} != reported {manifest['initiation_interval']}"

"""report.json (the interface manifest, docs/manifest.md), built from the scheduled circuit level
(its text rendering: ``rtlflow.report_text``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xdsl.dialects.builtin import ModuleOp

from rtlflow.delay_model import SRL_MIN_LENGTH, Resources, plan_resources
from rtlflow.dialects import circuit, fxp
from rtlflow.dialects.arrays import WINDOW_PROPERTIES
from rtlflow.dialects.traits import HasTables
from rtlflow.emit_verilog import Port, VerilogDesign, design_function
from rtlflow.numerics.fixed_point import worst_case_bits
from rtlflow.parts import Target
from rtlflow.units import unit_spec

MANIFEST_VERSION = 1


def _format(fmt: fxp.FixedFormat) -> dict[str, Any]:
    return {"width": fmt.width, "int": fmt.int_bits, "signed": fmt.signed}


def _port(
    port: Port, valid: str, ready: str | None, beats: int = 1, channels_last: bool = False
) -> dict[str, Any]:
    entry = {
        "name": port.name,
        "shape": list(port.shape),
        "format": _format(port.format),
        "precision": str(port.format),
        "data": f"{port.base}_data",
        "valid": valid,
        "ready": ready,
        "beats": beats,
    }
    if beats > 1 and not channels_last:  # a pixel per beat: channels last, in raster order
        rank = len(port.shape)
        entry["order"] = [0, *range(2, rank), 1]
    return entry


def _layer(
    op, family: str, continued: frozenset[circuit.DelayOp]
) -> tuple[dict[str, Any], Resources, list[dict[str, Any]]]:
    spec = unit_spec(op)
    plan = spec.plan()
    if isinstance(op, circuit.DelayOp):
        registers = plan.forced | ({0} if op in continued else set())
        entry = {"name": "latency balance", "op": "delay", "latency_cycles": op.cycles.value.data}
        entry["ii"] = 1
    elif isinstance(op, circuit.CollectOp):
        registers = plan.forced
        entry = {"name": "collect stream", "op": "collect", "latency_cycles": 1, "ii": 1}
        entry["beats"] = op.beats.value.data
    else:
        registers = frozenset(op.register_boundaries)
        inner = op.inner
        entry = {
            "name": op.node_name,
            "op": "attention" if len(op.ops) > 1 else inner.name.removeprefix("fxp."),
            "latency_cycles": op.latency.value.data,
            "ii": op.ii.value.data,
            "input": str(inner.input_format),
            "result": str(op.ops[-1].output_format),
        }
        if len(op.ops) > 1:  # a chain folded as one unit
            entry["fused"] = [chained.node_name for chained in op.ops
                              if isinstance(chained, fxp.MatMulOp | fxp.SoftmaxOp)]  # fmt: skip
            entry["reuse_factor"] = inner.reuse_factor.value.data
        if isinstance(inner, fxp.WeightedOp):
            entry |= {
                "weight": str(inner.weight_type.format),
                "bias": str(inner.bias_type.format),
                "accumulator": str(inner.accumulator.format),
                "zero_weights": int((inner.weights == 0).sum()),
            }
        if isinstance(inner, fxp.DenseOp):
            entry |= {
                "shape": [inner.weight.get_shape()[1], inner.weight.get_shape()[0]],
                "accumulator_worst_case_bits": worst_case_bits(
                    inner.input_format, inner.weight_type.format, inner.weight.get_shape()[1]
                ),
                "reuse_factor": inner.reuse_factor.value.data,
            }
        if isinstance(inner, fxp.WindowOp):
            window = inner.window
            entry["style"] = inner.style.data
            entry |= {name: list(getattr(window, name)) for name in WINDOW_PROPERTIES}
        if isinstance(inner, fxp.ConvOp):
            entry["group"] = inner.group.value.data
            if inner.style.data == "parallel" and inner.reuse_factor is not None:
                entry["reuse_factor"] = inner.reuse_factor.value.data
        if circuit.beats_of(inner) > 1:
            entry["beats"] = circuit.beats_of(inner)
    resources = plan_resources(plan, registers, family)
    if isinstance(op, circuit.DelayOp) and op in continued:  # the valid bit is the reader's
        resources = resources + Resources(ff=-1)
    if isinstance(op, circuit.UnitOp):  # the input register that continues a delay's SRLs
        resources = resources + Resources(ff=-sum(
            unit_spec(source.owner).plan().input_bits
            for source in op.inputs
            if isinstance(source.owner, circuit.DelayOp) and source.owner in continued
        ))
    resources = Resources(resources.lut, resources.ff, resources.dsp, math.ceil(resources.bram18))
    if resources.dsp:
        entry["dsp_use"] = _dsp_use(op)
    entry["module"] = spec.module_name(registers)
    entry["registers"] = sorted(registers)
    entry["steps"] = [step.name for step in plan.steps]
    entry["resources"] = resources.as_dict()
    return entry, resources, _tables(op)


def _dsp_use(op) -> str:
    """Why a layer uses DSP slices."""
    if isinstance(op, circuit.UnitOp) and op.graph is not None:
        products = sum(1 for inner in op.graph.ops if inner.name == "shiftadd.multiply")
        plural = "s" if products != 1 else ""
        return f"{products} constant product{plural} on DSP slices, the costliest as shift-add logic"
    if isinstance(op, circuit.UnitOp) and isinstance(op.inner, fxp.DenseOp):
        return "reuse-factor multipliers: each takes a different weight in each phase"
    return "products of run-time values"


def _tables(op) -> list[dict[str, Any]]:
    if not isinstance(op, circuit.UnitOp):
        return []
    tables = [table for inner in op.ops if inner.has_trait(HasTables)
              for table in inner.lookup_tables()]  # fmt: skip
    return [
        {
            "layer": op.node_name,
            "function": table.function,
            "input_range": [table.low, table.high],
            "entries": table.entries,
            "format": table.format,
        }
        for table in tables
    ]


@dataclass(frozen=True)
class Estimate:
    """The analytical resource estimate of a scheduled design: per layer (report entries), its
    tables, the total, and the total against the part."""

    layers: list[dict[str, Any]]
    tables: list[dict[str, Any]]
    used: dict[str, int]
    available: dict[str, int]

    @property
    def utilization(self) -> dict[str, float]:
        """Per resource, percent of the part."""
        return {key: 100.0 * self.used[key] / self.available[key] for key in self.available}

    def beyond(self, percent: float) -> dict[str, float]:
        """The resources the design needs more than ``percent`` % of: resource -> its share."""
        return {key: share for key, share in self.utilization.items() if share > percent}


def _continued(ops) -> frozenset[circuit.DelayOp]:
    """The latency balances whose only reader registers them at its boundary 0 (a chosen
    register, not a latch with an enable): synthesis makes that register one more stage of the
    balance's shift register, so it is counted there, as the delay's, not the reader's."""
    continued = set()
    for op in ops:
        if not isinstance(op, circuit.DelayOp) or op.cycles.value.data + 1 < SRL_MIN_LENGTH:
            continue
        readers = {use.operation for use in op.output.uses}
        reader = next(iter(readers)) if len(readers) == 1 else None
        if (
            isinstance(reader, circuit.UnitOp)
            and 0 in reader.register_boundaries
            and 0 not in unit_spec(reader).plan().forced
            and sum(source is op.output for source in reader.inputs) == 1
        ):
            continued.add(op)
    return frozenset(continued)


def estimate(module: ModuleOp, target: Target) -> Estimate:
    """Every unit's resources from its plan and registers (``delay_model``), summed."""
    layers, tables, total = [], [], Resources()
    ops = list(design_function(module).body.block.ops)
    continued = _continued(ops)
    for op in ops:
        if isinstance(op, circuit.UnitOp | circuit.DelayOp | circuit.CollectOp):
            entry, resources, unit_tables = _layer(op, target.part.family, continued)
            layers.append(entry)
            tables += unit_tables
            total = total + resources
    part = target.part
    return Estimate(
        layers,
        tables,
        total.as_dict() | {"bram18": int(total.bram18)},
        {"lut": part.lut, "ff": part.ff, "dsp": part.dsp, "bram18": part.bram18},
    )


def build_report(
    module: ModuleOp,
    design: VerilogDesign,
    target: Target,
    version: str,
    estimated: Estimate | None = None,
) -> dict[str, Any]:
    """The manifest for a scheduled circuit-level module and its emitted Verilog
    (``estimated``: its ``estimate``, when already made)."""
    function = design_function(module)
    attrs = function.attributes
    clock_mhz = attrs[circuit.CLOCK_MHZ].value.data  # type: ignore[attr-defined]
    fmax = attrs[circuit.FMAX_MHZ].value.data  # type: ignore[attr-defined]
    latency = attrs[circuit.LATENCY].value.data  # type: ignore[attr-defined]
    ready = "in_ready" if design.ii > 1 or design.streaming else None
    beats = design.input_beats or (1,) * len(design.inputs)
    channels_last = circuit.input_channels_last(function)
    estimated = estimated or estimate(module, target)
    layers, tables, used = estimated.layers, estimated.tables, estimated.used
    part = target.part
    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": f"rtlflow {version}",
        "top": design.top,
        "sources": list(design.sources),
        "simulation": {
            "models": list(design.simulation_models),
            "behavioural": {source: model for source, model in design.behavioural},
        },
        "clock": {"port": "clk", "target_mhz": clock_mhz, "estimated_fmax_mhz": fmax},
        "reset": {"port": "rst", "active": "high", "synchronous": True},
        "inputs": [
            _port(p, "in_valid", ready, b, last)
            for p, b, last in zip(design.inputs, beats, channels_last, strict=True)
        ],
        "outputs": [
            _port(p, "out_valid", "out_ready" if design.streaming else None)
            for p in design.outputs
        ],
        "latency_cycles": latency,
        "latency_ns": round(latency * 1000.0 / clock_mhz, 3),
        "latency_ns_at_estimated_fmax": round(latency * 1000.0 / fmax, 3),
        "initiation_interval": design.ii,
        "layers": layers,
        "tables": tables,
        "resources": used
        | {
            "method": (
                f"analytical estimate before synthesis (rtlflow operator model, "
                f"{part.family} speed grade -{target.speed_grade})"
            )
        },
        "part": {
            "name": target.full_name,
            **estimated.available,
            "utilization": {key: round(v, 4) for key, v in estimated.utilization.items()},
        },
    }

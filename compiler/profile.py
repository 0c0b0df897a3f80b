"""Profiling: every layer's values against its fixed-point formats (report.json ``profile``).

hls4ml's profiling plot, for the layers of the real hardware: per layer, the result format's
representable range and LSB, the range of its constants (weights, biases, scales, offsets: the
float model's values and those the hardware holds) against their formats and, when inputs were
given, the range its results took on them (the float model's and the emulated, from
``fidelity.layer_errors``). A value above a format's largest magnitude wraps or saturates; a
non-zero value below its LSB rounds to zero or to one LSB.
"""

from __future__ import annotations

from typing import Any

from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp
from xdsl.ir import Operation

from rtlflow.dialects import fxp, nn
from rtlflow.dialects.arrays import numpy_from_dense
from rtlflow.emit_verilog import design_function
from rtlflow.fidelity import value_range
from rtlflow.numerics.fixed_point import FixedFormat

#: the float model's name of an fxp constant, where it differs
FLOAT_NAMES = {"offset": "shift"}


def format_entry(fmt: FixedFormat) -> dict[str, Any]:
    """A format as the profile gives it: its text, representable range and LSB."""
    return {"format": str(fmt), "representable": [fmt.min_value, fmt.max_value], "lsb": fmt.lsb}


def _constants(op: Operation, float_op: Operation | None) -> list[dict[str, Any]]:
    """Every constant tensor of an fxp op that has a fixed-point type (``X`` with ``X_type``):
    its format and the range of the values the hardware holds and, where the float model's op
    of the same node holds a tensor of the same size, of the float values."""
    found = []
    for name, attr in op.properties.items():
        kind = op.properties.get(f"{name}_type")
        if not isinstance(attr, DenseIntOrFPElementsAttr) or not isinstance(kind, fxp.FixedType):
            continue
        fmt = kind.format
        entry = {"name": name, **format_entry(fmt), "hardware": value_range(fmt.to_float(
            numpy_from_dense(attr)))}  # fmt: skip
        original = float_op.properties.get(FLOAT_NAMES.get(name, name)) if float_op else None
        if isinstance(original, DenseIntOrFPElementsAttr):
            values = numpy_from_dense(original)
            if values.size == numpy_from_dense(attr).size:
                entry["float"] = value_range(values)
        found.append(entry)
    return found


def layer_profile(
    levels: dict[str, ModuleOp],
    layers: list[dict[str, Any]],
    fidelity_layers: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One entry per layer of the report (``layers``, in their order): the result format, the
    constants and, from ``fidelity_layers``, the results' ranges on the given inputs."""
    fixed_ops: dict[str, Operation] = {}
    for op in design_function(levels["fxp"]).body.block.ops:
        if isinstance(op, fxp.FxpOp | fxp.MultiInputOp) and fxp.CARRIED not in op.attributes:
            fixed_ops.setdefault(op.node_name, op)
    float_ops: dict[str, Operation] = {}
    if "nn" in levels:
        for op in design_function(levels["nn"]).body.block.ops:
            if isinstance(op, nn.NnOp) and not isinstance(op, nn.ConstantOp):
                float_ops.setdefault(op.node_name, op)
    measured = {row["layer"]: row for row in fidelity_layers or []}
    profile = []
    for layer in layers:
        entry: dict[str, Any] = {"layer": layer["name"], "op": layer["op"]}
        name = layer.get("fused", [layer["name"]])[-1]  # a chain as one unit: its result's op
        op = fixed_ops.get(name)
        if op is not None:
            entry |= format_entry(fxp.tensor_format(op.results[0]))
            entry["constants"] = _constants(op, float_ops.get(name))
        row = measured.get(name)
        if row is not None and "range" in row:
            entry["results"] = {"float": row["float_range"], "hardware": row["range"]}
        profile.append(entry)
    return profile

"""Calibration: integer bits of every tensor from the ranges the float model reaches on data.

``rtlflow compile model.onnx --calibrate data.npz`` runs the tensor-level (float) model on the
data, records the largest magnitude of every design input and every layer result, and gives each
the integer bits it needs (plus ``margin`` bits of headroom) at the default precision's total
width, so the remaining bits go to the fraction. Dense and conv weights and biases get the
integer bits of their own values (no headroom: they are known) and round to nearest. Layers and inputs the configuration sets keep
their formats. The table lists, per tensor, the range seen, the format chosen and whether the
default precision would have overflowed there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerType, ModuleOp

from rtlflow.config import ModelConfig
from rtlflow.dialects import nn
from rtlflow.dialects.traits import BoundedResult, MovesData
from rtlflow.fidelity import every_result
from rtlflow.numerics.fixed_point import FixedFormat
from rtlflow.sim.nn_interpreter import run_nn


@dataclass(frozen=True)
class TensorRange:
    """What calibration saw of one tensor and the format it chose."""

    name: str  # ONNX input name or node name
    kind: str  # "input" or the nn op
    low: float
    high: float
    chosen: FixedFormat
    default_overflows: bool

    def as_dict(self) -> dict:
        return {
            "tensor": self.name,
            "kind": self.kind,
            "range": [self.low, self.high],
            "format": str(self.chosen),
            "default_would_overflow": self.default_overflows,
        }


def measure(module: ModuleOp, inputs: list[np.ndarray]) -> dict[str, tuple[str, float, float]]:
    """``{name: (kind, low, high)}`` for every design input and every nn op result, from a
    run of the float model with every result returned; and, under
    ``<node>/weight`` and ``<node>/bias``, the ranges of dense and conv constants."""
    clone, ops = every_result(module, (nn.NnOp,))
    values = run_nn(clone, inputs)
    function = next(op for op in module.ops if isinstance(op, func.FuncOp))
    names = [a.data for a in function.attributes["onnx.inputs"]]  # type: ignore[attr-defined]
    ranges: dict[str, tuple[str, float, float]] = {}
    for name, value, argument in zip(names, inputs, function.body.block.args, strict=True):
        if not isinstance(argument.type.element_type, IntegerType):  # type: ignore[attr-defined]
            ranges[name] = ("input", float(np.min(value)), float(np.max(value)))  # not indices
    for op, value in zip(ops, values, strict=True):
        low, high = float(np.min(value)), float(np.max(value))
        if op.node_name in ranges:  # several ops of one node (a reshape around a softmax)
            _, old_low, old_high = ranges[op.node_name]
            low, high = min(low, old_low), max(high, old_high)
        ranges[op.node_name] = (op.name.removeprefix("nn."), low, high)
        if isinstance(op, nn.DenseOp | nn.ConvOp):
            for what, values in (("weight", op.weights), ("bias", op.biases)):
                ranges[f"{op.node_name}/{what}"] = (what, float(values.min()), float(values.max()))
    return ranges


def integer_bits(low: float, high: float, margin: int) -> int:
    """Integer bits (sign included) of a signed format holding [low, high], plus ``margin``."""
    magnitude = max(abs(low), abs(high), 2.0**-30)
    return max(1, math.floor(math.log2(magnitude)) + 2 + margin)


def apply(
    config: ModelConfig, ranges: dict[str, tuple[str, float, float]], margin: int
) -> tuple[ModelConfig, list[TensorRange]]:
    """The configuration with calibrated input and result formats, and the calibration table."""
    default = config.precision
    inputs = dict(config.inputs)
    layers = dict(config.layers)
    table = []
    for name, (kind, low, high) in ranges.items():
        fmt = default
        if keeps_default(kind):
            continue
        constant = kind in ("weight", "bias")  # known exactly: no headroom needed
        bits = integer_bits(low, high, 0 if constant else margin)
        fmt = replace(default, int_bits=bits)
        overflows = low < default.min_value or high > default.max_value
        if constant:
            node = name.rsplit("/", 1)[0]
            layer = layers.get(node, config.layer(node))
            if getattr(config.layer(node), kind) is not None:
                continue
            layers[node] = replace(layer, **{kind: replace(default, int_bits=bits, rounding="RND")})
            fmt = layers[node].weight if kind == "weight" else layers[node].bias  # type: ignore
        elif kind == "input":
            if name in config.inputs:
                continue
            inputs[name] = fmt
        else:
            layer = config.layer(name)
            if layer.result is not None:
                continue
            layers[name] = replace(layer, result=fmt)
        table.append(TensorRange(name, kind, low, high, fmt, overflows))
    return replace(config, inputs=inputs, layers=layers), table


def keeps_default(kind: str) -> bool:
    """Whether results of the nn op ``kind`` keep the default format: the op fixes their range
    (tables of bounded functions, softmax, quantizers) or only moves data."""
    op = _NN_OPS.get(f"nn.{kind}")
    return op is not None and (op.has_trait(BoundedResult) or op.has_trait(MovesData))


_NN_OPS = {op.name: op for op in nn.Nn.operations}


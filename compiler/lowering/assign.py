"""Precision assignment (pass ``nn-assign-precision``): the configuration resolved onto the nn
ops, where the conversion reads it (``assigned``) and ``--dump-ir`` shows it.

On the function:
    fxp.precision   the default format (constants that have none of their own)
    fxp.inputs      each argument's format (configured, an integer's, or its first quantizer's)
On each nn op, ``fxp.layer``, a dictionary:
    result          the result's format: configured, else the default with the layer's modes
    precision       "exact" or "auto" where the conversion derives the result from exact ranges
                    instead (quantization-aware models; ``precision: auto``), given no format
    weight, bias, accumulator, table_size, ... every other setting of the layer's configuration
                    (``LayerConfig``) as configured; absent: the default
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    f64,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue

from rtlflow.config import LayerConfig, ModelConfig, check_layer_names
from rtlflow.dialects import fxp, nn
from rtlflow.errors import RtlflowError
from rtlflow.lowering.common import first_quantizer, index_axis_sizes, quant_format
from rtlflow.numerics.fixed_point import FixedFormat

LAYER = "fxp.layer"
PRECISION = "fxp.precision"
INPUTS = "fxp.inputs"

#: folded into ``result``
_IN_RESULT = ("result", "rounding", "overflow")


def _encode(value) -> Attribute:
    match value:
        case FixedFormat():
            return fxp.FixedType.from_format(value)
        case bool():
            raise TypeError(value)
        case str():
            return StringAttr(value)
        case int():
            return IntegerAttr(value, i64)
        case float():
            return FloatAttr(value, f64)
        case tuple() | list():
            return ArrayAttr([_encode(v) for v in value])
    raise TypeError(value)


def _decode(attr: Attribute):
    match attr:
        case fxp.FixedType():
            return attr.format
        case IntegerAttr():
            return attr.value.data
        case FloatAttr():
            return attr.value.data
        case ArrayAttr():
            return tuple(_decode(a) for a in attr.data)
        case StringAttr():
            return attr.data
    raise TypeError(attr)


def layer_settings(config: ModelConfig, name: str, derived: str | None) -> DictionaryAttr:
    """The ``fxp.layer`` attribute of the op named ``name``; ``derived`` is "exact" or "auto"
    when an unconfigured result is derived from exact ranges, else None."""
    layer = config.layer(name)
    entries: dict[str, Attribute] = {"result": _encode(config.result_format(name))}
    if layer.result is None and derived is not None:
        entries["precision"] = StringAttr(derived)
    for key in (f.name for f in fields(LayerConfig) if f.name not in _IN_RESULT):
        value = getattr(layer, key)
        if value is not None:
            entries[key] = _encode(value)
    return DictionaryAttr(entries)


def assigned(op: Operation, default: FixedFormat) -> tuple[LayerConfig, FixedFormat, str | None]:
    """An nn op's assigned settings: its layer settings (``result`` set only where configured),
    its result format, and "exact" / "auto" where the result is derived. An op without any
    (IR not through ``nn-assign-precision``) has the default's."""
    attr = op.attributes.get(LAYER)
    if not isinstance(attr, DictionaryAttr):
        return LayerConfig(), default, None
    values = {key: _decode(value) for key, value in attr.data.items()}
    result = values.pop("result", default)
    derived = values.pop("precision", None)
    known = {f.name for f in fields(LayerConfig)}
    layer = replace(LayerConfig(), **{k: v for k, v in values.items() if k in known})
    if derived is None:
        layer = replace(layer, result=result)
    return layer, result, derived


def function_precision(function: func.FuncOp, default: FixedFormat) -> FixedFormat:
    attr = function.attributes.get(PRECISION)
    return attr.format if isinstance(attr, fxp.FixedType) else default


def input_formats(function: func.FuncOp) -> list[FixedFormat] | None:
    attr = function.attributes.get(INPUTS)
    if not isinstance(attr, ArrayAttr):
        return None
    return [a.format for a in attr.data]  # type: ignore[attr-defined]


def assign_precision(function: func.FuncOp, config: ModelConfig) -> None:
    """Write ``config`` onto ``function``: its default and input formats, each op's settings."""
    block = function.body.block
    ops = [op for op in block.ops if isinstance(op, nn.NnOp) and not isinstance(op, nn.ConstantOp)]
    check_layer_names(config, {op.node_name for op in ops})
    names = [attr.data for attr in function.attributes["onnx.inputs"]]  # type: ignore
    unknown_inputs = sorted(set(config.inputs) - set(names))
    if unknown_inputs:
        raise RtlflowError(
            f"the configuration names input(s) {unknown_inputs} that the model does not "
            f"have (its inputs: {', '.join(names)})"
        )
    formats = []
    for name, argument in zip(names, block.args, strict=True):
        fmt = config.input_format(name)
        if isinstance(argument.type.element_type, IntegerType):  # type: ignore[attr-defined]
            fmt = integer_input_format(config, name, argument)
        if name not in config.inputs:
            fmt = quantized_input_format(argument, config.precision) or fmt
        formats.append(fmt)
    function.attributes[PRECISION] = fxp.FixedType.from_format(config.precision)
    function.attributes[INPUTS] = ArrayAttr([fxp.FixedType.from_format(f) for f in formats])
    exact = any(isinstance(op, nn.QuantOp) for op in ops)
    derived = "exact" if exact else "auto" if config.infer_precision else None
    for op in ops:
        op.attributes[LAYER] = layer_settings(config, op.node_name, derived)


def quantized_input_format(argument: SSAValue, precision: FixedFormat) -> FixedFormat | None:
    """The format of an input that only quantizers read: the quantizer's own where it is a cast
    (a power-of-two scale); else the precision's width with the integer bits of the range the
    quantizers' levels span (so that an 8-bit input quantizer over ±105 is not cut at ±32),
    saturating."""
    quantizer = first_quantizer(argument)
    if quantizer is not None:
        return quant_format(quantizer)
    users = [use.operation for use in argument.uses]
    if not users or not all(isinstance(u, nn.QuantOp) for u in users):
        return None
    ends = [
        (np.asarray(bound, dtype=np.float64) - u.zero_points) * u.scales
        for u in users
        for bound in u.bounds
    ]
    largest = max(float(np.max(np.abs(e))) for e in ends)
    int_bits = max(1, math.floor(math.log2(largest)) + 2) if largest > 0 else 1
    # saturating: beyond the levels' range the quantizer clamps anyway, so nothing changes
    return FixedFormat(max(precision.width, int_bits + 1), int_bits).with_modes(
        precision.rounding, "SAT"
    )


def integer_input_format(config: ModelConfig, name: str, argument: SSAValue) -> FixedFormat:
    """An integer input's format: configured (an integer format), else, for indices, the
    unsigned width that numbers the largest axis they index with at least one code to spare
    (a padding value past the real entries, which selects nothing); else the default input
    format."""
    if name in config.inputs:
        fmt = config.inputs[name]
        if fmt.frac_bits != 0:
            raise RtlflowError(
                f"input '{name}' is an integer tensor: give it an integer format "
                f"(fixed<W,W> or ufixed<W,W>), not {fmt}"
            )
        return fmt
    sizes = index_axis_sizes(argument)
    if not sizes:
        return config.input_format(name)
    width = max(sizes).bit_length()  # 0 .. 2**width - 1: at least one code selects nothing
    return FixedFormat(width, width, signed=False)

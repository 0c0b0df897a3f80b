"""``config_from_onnx``: the configuration a model compiles with, as a dictionary to edit.

hls4ml users start from ``hls4ml.utils.config_from_onnx_model(model, granularity="name")``, edit
precisions and reuse factors per layer and pass the result back. This is rtlflow's equivalent:
the returned dictionary is the configuration-file format (``rtlflow.config``; YAML-ready, plain
strings and numbers) and ``compile(..., config=...)`` accepts it. Compiling with it unchanged
gives the design compiling without it gives (``tests/unit/test_configure.py`` checks this on
float, quantized, convolutional and attention models).

Every value is the one the compiler uses, resolved: the default precision with its modes, each
input's format (configured, an index's, or its quantizer's), and per layer (``granularity=
"name"``) the settings that apply to the layer's kind with their defaults. ``"auto"`` marks a
setting the compiler derives for that layer: a result sized from exact ranges (quantized
models, ``precision: auto``), constants in their exact formats (quantized models), the exact
accumulator, the convolution style chosen by the part's budget. Replace "auto" with a format
(or a style) to fix it; leave it to keep the compiler's choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import onnx
from xdsl.dialects.builtin import DictionaryAttr

from rtlflow.api import compile as compile_model
from rtlflow.api import model_options
from rtlflow.config import ModelConfig
from rtlflow.dialects import nn
from rtlflow.emit_verilog import design_function
from rtlflow.errors import RtlflowError
from rtlflow.lowering import assign
from rtlflow.lowering.precision import default_constant_format
from rtlflow.lowering.tables import (
    DEFAULT_EXP_RANGE,
    DEFAULT_SOFTMAX_TYPE,
    DEFAULT_TABLE_RANGES,
    DEFAULT_TABLE_SIZE,
)

GRANULARITIES = ("model", "name")

AUTO = "auto"

#: layers with a constant matrix: weights, biases, accumulator
_MATRIX = (nn.DenseOp, nn.ConvOp)
#: layers a reuse factor folds
_FOLDED = (nn.DenseOp, nn.ConvOp, nn.GemmOp, nn.MatMulOp)
#: layers whose constants are per channel: scales (``weight``) and offsets (``bias``)
_CONSTANTS = (nn.ScaleShiftOp, nn.LayerNormOp)
#: single-table functions with the table's default range
_TABLES = {nn.SigmoidOp: "sigmoid", nn.TanhOp: "tanh", nn.ErfOp: "erf", nn.ExpOp: "exp"}
#: functions whose table covers their negative side (the range's default is special)
_SIDE_TABLES = (nn.EluOp, nn.SoftplusOp)


def config_from_onnx(
    model: str | Path | onnx.ModelProto,
    granularity: str = "name",
    *,
    part: str = "xcvu13p",
    precision: str | None = None,
    reuse_factor: int | None = None,
    conv_style: str | None = None,
    dsp_budget: int | str | None = None,
    config: str | Path | ModelConfig | Mapping | None = None,
) -> dict[str, Any]:
    """The configuration ``model`` compiles with: model defaults and input formats, and with
    ``granularity="name"`` one entry per layer (ONNX node name) with its settings. The options
    are those of ``compile``; ``config`` (a file, mapping or ModelConfig) is resolved into
    the result."""
    if granularity not in GRANULARITIES:
        raise RtlflowError(
            f"granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}"
        )
    options = model_options(part, 200.0, precision, reuse_factor, conv_style, dsp_budget, config)
    model_config = options.config
    nn_level = compile_model(model, part=part, config=model_config, stop_at="nn")
    function = design_function(nn_level.levels["nn"].clone())
    assign.assign_precision(function, model_config)
    formats = assign.input_formats(function) or []
    result: dict[str, Any] = {
        "precision": AUTO if model_config.infer_precision else str(model_config.precision),
        "reuse_factor": model_config.reuse_factor,
        "dsp_budget": _text(model_config.dsp_budget),
        "conv_style": model_config.conv_style or AUTO,
        "inputs": {
            name: str(fmt) for name, fmt in zip(nn_level.input_names, formats, strict=True)
        },
    }
    if granularity == "name":
        exact = any(isinstance(op, nn.QuantOp) for op in function.body.block.ops)
        result["layers"] = {
            op.node_name: _layer(op, model_config, exact)
            for op in function.body.block.ops
            if isinstance(op, nn.NnOp) and isinstance(op.attributes.get(assign.LAYER), DictionaryAttr)
        }
    return result


def _layer(op: nn.NnOp, config: ModelConfig, exact: bool) -> dict[str, Any]:
    """One layer's settings: its configured ones, and the defaults of those that apply."""
    configured, result_format, derived = assign.assigned(op, config.precision)
    constant = AUTO if exact else str(default_constant_format(config.precision))
    entry: dict[str, Any] = {"result": AUTO if derived else str(result_format)}
    if isinstance(op, _MATRIX):
        entry |= {"weight": constant, "bias": constant, "accumulator": AUTO}
    if isinstance(op, _FOLDED):
        entry["reuse_factor"] = config.reuse_factor
    if isinstance(op, _CONSTANTS):
        entry |= {"weight": constant, "bias": constant}
    if isinstance(op, nn.ConvOp | nn.PoolOp):
        entry["conv_style"] = config.conv_style or AUTO
    if type(op) in _TABLES:
        entry["table_size"] = DEFAULT_TABLE_SIZE
        entry["table_range"] = list(DEFAULT_TABLE_RANGES[_TABLES[type(op)]])
    if isinstance(op, (*_SIDE_TABLES, nn.LayerNormOp)):
        entry["table_size"] = DEFAULT_TABLE_SIZE
    if isinstance(op, nn.SoftmaxOp):
        entry |= {
            "exp_table_size": DEFAULT_TABLE_SIZE,
            "exp_range": DEFAULT_EXP_RANGE,
            "exp_type": str(DEFAULT_SOFTMAX_TYPE),
            "inv_table_size": DEFAULT_TABLE_SIZE,
            "inv_type": str(DEFAULT_SOFTMAX_TYPE),
        }
    if isinstance(op, nn.LayerNormOp):
        entry["inv_type"] = AUTO
    for key, value in vars(configured).items():  # what the configuration sets wins
        if value is not None and key not in ("result", "rounding", "overflow"):
            entry[key] = list(value) if isinstance(value, tuple) else _text(value)
    return entry


def _text(value: Any) -> Any:
    """A setting as the configuration file writes it: numbers as numbers, formats as text."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if isinstance(value, int | float | str) else str(value)


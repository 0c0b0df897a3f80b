"""Precision and parallelism configuration: defaults, command-line options and a per-layer file.

A configuration file (YAML or TOML) looks like::

    precision: fixed<16,6>          # default for inputs, weights, biases and results; "auto":
                                    # results sized from their exact ranges (interval arithmetic)
    rounding: TRN                   # default modes of that precision (or inside its string)
    overflow: WRAP
    reuse_factor: 1                 # default for every dense layer
    dsp_budget: 0                   # DSP slices for constant products: a count or "10%" of
                                    # the part (default 0: multiplierless shift-add logic)
    conv_style: parallel            # conv / pool layers: parallel | stream | auto (default:
                                    # parallel unless it exceeds the part's budget)
    inputs:
      x: fixed<12,4>
    layers:
      node_linear:                  # ONNX node name
        weight: fixed<8,3>
        bias: fixed<8,3>
        result: fixed<16,6,RND,SAT>
        accumulator: fixed<32,12>   # default: exact, never overflows
        rounding: RND               # modes of this layer's result (shorthand)
        overflow: SAT
        reuse_factor: 4
        dsp_budget: 16              # at most this many of the model's budget in this layer
      node_conv:
        conv_style: stream
      node_sigmoid:
        table_size: 2048            # entries (a power of two)
        table_range: [-8, 8]        # inputs outside read the first / last entry
      node_softmax:
        exp_table_size: 1024
        exp_range: 16               # max(x) - x_i in [0, 16)
        exp_type: ufixed<18,1>
        inv_table_size: 1024
        inv_type: ufixed<18,1>

A format or conv_style given as "auto" is the compiler's choice, as if not given (a result
sized from exact ranges, constants in their exact formats in quantized models, the exact
accumulator); ``rtlflow config MODEL`` (``rtlflow.config_from_onnx``) writes the whole
configuration a model compiles with, every layer's settings resolved, "auto" where derived.

Formats follow ap_fixed: ``fixed<W,I[,rounding,overflow]>``, ``ufixed<W,I>``; rounding TRN (default)
or RND, overflow WRAP (default) or SAT. The configuration travels to the passes as JSON text.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rtlflow.errors import RtlflowError
from rtlflow.numerics.fixed_point import OVERFLOW_MODES, ROUNDING_MODES, FixedFormat, mode_name

DEFAULT_PRECISION = FixedFormat(16, 6)


@dataclass(frozen=True)
class LayerConfig:
    """Settings for one layer; None means the model default."""

    weight: FixedFormat | None = None
    bias: FixedFormat | None = None
    result: FixedFormat | None = None
    accumulator: FixedFormat | None = None
    reuse_factor: int | None = None
    rounding: str | None = None
    overflow: str | None = None
    table_size: int | None = None
    table_range: tuple[float, float] | None = None
    exp_table_size: int | None = None
    exp_range: float | None = None
    exp_type: FixedFormat | None = None
    inv_table_size: int | None = None
    inv_type: FixedFormat | None = None
    conv_style: str | None = None
    dsp_budget: int | None = None


#: conv / pool architectures: every output at once, or a pixel stream through line buffers
CONV_STYLES = ("parallel", "stream")

_FORMAT_KEYS = {"weight", "bias", "result", "accumulator", "exp_type", "inv_type"}
_LAYER_KEYS = {f.name for f in fields(LayerConfig)}
#: settings that may be "auto": the compiler's choice (as if not given)
_AUTO_KEYS = _FORMAT_KEYS | {"conv_style"}


@dataclass(frozen=True)
class ModelConfig:
    """The whole configuration: model defaults, input formats and per-layer settings."""

    precision: FixedFormat = DEFAULT_PRECISION
    reuse_factor: int = 1
    inputs: dict[str, FixedFormat] = field(default_factory=dict)
    layers: dict[str, LayerConfig] = field(default_factory=dict)
    conv_style: str | None = None
    infer_precision: bool = False
    """``precision: auto``: dense, conv and ReLU results take the integer bits of their exact
    range (the precision's fractional bits), so they never overflow."""
    dsp_budget: str = "0"
    """DSP slices the constant products may use: a count, or a percentage of the part's DSPs
    ("10%"); see ``dsp_budget_slices``."""

    def dsp_budget_slices(self, part_dsps: int) -> int:
        """The budget as a number of DSP slices on a part with ``part_dsps``."""
        return parse_dsp_budget(self.dsp_budget, part_dsps, "dsp_budget")

    def layer(self, name: str) -> LayerConfig:
        return self.layers.get(name, LayerConfig())

    def input_format(self, name: str) -> FixedFormat:
        return self.inputs.get(name, self.precision)

    def result_format(self, name: str) -> FixedFormat:
        """A layer's result format: its own, else the default, with its mode shorthands."""
        layer = self.layer(name)
        return (layer.result or self.precision).with_modes(layer.rounding, layer.overflow)

    def with_overrides(
        self,
        precision: FixedFormat | str | None = None,
        reuse_factor: int | None = None,
        conv_style: str | None = None,
        dsp_budget: int | str | None = None,
    ) -> ModelConfig:
        """This configuration with command-line defaults replacing the file's (``precision``
        may be ``"auto"``)."""
        if precision == "auto":
            return replace(self, infer_precision=True).with_overrides(
                None, reuse_factor, conv_style, dsp_budget
            )
        if dsp_budget is not None:
            parse_dsp_budget(dsp_budget, 1, "dsp budget")  # the form; the part sets its size
        return replace(
            self,
            precision=precision or self.precision,  # type: ignore[arg-type]
            reuse_factor=reuse_factor if reuse_factor is not None else self.reuse_factor,
            conv_style=conv_style or self.conv_style,
            dsp_budget=str(dsp_budget) if dsp_budget is not None else self.dsp_budget,
        )

    # ---- JSON form (pass options) -----------------------------------------------------------

    def to_json(self) -> str:
        def encode(value: Any) -> Any:
            if isinstance(value, FixedFormat):
                return str(value)
            return list(value) if isinstance(value, tuple) else value

        layers = {
            name: {
                f.name: encode(getattr(layer, f.name))
                for f in fields(LayerConfig)
                if getattr(layer, f.name) is not None
            }
            for name, layer in self.layers.items()
        }
        data = {
            "precision": str(self.precision),
            "reuse_factor": self.reuse_factor,
            "conv_style": self.conv_style,
            "infer_precision": self.infer_precision,
            "dsp_budget": self.dsp_budget,
            "inputs": {name: str(fmt) for name, fmt in self.inputs.items()},
            "layers": layers,
        }
        return json.dumps(data, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> ModelConfig:
        return config_from_dict(json.loads(text), "configuration") if text else ModelConfig()


def load_config(path: str | Path) -> ModelConfig:
    """Read a YAML (.yaml/.yml) or TOML (.toml) configuration file."""
    path = Path(path)
    if not path.is_file():
        raise RtlflowError(f"no such configuration file: {path}")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text())
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(path.read_text()) or {}
        else:
            raise RtlflowError(f"configuration file {path} must end in .yaml, .yml or .toml")
    except RtlflowError:
        raise
    except Exception as error:
        raise RtlflowError(f"cannot read configuration {path}: {error}") from None
    return config_from_dict(data, str(path))


def config_from_dict(data: Any, where: str) -> ModelConfig:
    """Validate a configuration mapping; every mistake is reported with its key."""
    if not isinstance(data, dict):
        raise RtlflowError(f"{where}: the configuration must be a mapping")
    unknown = set(data) - {
        "precision", "rounding", "overflow", "reuse_factor", "conv_style", "inputs", "layers",
        "infer_precision", "dsp_budget",
    }
    if unknown:
        raise RtlflowError(f"{where}: unknown key(s) {sorted(unknown)}")
    infer = bool(data.get("infer_precision", False)) or data.get("precision") == "auto"
    precision = (
        parse_format(data["precision"], f"{where}: precision")
        if "precision" in data and data["precision"] != "auto"
        else DEFAULT_PRECISION
    )
    precision = precision.with_modes(
        _mode(data.get("rounding"), ROUNDING_MODES, f"{where}: rounding"),
        _mode(data.get("overflow"), OVERFLOW_MODES, f"{where}: overflow"),
    )
    reuse = _positive_int(data.get("reuse_factor", 1), f"{where}: reuse_factor")
    inputs = {
        str(name): parse_format(text, f"{where}: inputs.{name}")
        for name, text in _mapping(data.get("inputs"), f"{where}: inputs").items()
    }
    layers = {
        str(name): _layer_config(settings, f"{where}: layers.{name}")
        for name, settings in _mapping(data.get("layers"), f"{where}: layers").items()
    }
    style = _conv_style(data.get("conv_style"), f"{where}: conv_style")
    budget = str(data.get("dsp_budget", "0")).strip()
    parse_dsp_budget(budget, 1, f"{where}: dsp_budget")
    return ModelConfig(precision, reuse, inputs, layers, style, infer, budget)


def parse_dsp_budget(value: Any, part_dsps: int, where: str) -> int:
    """A DSP budget, a count (``12``) or a share of the part's DSP slices (``10%``), as a count."""
    text = str(value).strip()
    try:
        if text.endswith("%"):
            share = float(text[:-1])
            if not 0 <= share <= 100:
                raise ValueError
            return int(share / 100 * part_dsps)
        count = int(text)
        if count < 0:
            raise ValueError
        return count
    except ValueError:
        raise RtlflowError(
            f"{where}: expected a number of DSP slices (0 or more) or a percentage of the "
            f"part's (e.g. 10%), got {value!r}"
        ) from None


def _conv_style(value: Any, where: str) -> str | None:
    if value is None or value == "auto":
        return None
    if value not in CONV_STYLES:
        raise RtlflowError(f"{where}: expected one of {', '.join(CONV_STYLES)}, got {value!r}")
    return str(value)


def _layer_config(settings: Any, where: str) -> LayerConfig:
    if not isinstance(settings, dict):
        raise RtlflowError(f"{where}: expected a mapping of settings")
    unknown = set(settings) - _LAYER_KEYS
    if unknown:
        raise RtlflowError(f"{where}: unknown setting(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, value in settings.items():
        if value == "auto" and key in _AUTO_KEYS:
            continue  # the compiler's choice, as if not given
        if key in _FORMAT_KEYS:
            values[key] = parse_format(value, f"{where}.{key}")
        elif key in ("rounding", "overflow"):
            modes = ROUNDING_MODES if key == "rounding" else OVERFLOW_MODES
            values[key] = _mode(value, modes, f"{where}.{key}")
        elif key == "reuse_factor":
            values[key] = _positive_int(value, f"{where}.{key}")
        elif key == "dsp_budget":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RtlflowError(f"{where}.{key}: expected a number of DSP slices (0 or more)")
            values[key] = value
        elif key in ("table_size", "exp_table_size", "inv_table_size"):
            values[key] = _positive_int(value, f"{where}.{key}")
            if values[key] < 2 or values[key] & (values[key] - 1):
                raise RtlflowError(f"{where}.{key}: a table size is a power of two (>= 2)")
        elif key == "table_range":
            pair = value if isinstance(value, list | tuple) and len(value) == 2 else None
            low, high = (_number(v, f"{where}.table_range") for v in pair) if pair else (0, 0)
            if not low < high:
                raise RtlflowError(f"{where}.table_range: expected [low, high] with low < high")
            values[key] = (low, high)
        elif key == "conv_style":
            values[key] = _conv_style(value, f"{where}.conv_style")
        elif key == "exp_range":
            values[key] = _number(value, f"{where}.exp_range")
            if values[key] <= 0:
                raise RtlflowError(f"{where}.exp_range: expected a positive number")
    return LayerConfig(**values)


def _mode(value: Any, modes: tuple[str, ...], where: str) -> Any:
    if value is None:
        return None
    text = mode_name(value)
    if text not in modes:
        raise RtlflowError(f"{where}: expected one of {', '.join(modes)}, got {value!r}")
    return text


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RtlflowError(f"{where}: expected a mapping of names to settings")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RtlflowError(f"{where}: expected a number, got {value!r}")
    return float(value)


def parse_format(text: Any, where: str) -> FixedFormat:
    try:
        return FixedFormat.parse(str(text))
    except ValueError as error:
        raise RtlflowError(f"{where}: {error}") from None


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RtlflowError(f"{where}: expected a positive integer, got {value!r}")
    return value


def check_layer_names(config: ModelConfig, known: set[str]) -> None:
    """Reject configuration entries for layers the model does not have."""
    unknown = sorted(set(config.layers) - known)
    if unknown:
        raise RtlflowError(
            f"the configuration names layer(s) {unknown} that the model does not have "
            f"(its layers: {', '.join(sorted(known))})"
        )

"""The Python API: ``rtlflow.compile(model) -> CompiledModel``, in the spirit of hls4ml.

    m = rtlflow.compile("model.onnx", part="xcvu13p")
    y = m.predict(x)          # bit-exact emulation of the hardware, float in and out
    m.write("out/")           # Verilog, testbench, test vectors, Vivado project, reports
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from xdsl.dialects.builtin import ModuleOp

from rtlflow import calibration, fidelity, progress
from rtlflow.config import CONV_STYLES, ModelConfig, config_from_dict, load_config, parse_format
from rtlflow.dialects import circuit
from rtlflow.emit_verilog import VerilogDesign, design_function, emit_verilog, interface
from rtlflow.errors import RtlflowError, collect_warnings, warn
from rtlflow.frontend import import_onnx
from rtlflow.measure import read_report, save_report
from rtlflow.parts import find_part
from rtlflow.pipeline import LEVELS, Options, dump_to, lower
from rtlflow.profile import layer_profile
from rtlflow.report import Estimate, build_report, estimate
from rtlflow.sim.emulator import Emulator
from rtlflow.numerics.fixed_point import FixedFormat
from rtlflow.sim.testbench import write_testbench
from rtlflow.units.spec import specs_kept
from rtlflow.value_ranges import WRAP_ADVICE, overflow_warnings
from rtlflow.vivado import write_project

try:
    __version__ = metadata.version("rtlflow")
except metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0"

DEFAULT_VECTORS = 200

ArrayInput = np.ndarray | Sequence[np.ndarray] | Mapping[str, np.ndarray]


class CompiledModel:
    """A model lowered to the hardware level, ready to emulate and to write out."""

    def __init__(self, levels: dict[str, ModuleOp], options: Options):
        self.levels = levels
        self.options = options
        self.target = find_part(options.part)
        fixed = levels.get("fxp")
        self.emulator = Emulator(fixed) if fixed is not None else None
        function = design_function(next(iter(levels.values())))
        self.name = function.sym_name.data
        self.input_names = [a.data for a in function.attributes["onnx.inputs"]]  # type: ignore
        self.output_names = [a.data for a in function.attributes["onnx.outputs"]]  # type: ignore
        #: where ``write`` last wrote the design (None before)
        self.outdir: Path | None = None
        #: what calibration saw and chose, per tensor (empty without calibration)
        self.calibration: list[calibration.TensorRange] = []
        #: what the compile assumed or found worth knowing (also in the report)
        self.warnings: list[str] = []

    # ---- emulation -----------------------------------------------------------------------------

    def _emulator(self) -> Emulator:
        if self.emulator is None:
            raise RtlflowError("the model was stopped at the nn level: nothing to emulate")
        return self.emulator

    def input_shapes(self) -> list[tuple[int, ...]]:
        function = design_function(self.levels["fxp"])
        return [tuple(arg.type.get_shape()) for arg in function.body.block.args]  # type: ignore

    def samples(self, data: ArrayInput) -> list[np.ndarray]:
        """Inputs as arrays with a leading sample axis, in the model's input order."""
        return stack_samples(data, self.input_names, self.input_shapes())

    def predict(self, data: ArrayInput) -> np.ndarray | list[np.ndarray]:
        """Bit-exact emulation on float data: one array per output (one sample per row). Inputs
        outside a wrapping input format are an error, as in ``write`` (``quantize``)."""
        emulator = self._emulator()
        outputs = emulator.run_raw(self.quantize(data))
        floats = [fmt.to_float(raw) for raw, fmt in zip(outputs, emulator.output_formats, strict=True)]
        return floats[0] if len(floats) == 1 else floats

    def quantize(self, data: ArrayInput) -> list[np.ndarray]:
        """Raw input integers; inputs outside their format are an error when they would wrap."""
        return quantize_samples(self._emulator(), self.input_names, self.samples(data))

    # ---- output -----------------------------------------------------------------------------------

    def write(
        self,
        outdir: str | Path,
        inputs: ArrayInput | None = None,
        vectors: int = DEFAULT_VECTORS,
        jobs: int | None = None,
        seed: int = 0,
        labels: np.ndarray | None = None,
        force: bool = False,
        overflow: str = "warn",
    ) -> dict[str, Any]:
        """Write Verilog, testbench, test vectors and the report; return the report. With
        ``inputs`` the report holds the fidelity on them (emulator against the float model;
        accuracy, AUC or R² when ``labels`` are given). A design whose estimate needs more
        than ``OVERSIZE`` times a resource of the part is refused before its Verilog is
        generated, unless ``force``. The samples of ``inputs`` whose results overflow a layer's
        format are counted per layer in the report; ``overflow="error"`` makes any such
        overflow an error, raised before anything is written."""
        if "circuit" not in self.levels:
            raise RtlflowError("the model was stopped before the hardware level: nothing to write")
        if overflow not in ("warn", "error"):
            raise RtlflowError(f"overflow must be 'warn' or 'error', got '{overflow}'")
        with specs_kept():  # the circuit level is finished: read, never changed, from here on
            return self._write(outdir, inputs, vectors, jobs, seed, labels, force, overflow)

    def _write(self, outdir, inputs, vectors, jobs, seed, labels, force, overflow) -> dict[str, Any]:
        estimated = estimate(self.levels["circuit"], self.target)
        if not force:
            refuse_oversize(estimated, self.target.full_name, self.options.config.reuse_factor)
        emulator = self._emulator()
        if inputs is not None:
            raw_inputs = self.quantize(inputs)
        else:
            raw_inputs = random_inputs(emulator.input_formats, self.input_shapes(), vectors, seed)
        with progress.step(f"emulating {len(raw_inputs[0])} test vectors"):
            expected = emulator.run_raw(raw_inputs)
        # overflow on the user's data is news; on random full-range stimulus it is expected
        overflows = dict(sorted(emulator.overflows.items())) if inputs is not None else {}
        samples = len(raw_inputs[0])
        if overflow == "error" and overflows:
            where = [f"layer '{node}' in {n} of {samples} samples" for node, n in overflows.items()]
            raise RtlflowError(
                "results overflow their format on the given inputs (--overflow error): "
                + ", ".join(where)
            )
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(outdir / "tb", ignore_errors=True)  # a previous design's would linger
        circuit_ir = self.levels["circuit"]  # read, not changed, by what follows
        design = emit_verilog(circuit_ir, outdir, jobs)
        if design.changed:  # else the simulator's build of the same Verilog is kept
            for build in ("sim_build", "sim_build_structural"):
                shutil.rmtree(outdir / build, ignore_errors=True)
        write_testbench(outdir, raw_inputs, expected, self.ir("fxp"))
        report = build_report(circuit_ir, design, self.target, __version__, estimated)
        if self.calibration:
            report["calibration"] = [entry.as_dict() for entry in self.calibration]
        if inputs is not None:
            with progress.step("fidelity against the float model"):
                report["fidelity"] = fidelity.compare(self, self.samples(inputs), labels)
        report["test_vectors"] = {
            "samples": samples,
            "source": "user data" if inputs is not None else f"random (seed {seed})",
        }
        report["vendor"] = {"vivado": write_project(outdir, report, design_changed=design.changed)}
        if inputs is not None:
            report["overflow"] = {"samples": samples, "layers": overflows}
            for layer in report["layers"]:
                names = layer.get("fused", [layer["name"]])
                counts = [overflows[n] for n in names if n in overflows]
                if counts:  # a chain as one unit: the most of its ops'
                    layer["overflow_samples"] = max(counts)
        part = report["part"]
        beyond = [f"{k.upper()} {round(v, 4):g} %" for k, v in estimated.beyond(100).items()]
        too_big = [
            f"the design needs more than {part['name']} has (estimate): {', '.join(beyond)}; "
            "raise the reuse factor, narrow the formats, or choose a larger part"
        ]
        report["warnings"] = (too_big if beyond else []) + self.warnings + [
            f"layer '{node}': results overflow their format in {count} of "
            f"{samples} samples of the given inputs"
            for node, count in overflows.items()
        ]
        with progress.step("report.json, .txt, .html (profile, plots)"):
            report["profile"] = layer_profile(
                self.levels, report["layers"], report.get("fidelity", {}).get("layers")
            )
            save_report(outdir, report)
        self.outdir = outdir
        return report

    # ---- what hls4ml users call on a model ----------------------------------------------------

    def report(self) -> dict[str, Any]:
        """The report: report.json as ``write`` left it (with synthesis or Vivado results once
        ``build`` ran), else the estimate without writing anything (the same latency, II,
        clock, resources and utilization; no sources, fidelity or profile)."""
        if self.outdir is not None:
            return read_report(self.outdir)[1]
        return estimate_report(self)

    def profile(self, data: ArrayInput | None = None) -> list[dict[str, Any]]:
        """Per layer, the ranges behind the profiling plot of report.html: the result format's
        representable range and LSB, each constant's float and hardware range against its
        format and, with ``data``, the range the results take on it (float model and
        emulated hardware)."""
        self._emulator()
        layers = self.report()["layers"]
        measured = None
        if data is not None:
            measured = fidelity.compare(self, self.samples(data))["layers"]
        return layer_profile(self.levels, layers, measured)

    def build(
        self, vivado: bool = True, timeout: float | None = None, per_layer: bool = False
    ) -> dict[str, Any]:
        """Measure the written design (after ``write``): Vivado synthesis, place and route with
        ``vivado`` (on PATH; else an RtlflowError saying so), else Yosys synthesis
        (``per_layer``: resources of every layer too). Returns the updated report."""
        if self.outdir is None:
            raise RtlflowError("write the design first (m.write(outdir)), then build it")
        from rtlflow import measure

        if vivado:
            return measure.build_vivado(self.outdir, timeout)
        return measure.synthesize_design(self.outdir, timeout, per_layer)

    def ir(self, level: str) -> str:
        """The IR at the end of a level (nn, fxp or circuit), as text that parses back."""
        if level not in self.levels:
            raise RtlflowError(f"no IR at level '{level}' (have: {', '.join(self.levels)})")
        return str(self.levels[level])


def estimate_report(compiled: CompiledModel) -> dict[str, Any]:
    """The report (report.json) of a compiled model without emitting Verilog: the same latency,
    II, clock, resources and utilization as ``CompiledModel.write``'s (``sources`` is empty)."""
    if "circuit" not in compiled.levels:
        raise RtlflowError("the model was stopped before the hardware level: nothing to report")
    module = compiled.levels["circuit"]
    function = design_function(module)
    inputs, outputs = interface(function)
    ii = function.attributes[circuit.II].value.data  # type: ignore[attr-defined]
    design = VerilogDesign(
        function.sym_name.data, (), inputs, outputs, ii, circuit.input_beats(function)
    )
    return build_report(module, design, compiled.target, __version__)


#: a design whose estimate needs more than this many times a resource of the part is not
#: generated (``write(force=True)``, ``rtlflow compile --force``: generate it anyway)
OVERSIZE = 3.0


def refuse_oversize(estimated: Estimate, part: str, reuse_factor: int) -> None:
    """An error naming the resources a design needs several times over, and a reuse factor to
    try: the next power of two at or above the largest ratio (at R the folded layers need
    about 1/R of their logic; the rest does not shrink, so it is a first guess)."""
    over = {key: share / 100.0 for key, share in estimated.beyond(100.0 * OVERSIZE).items()}
    if not over:
        return
    needs = ", ".join(
        f"{estimated.used[key]:,} {key.upper()} ({ratio:.1f}x its {estimated.available[key]:,})"
        for key, ratio in over.items()
    )
    suggestion = 1 << math.ceil(math.log2(reuse_factor * max(over.values())))
    raise RtlflowError(
        f"the design needs more than {OVERSIZE:g} times what {part} has (estimate: {needs}); "
        f"its Verilog is not generated: try --reuse-factor {suggestion}, narrower formats or a "
        "larger part (--force generates it anyway)"
    )


def quantize_samples(emulator: Emulator, names: list[str], samples: list[np.ndarray]) -> list[np.ndarray]:
    """Raw input integers of float samples; inputs outside a wrapping format are an error."""
    raws, outside = emulator.quantize_inputs(samples)
    for name, count, fmt, array in zip(names, outside, emulator.input_formats, samples, strict=True):
        if count and fmt.overflow == "WRAP":
            raise RtlflowError(
                f"input '{name}': {count} of {len(array)} samples lie outside {fmt} "
                f"[{fmt.min_value:g}, {fmt.max_value:g}] (largest magnitude "
                f"{np.abs(array).max():.4g}); give the input a wider format "
                f"(configuration 'inputs: {{{name}: ...}}') or one with SAT"
            )
    return raws


def stack_samples(
    data: ArrayInput, names: list[str], shapes: list[tuple[int, ...]]
) -> list[np.ndarray]:
    """Float arrays with a leading sample axis, one per model input, from a mapping by input
    name, one array, or a sequence in input order."""
    if isinstance(data, Mapping):
        missing = [n for n in names if n not in data]
        if missing:
            raise RtlflowError(f"no data for input(s) {missing}")
        arrays = [np.asarray(data[n]) for n in names]
    elif isinstance(data, np.ndarray):
        arrays = [data]
    else:
        arrays = [np.asarray(a) for a in data]
    if len(arrays) != len(names):
        raise RtlflowError(f"the model has {len(names)} input(s), got {len(arrays)} array(s)")
    result = []
    for name, array, shape in zip(names, arrays, shapes, strict=True):
        if array.shape == shape:
            array = array[np.newaxis]
        elif array.shape[1:] != shape:
            if shape[0] == 1 and array.shape[1:] == shape[1:]:
                array = array.reshape((array.shape[0], *shape))
            else:
                raise RtlflowError(
                    f"input '{name}': data of shape {list(array.shape)} does not match the "
                    f"model's {list(shape)} (samples along a first axis)"
                )
        result.append(array.astype(np.float64))
    return result


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file by name."""
    file = Path(path)
    if not file.is_file():
        raise RtlflowError(f"no such data file: {file}")
    try:
        with np.load(file) as data:
            return {key: data[key] for key in data.files}
    except Exception as error:
        raise RtlflowError(f"cannot read {file} as .npz: {error}") from None


def random_inputs(
    formats: list[FixedFormat], shapes: list[tuple[int, ...]], count: int, seed: int
) -> list[np.ndarray]:
    """Test stimulus: half uniform over each input's whole range, half around zero."""
    rng = np.random.default_rng(seed)
    arrays = []
    for fmt, shape in zip(formats, shapes, strict=True):
        uniform = rng.integers(fmt.min_raw, fmt.max_raw, size=(count - count // 2, *shape), endpoint=True)
        spread = max(1, (fmt.max_raw - fmt.min_raw) // 16)
        centre = (fmt.max_raw + fmt.min_raw) // 2
        near = np.clip(rng.normal(centre, spread, size=(count // 2, *shape)), fmt.min_raw, fmt.max_raw)
        arrays.append(np.concatenate([uniform, near.astype(np.int64)]).astype(np.int64))
    return arrays


def model_options(
    part: str = "xcvu13p",
    clock_mhz: float = 200.0,
    precision: str | FixedFormat | None = None,
    reuse_factor: int | None = None,
    conv_style: str | None = None,
    dsp_budget: int | str | None = None,
    config: str | Path | ModelConfig | Mapping | None = None,
) -> Options:
    """The pipeline's options from the user's choices, each checked once: the part, the clock,
    the configuration (a file, a mapping or a ModelConfig) with the command-line defaults over
    it."""
    if not math.isfinite(clock_mhz) or clock_mhz <= 0:
        raise RtlflowError(f"the clock must be a positive frequency in MHz, got {clock_mhz}")
    if reuse_factor is not None and reuse_factor < 1:
        raise RtlflowError(f"the reuse factor must be at least 1, got {reuse_factor}")
    find_part(part)
    if isinstance(config, ModelConfig):
        model_config = config
    elif isinstance(config, Mapping):
        model_config = config_from_dict(dict(config), "configuration")
    elif config is not None:
        model_config = load_config(config)
    else:
        model_config = ModelConfig()
    if isinstance(precision, str) and precision != "auto":
        precision = parse_format(precision, "precision")
    if conv_style is not None and conv_style not in CONV_STYLES:
        raise RtlflowError(f"conv_style must be one of {', '.join(CONV_STYLES)}, got '{conv_style}'")
    model_config = model_config.with_overrides(precision, reuse_factor, conv_style, dsp_budget)
    return Options(part=part, clock_mhz=clock_mhz, config=model_config)


def compile(  # noqa: A001 - the hls4ml-style verb is the point
    model: str | Path | onnx.ModelProto,
    *,
    part: str = "xcvu13p",
    clock_mhz: float = 200.0,
    precision: str | FixedFormat | None = None,
    reuse_factor: int | None = None,
    conv_style: str | None = None,
    dsp_budget: int | str | None = None,
    config: str | Path | ModelConfig | Mapping | None = None,
    calibrate: ArrayInput | str | Path | None = None,
    calibration_margin: int = 1,
    stop_at: str = "verilog",
    dump_ir: str | Path | None = None,
    name: str | None = None,
) -> CompiledModel:
    """Import an ONNX model and lower it to the hardware level (or to ``stop_at``)."""
    if stop_at not in LEVELS:
        raise RtlflowError(f"stop_at must be one of {', '.join(LEVELS)}, got '{stop_at}'")
    options = model_options(part, clock_mhz, precision, reuse_factor, conv_style, dsp_budget, config)
    with collect_warnings() as warnings:
        compiled = _compile(model, options, calibrate, calibration_margin, stop_at, dump_ir, name)
    compiled.warnings = warnings
    return compiled


def _compile(model, options: Options, calibrate, calibration_margin, stop_at, dump_ir, name):
    model_config = options.config
    source = Path(model).name if isinstance(model, str | Path) else "the ONNX model"
    with progress.step(f"reading {source}"):
        module = import_onnx(model, name=name)
    table: list[calibration.TensorRange] = []
    if calibrate is not None:
        nn_level = lower(module.clone(), options, stop_at="nn")["nn"]
        function = design_function(nn_level)
        names = [a.data for a in function.attributes["onnx.inputs"]]  # type: ignore[attr-defined]
        shapes = [tuple(a.type.get_shape()) for a in function.body.block.args]  # type: ignore
        data = load_arrays(calibrate) if isinstance(calibrate, str | Path) else calibrate
        samples = stack_samples(data, names, shapes)
        with progress.step(f"calibrating on {len(samples[0])} samples"):
            ranges = calibration.measure(nn_level, samples)
        model_config, table = calibration.apply(model_config, ranges, calibration_margin)
        options = replace(options, config=model_config)
    dump = dump_to(Path(dump_ir)) if dump_ir is not None else None
    level = "circuit" if stop_at == "verilog" else stop_at
    verify_each = True if dump is not None else None  # else as the environment says
    levels = lower(module, options, stop_at=level, dump=dump, verify_each=verify_each)
    if "fxp" in levels:
        wraps = overflow_warnings(design_function(levels["fxp"]))
        for node, op, message in wraps:
            warn(message, node=node, op=op)
        if wraps:
            warn(WRAP_ADVICE)
    compiled = CompiledModel(levels, options)
    compiled.calibration = table
    return compiled

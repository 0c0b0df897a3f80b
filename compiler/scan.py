"""Design-space scan: compile a model at a range of bit widths and reuse factors, and tabulate
fidelity against latency and resources (``rtlflow scan``).

Every point (total bits W, reuse factor R) is compiled with the default precision
``fixed<W, I>`` and reuse factor R. I, the integer bits (sign included), is the same at every
point: by default ``DEFAULT_INT_BITS`` = 6, as in the compiler's default ``fixed<16,6>`` (so the
16-bit point is the default design), but never more than W. Keeping I fixed means the scan varies
the resolution (fractional bits) only; the range a model needs does not depend on W, so it is
chosen once (``--int-bits``, or per tensor with ``rtlflow compile --calibrate``).

Latency, II, fmax and resources come from the report (the analytical estimate), built without
emitting Verilog: the numbers are those of ``CompiledModel.write``'s report.json, in a fraction
of the time. With inputs, the fidelity is the bit-exact emulator's against the float model
(``fidelity.compare``). A point whose compilation fails (an RtlflowError, e.g. weights outside
``fixed<W, I>``, or a worker that died) becomes a row with an ``error`` field; the scan goes on.

The points are independent: they run on a local process pool (one process per core), or on a
Dask cluster (``scheduler``: ``tcp://host:port`` of a ``dask scheduler`` whose ``dask worker``
processes have rtlflow installed). Each point can also be written out, simulated (Verilator:
bit-exact against the emulator, latency measured) and synthesized (Yosys), which is what a
cluster is for. The rows, and so the table and plots, are the same wherever the points ran.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from rtlflow import fidelity, progress
from rtlflow.api import (
    ArrayInput,
    CompiledModel,
    estimate_report,
    load_arrays,
    stack_samples,
)
from rtlflow.api import compile as compile_model
from rtlflow.emit_verilog import design_function
from rtlflow.errors import RtlflowError
from rtlflow.parts import find_part

DEFAULT_INT_BITS = 6

#: how long a scan waits for a Dask scheduler to answer before it gives up
SCHEDULER_TIMEOUT = "10s"

#: scan.csv's columns, in order; a row leaves empty what does not apply to it
COLUMNS = [
    "bits", "int_bits", "reuse", "precision",
    "latency_cycles", "latency_ns", "ii", "fmax_mhz",
    "lut", "ff", "dsp", "bram18", "lut_pct", "ff_pct", "dsp_pct", "bram18_pct",
    "samples", "max_error", "mean_error", "argmax_agreement", "inputs_outside", "overflow_layers",
    "accuracy", "auc", "r2", "float_accuracy", "float_auc", "float_r2",
    "sim", "sim_latency_cycles", "sim_mismatches",
    "synth_lut", "synth_ff", "synth_carry", "synth_dsp",
    "error",
]  # fmt: skip

#: quality metrics of the plot's left axis, best first, with their axis names
METRICS = {"auc": "AUC", "accuracy": "accuracy", "r2": "R²"}


# ---- option parsing --------------------------------------------------------------------------


def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise RtlflowError(f"{what}: '{text.strip()}' is not an integer") from None


def parse_bits(text: str) -> list[int]:
    """Total bit widths from ``A:B`` (A to B inclusive), ``A:B:STEP`` or a comma list ``6,8,12``;
    sorted, without repeats."""
    what = f"--bits '{text}'"
    if ":" in text:
        parts = [_integer(p, what) for p in text.split(":")]
        if len(parts) not in (2, 3):
            raise RtlflowError(f"{what}: write A:B, A:B:STEP or a comma list")
        low, high, step = (*parts, 1) if len(parts) == 2 else parts
        if step < 1:
            raise RtlflowError(f"{what}: the step must be at least 1")
        if low > high:
            raise RtlflowError(f"{what}: the range is empty ({low} > {high})")
        values = list(range(low, high + 1, step))
    else:
        values = [_integer(p, what) for p in text.split(",") if p.strip()]
    if not values:
        raise RtlflowError(f"{what}: no bit widths")
    if min(values) < 1:
        raise RtlflowError(f"{what}: bit widths must be at least 1")
    return sorted(set(values))


def parse_reuse(text: str) -> list[int]:
    """Reuse factors from a comma list ``1,4``; sorted, without repeats."""
    what = f"--reuse '{text}'"
    values = [_integer(p, what) for p in text.split(",") if p.strip()]
    if not values:
        raise RtlflowError(f"{what}: no reuse factors")
    if min(values) < 1:
        raise RtlflowError(f"{what}: reuse factors must be at least 1")
    return sorted(set(values))


# ---- one point -------------------------------------------------------------------------------


def _hardware(report: dict[str, Any]) -> dict[str, Any]:
    resources, util = report["resources"], report["part"]["utilization"]
    row = {
        "latency_cycles": report["latency_cycles"],
        "latency_ns": report["latency_ns_at_estimated_fmax"],
        "ii": report["initiation_interval"],
        "fmax_mhz": report["clock"]["estimated_fmax_mhz"],
    }
    for key in ("lut", "ff", "dsp", "bram18"):
        row[key] = resources[key]
        row[f"{key}_pct"] = util[key]
    return row


def _fidelity(
    compiled: CompiledModel, samples: list[np.ndarray], labels: np.ndarray | None
) -> dict[str, Any]:
    """Fidelity columns; with several outputs the largest max error, the mean of the mean
    errors and the smallest argmax agreement (labels apply to one-output models only)."""
    emulator = compiled.emulator
    assert emulator is not None
    _, outside = emulator.quantize_inputs(samples)
    result = fidelity.compare(compiled, samples, labels, per_layer=False)
    outputs = result["outputs"]
    row: dict[str, Any] = {
        "samples": result["samples"],
        "max_error": max(o["max_error"] for o in outputs),
        "mean_error": float(np.mean([o["mean_error"] for o in outputs])),
        "inputs_outside": max(outside, default=0),
        "overflow_layers": sum(1 for count in emulator.overflows.values() if count),
    }
    agreements = [o["argmax_agreement"] for o in outputs if "argmax_agreement" in o]
    if agreements:
        row["argmax_agreement"] = min(agreements)
    if len(outputs) == 1:
        for key, value in outputs[0].get("emulated", {}).items():
            row[key] = value
        for key, value in outputs[0].get("float", {}).items():
            row[f"float_{key}"] = value
    return row


def _data(
    inputs: ArrayInput | str | Path | None, labels: np.ndarray | str | None
) -> tuple[ArrayInput | None, np.ndarray | None, str]:
    """The input data and labels; ``inputs`` may be an .npz file and ``labels`` its array name."""
    source = "the inputs"
    data: Any = inputs
    if isinstance(inputs, str | Path):
        source = str(inputs)
        data = load_arrays(inputs)
    if isinstance(labels, str):
        if not isinstance(data, Mapping):
            raise RtlflowError(f"labels '{labels}' name an array of the inputs' .npz: give inputs")
        if labels not in data:
            raise RtlflowError(f"{source} has no array '{labels}' (arrays: {', '.join(data)})")
        labels = data[labels]
    elif labels is not None and data is None:
        raise RtlflowError("labels need inputs (the samples they label)")
    return data, (np.asarray(labels) if labels is not None else None), source


def _samples(nn_level: CompiledModel, data: ArrayInput, source: str) -> list[np.ndarray]:
    """The data as arrays with a leading sample axis, in the model's input order (from the
    model at the nn level: its inputs are those of every point)."""
    function = design_function(nn_level.levels["nn"])
    shapes = [tuple(arg.type.get_shape()) for arg in function.body.block.args]  # type: ignore
    if isinstance(data, Mapping):
        missing = [n for n in nn_level.input_names if n not in data]
        if missing:
            raise RtlflowError(
                f"{source} has no array for input(s) {missing} (it holds: {', '.join(data)})"
            )
    return stack_samples(data, nn_level.input_names, shapes)


@dataclass(frozen=True)
class Point:
    """One point of a scan, everything a worker (another process or machine) needs."""

    model: bytes  # the serialized ONNX model
    name: str
    bits: int
    int_bits: int
    reuse: int
    part: str
    clock_mhz: float
    samples: list[np.ndarray] | None = None
    labels: np.ndarray | None = None
    directory: str | None = None  # where its design is written (simulate, synthesize)
    simulate: bool = False
    synthesize: bool = False

    @property
    def row(self) -> dict[str, Any]:
        return {
            "bits": self.bits, "int_bits": self.int_bits, "reuse": self.reuse,
            "precision": f"fixed<{self.bits},{self.int_bits}>",
        }  # fmt: skip


def run_point(point: Point) -> dict[str, Any]:
    """Compile one point (and simulate, synthesize it when asked); an RtlflowError of the point
    becomes the row's ``error``."""
    row = point.row
    try:
        compiled = compile_model(
            onnx.load_from_string(point.model),
            part=point.part,
            clock_mhz=point.clock_mhz,
            precision=row["precision"],
            reuse_factor=point.reuse,
            name=point.name,
        )
        if point.directory is None:
            row |= _hardware(estimate_report(compiled))
        else:
            row |= _hardware(compiled.write(point.directory, jobs=1))
        if point.samples is not None:
            row |= _fidelity(compiled, point.samples, point.labels)
        if point.simulate:
            row |= _simulated(Path(point.directory))  # type: ignore[arg-type]
        if point.synthesize:
            row |= _synthesized(Path(point.directory), compiled)  # type: ignore[arg-type]
    except RtlflowError as error:
        row["error"] = str(error)
    return row


def _simulated(directory: Path) -> dict[str, Any]:
    from rtlflow.sim.runner import SimulationError, run_testbench

    try:
        result = run_testbench(directory)
    except SimulationError as error:
        raise RtlflowError(f"simulation: {error}") from None
    assert result is not None
    return {
        "sim": "pass" if result.passed else "FAIL",
        "sim_latency_cycles": max(result.latency_cycles, default=0),
        "sim_mismatches": result.mismatches + result.missing,
    }


def _synthesized(directory: Path, compiled: CompiledModel) -> dict[str, Any]:
    from rtlflow.synthesis import synthesize

    report = compiled.report()
    result = synthesize(directory, report["sources"], report["top"], compiled.target.part.family)
    return {
        "synth_lut": result.lut + result.lut_memory, "synth_ff": result.ff,
        "synth_carry": result.carry, "synth_dsp": result.dsp,
    }  # fmt: skip


# ---- the scan --------------------------------------------------------------------------------


def scan(
    model: str | Path | onnx.ModelProto,
    bits: Sequence[int],
    int_bits: int | None = None,
    reuse: Sequence[int] = (1,),
    inputs: ArrayInput | str | Path | None = None,
    labels: np.ndarray | str | None = None,
    part: str = "xcvu13p",
    clock_mhz: float = 200.0,
    outdir: str | Path | None = None,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    simulate: bool = False,
    synthesize: bool = False,
) -> list[dict[str, Any]]:
    """Compile ``model`` at every (total bits W, reuse factor R) and return one row per point
    (keys of ``COLUMNS``, only those that apply), W-major. ``int_bits`` defaults to
    ``DEFAULT_INT_BITS``; at each point I = min(int_bits, W). ``inputs``: data (as for
    ``CompiledModel.predict``) or an .npz file; ``labels``: an array, or the name of an array of
    that file. With ``outdir``, writes scan.csv, scan.md, scan.png and scan.html there.

    The points run on a local process pool of ``workers`` processes (default: one per core),
    or on a Dask cluster: ``scheduler`` is its address (``tcp://host:port``) or a
    ``distributed.Client``. ``simulate`` / ``synthesize`` write each point's design to
    OUTDIR/points/W<W>_R<R> and run Verilator (bit-exact check, measured latency) / Yosys on it
    there; on a cluster, OUTDIR must be a path every worker can write (a shared file system).
    A point that fails is a row with an ``error``; the scan goes on."""
    bits, reuse = sorted(set(bits)), sorted(set(reuse))
    if not bits or min(bits) < 1:
        raise RtlflowError(f"bit widths must be at least 1, got {bits}")
    if not reuse or min(reuse) < 1:
        raise RtlflowError(f"reuse factors must be at least 1, got {reuse}")
    if not math.isfinite(clock_mhz) or clock_mhz <= 0:
        raise RtlflowError(f"the clock must be a positive frequency in MHz, got {clock_mhz}")
    if (simulate or synthesize) and outdir is None:
        raise RtlflowError("simulating or synthesizing the points needs an output directory")
    if workers is not None and workers < 1:
        raise RtlflowError(f"workers must be at least 1, got {workers}")
    find_part(part)
    data, label_array, source = _data(inputs, labels)
    # problems of the model itself (file, operators) are errors of the scan, not of a point
    nn_level = compile_model(model, part=part, clock_mhz=clock_mhz, stop_at="nn")
    samples = _samples(nn_level, data, source) if data is not None else None
    if samples is not None and label_array is not None and len(label_array) != len(samples[0]):
        raise RtlflowError(f"{len(label_array)} labels for {len(samples[0])} samples")
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    serialized = proto.SerializeToString()
    name = Path(model).stem if isinstance(model, str | Path) else nn_level.name
    requested = DEFAULT_INT_BITS if int_bits is None else int_bits
    base = Path(outdir).resolve() / "points" if outdir is not None else None
    points = [
        Point(
            serialized, name, width, min(requested, width), factor, part, clock_mhz, samples,
            label_array,
            str(base / f"W{width}_R{factor}") if base and (simulate or synthesize) else None,
            simulate, synthesize,
        )  # fmt: skip
        for width in bits
        for factor in reuse
    ]
    with progress.step(f"scan: {len(points)} points", total=len(points)) as advance:
        if scheduler is not None:
            rows = _on_cluster(points, scheduler, advance)
        else:
            rows = _on_pool(points, workers, advance)
    if outdir is not None:
        write(rows, outdir, title=_title(model, part, clock_mhz, requested))
    return rows


def _failed(point: Point, error: BaseException) -> dict[str, Any]:
    """The row of a point whose worker failed (not the compiler refusing it)."""
    return point.row | {"error": f"the point failed: {type(error).__name__}: {error}"}


def _on_pool(points: list[Point], workers: int | None, advance: Any) -> list[dict[str, Any]]:
    """The points in a local process pool (in this process when one worker suffices)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from rtlflow.emit_verilog import worker_context

    count = min(workers or os.cpu_count() or 1, len(points))
    if count <= 1:
        rows = []
        for point in points:
            try:
                with progress.hidden():  # the scan counts its points, not their steps
                    rows.append(run_point(point))
            except Exception as error:  # as in a worker: the point is lost, not the scan
                rows.append(_failed(point, error))
            advance()
        return rows
    results: dict[int, dict[str, Any]] = {}
    with ProcessPoolExecutor(max_workers=count, mp_context=worker_context()) as pool:
        futures = {pool.submit(run_point, point): index for index, point in enumerate(points)}
        for future in as_completed(futures):
            index = futures[future]
            try:
                results[index] = future.result()
            except Exception as error:  # the worker died: the point is lost, not the scan
                results[index] = _failed(points[index], error)
            advance()
    return [results[i] for i in range(len(points))]


def _on_cluster(points: list[Point], scheduler: Any, advance: Any) -> list[dict[str, Any]]:
    """The points on a Dask cluster (``scheduler``: its address or a ``distributed.Client``)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RtlflowError(
            "a scan on a cluster needs dask.distributed: pip install 'rtlflow[cluster]'"
        ) from None
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT) if own else scheduler
    except (OSError, TimeoutError) as error:
        raise RtlflowError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    try:
        futures = client.map(run_point, points, pure=False)
        where = {future.key: index for index, future in enumerate(futures)}
        results: dict[int, dict[str, Any]] = {}
        for future in as_completed(futures):
            index = where[future.key]
            try:
                results[index] = future.result()
            except Exception as error:
                results[index] = _failed(points[index], error)
            advance()
        return [results[i] for i in range(len(points))]
    finally:
        if own:
            client.close()


def _title(model: Any, part: str, clock_mhz: float, int_bits: int) -> str:
    name = Path(model).name if isinstance(model, str | Path) else (model.graph.name or "model")
    return (
        f"{name} on {part}, target clock {clock_mhz:g} MHz: precision fixed<W,I> with "
        f"I = min({int_bits}, W)"
    )


# ---- outputs ---------------------------------------------------------------------------------


def write(rows: list[dict[str, Any]], outdir: str | Path, title: str = "rtlflow scan") -> None:
    """OUTDIR/scan.csv, scan.md, scan.png and scan.html."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with (outdir / "scan.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    (outdir / "scan.md").write_text(f"# {title}\n\n{render_table(rows)}")
    plot(rows, outdir / "scan.png", title)
    (outdir / "scan.html").write_text(render_html(rows, title))


def metric(rows: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The fidelity plotted: (row key, axis label) of AUC, else accuracy, else R², else the mean
    error; None without fidelity."""
    good = [r for r in rows if "error" not in r]
    for key, name in METRICS.items():
        if any(key in r for r in good):
            return key, f"{name} of the hardware (emulated)"
    if any("mean_error" in r for r in good):
        return "mean_error", "mean |error| against the float model"
    return None


def _float_reference(rows: list[dict[str, Any]]) -> str:
    good = [r for r in rows if "error" not in r and "samples" in r]
    if not good:
        return ""
    first = good[0]
    quality = [
        f"{name} {first[f'float_{key}']:.4g}"
        for key, name in METRICS.items()
        if f"float_{key}" in first
    ]
    text = f"fidelity on {first['samples']} samples, emulated hardware against the float model"
    if quality:
        text += f"; float model: {', '.join(quality)}"
    return text + "\n\n"


def render_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the rows (columns that are empty throughout are left out)."""

    def resource(key: str):
        return lambda r: f"{r[key]:g} ({r[f'{key}_pct']:.3g} %)"

    columns: list[tuple[str, str, Any]] = [
        ("W", "bits", None),
        ("I", "int_bits", None),
        ("R", "reuse", None),
        ("cycles", "latency_cycles", None),
        ("ns @ fmax", "latency_ns", lambda r: f"{r['latency_ns']:.1f}"),
        ("II", "ii", None),
        ("fmax MHz", "fmax_mhz", lambda r: f"{r['fmax_mhz']:.1f}"),
        ("LUT", "lut", resource("lut")),
        ("FF", "ff", resource("ff")),
        ("DSP", "dsp", resource("dsp")),
        ("BRAM18", "bram18", resource("bram18")),
        ("max err", "max_error", lambda r: f"{r['max_error']:.3g}"),
        ("mean err", "mean_error", lambda r: f"{r['mean_error']:.3g}"),
        ("argmax agree", "argmax_agreement", lambda r: f"{100 * r['argmax_agreement']:.2f} %"),
        ("inputs outside", "inputs_outside", None),
        ("overflowing layers", "overflow_layers", None),
        ("accuracy", "accuracy", lambda r: f"{r['accuracy']:.4f}"),
        ("AUC", "auc", lambda r: f"{r['auc']:.4f}"),
        ("R²", "r2", lambda r: f"{r['r2']:.4f}"),
        ("Verilator", "sim", lambda r: f"{r['sim']} ({r['sim_latency_cycles']} cycles)"),
        ("Yosys LUT", "synth_lut", None),
        ("Yosys FF", "synth_ff", None),
        ("Yosys CARRY8", "synth_carry", None),
        ("Yosys DSP", "synth_dsp", None),
        ("error", "error", lambda r: r["error"].replace("|", "\\|")),
    ]
    columns = [c for c in columns if any(c[1] in r for r in rows)]
    lines = [
        "| " + " | ".join(name for name, _, _ in columns) + " |",
        "|" + "|".join("---" if key == "error" else "---:" for _, key, _ in columns) + "|",
    ]
    for row in rows:
        cells = [
            "–" if key not in row else show(row) if show else str(row[key])
            for _, key, show in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return _float_reference(rows) + "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: str | Path | io.BytesIO, title: str = "rtlflow scan") -> None:
    """Total bits across; the fidelity metric on the left axis (a line per reuse factor, the
    float model's value dashed), LUT and DSP on a logarithmic right axis."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    chosen = metric(rows)
    good = [r for r in rows if "error" not in r]
    reuses = sorted({r["reuse"] for r in rows})
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    figure = Figure(figsize=(9, 5.5))
    FigureCanvasAgg(figure)  # the Agg backend, without pyplot's global state
    left = figure.add_subplot()
    right = left.twinx() if chosen else left
    for index, factor in enumerate(reuses):
        points = sorted((r for r in good if r["reuse"] == factor), key=lambda r: r["bits"])
        colour = colours[index % len(colours)]
        if chosen:
            key, name = chosen
            shown = [r for r in points if key in r]
            left.plot(
                [r["bits"] for r in shown], [r[key] for r in shown], "o-", color=colour,
                label=f"{METRICS.get(key, 'mean error')}, R={factor}",
            )  # fmt: skip
        x = [r["bits"] for r in points]
        right.plot(x, [r["lut"] for r in points], "s-.", color=colour, alpha=0.7,
                   label=f"LUT, R={factor}")  # fmt: skip
        right.plot(x, [r["dsp"] for r in points], "^:", color=colour, alpha=0.7,
                   label=f"DSP, R={factor}")  # fmt: skip
    if chosen:
        key, name = chosen
        if key == "mean_error":
            reference = 0.0
        else:
            values = [r[f"float_{key}"] for r in good if f"float_{key}" in r]
            reference = values[0] if values else None
        if reference is not None:
            left.axhline(
                reference, color="grey", linestyle="--", label=f"float model ({reference:.4g})"
            )
        left.set_ylabel(name)
    if good:
        right.set_yscale("log")
    right.set_ylabel("LUT and DSP (estimate, log scale)")
    left.set_xlabel("total bits W of fixed<W,I>")
    left.set_xticks(sorted({r["bits"] for r in rows}))
    left.grid(True, alpha=0.3)
    failed = sorted({r["bits"] for r in rows if "error" in r})
    if failed:
        title += f"\n(no design at W = {', '.join(map(str, failed))}: see scan.md)"
    left.set_title(title, fontsize=10)
    handles, labels = left.get_legend_handles_labels()
    if right is not left:
        more = right.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    if handles:
        left.legend(handles, labels, fontsize=8, loc="center right")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=120)


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Indices of the points (cost, quality) no other point beats: at most the cost and at
    least the quality (at most, when lower is better), one of them strictly."""

    def beats(a: tuple[float, float], b: tuple[float, float]) -> bool:
        qa, qb = (a[1], b[1]) if higher_is_better else (-a[1], -b[1])
        return a[0] <= b[0] and qa >= qb and (a[0] < b[0] or qa > qb)

    return [i for i, p in enumerate(points) if not any(beats(q, p) for q in points)]


def pareto_plot(rows: list[dict[str, Any]], title: str) -> Any:
    """The fidelity against LUTs and against latency (ns at the estimated fmax), one colour per
    reuse factor, each point labelled with its total bits; the Pareto front as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    chosen = metric(rows)
    assert chosen is not None
    key, name = chosen
    good = [r for r in rows if "error" not in r and key in r]
    figure = Figure(figsize=(11, 4.8))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2, sharey=True)
    for axis, (cost, label) in zip(axes, (("lut", "LUT (estimate)"),
                                          ("latency_ns", "latency (ns at the estimated fmax)"))):
        for index, factor in enumerate(sorted({r["reuse"] for r in good})):
            shown = [r for r in good if r["reuse"] == factor]
            axis.plot([r[cost] for r in shown], [r[key] for r in shown], "o", color=f"C{index}",
                      label=f"R={factor}")  # fmt: skip
            for r in shown:
                axis.annotate(f"{r['bits']}", (r[cost], r[key]), fontsize=7,
                              xytext=(3, 3), textcoords="offset points")  # fmt: skip
        points = [(r[cost], r[key]) for r in good]
        front = sorted(points[i] for i in pareto_front(points, key != "mean_error"))
        axis.plot([p[0] for p in front], [p[1] for p in front], "k--", linewidth=1,
                  label="Pareto front")  # fmt: skip
        if cost == "lut":
            axis.set_xscale("log")
        axis.set_xlabel(label, fontsize=9)
        axis.grid(True, alpha=0.3)
    axes[0].set_ylabel(name, fontsize=9)
    axes[0].legend(fontsize=8)
    figure.suptitle(title + " (labels: total bits W)", fontsize=10)
    figure.tight_layout()
    return figure


def render_html(rows: list[dict[str, Any]], title: str = "rtlflow scan") -> str:
    """scan.html: the Pareto plot of fidelity against resources and latency (with fidelity), the
    overview plot of scan.png, and the table; self-contained, as report.html."""
    from rtlflow.report_html import figure_html, page, table

    body = ""
    if metric(rows) is not None and any("error" not in r for r in rows):
        body += figure_html(
            pareto_plot(rows, title),
            "Fidelity against resources and latency, per point of the scan (labelled with its "
            "total bits). The dashed line is the Pareto front: the points no other point beats "
            "on both axes.",
        )
    else:
        body += "<p>No fidelity (give --inputs): no Pareto plot.</p>\n"
    body += overview_html(rows, title)
    names = [c for c in COLUMNS if any(c in r for r in rows)]
    body += table(names, [[r.get(c, "") for c in names] for r in rows], text_columns=0)
    reference = _float_reference(rows).strip()
    if reference:
        body = f"<p>{reference}</p>\n" + body
    return page(title, body)


def overview_html(rows: list[dict[str, Any]], title: str) -> str:
    """scan.png's plot, embedded."""
    buffer = io.BytesIO()
    plot(rows, buffer, title)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="overview"><figcaption>Fidelity, '
        "LUT and DSP against the total bits, per reuse factor (scan.png).</figcaption></figure>\n"
    )

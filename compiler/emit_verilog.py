"""circuit → Verilog: one module per distinct unit, and the top level that connects them.

Input level: circuit after scheduling. Each ``circuit.unit`` / ``circuit.delay`` is built as its rtl
unit and converted by Amaranth; units with the same module name (identical parameters and
registers) are converted once. Conversions run in parallel worker processes, largest first.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from rtlflow import progress
from rtlflow.dialects import circuit, fxp
from rtlflow.errors import RtlflowError
from rtlflow.naming import verilog_identifier
from rtlflow.rtl import primitives
from rtlflow.rtl.add import StreamAddUnit
from rtlflow.rtl.adder_graph import AdderGraphUnit
from rtlflow.rtl.adder_graph_text import adder_graph_verilog
from rtlflow.rtl.fold import FoldedUnit
from rtlflow.rtl.rows import RowsUnit
from rtlflow.rtl.stream import StreamPadUnit
from rtlflow.rtl.top import InstanceSpec, TopLevel, TopSpec
from rtlflow.rtl.verilog import convert, to_verilog_many
from rtlflow.units import UnitSpec, row_registers, row_spec, unit_spec
from rtlflow.units.folding import is_wiring

RTL_DIR = "rtl"
#: simulation-only Verilog: models of the vendor primitives the library cells instance (for
#: simulators without the vendor's libraries) and the cells' behaviour; never synthesis sources
SIMULATION_DIR = "sim_models"


@dataclass(frozen=True)
class Port:
    """One tensor of the design's interface."""

    name: str  # ONNX tensor name
    base: str  # Verilog port base name: <base>_data
    shape: tuple[int, ...]
    format: fxp.FixedFormat


@dataclass(frozen=True)
class VerilogDesign:
    top: str
    sources: tuple[str, ...]  # relative to the output directory
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    ii: int
    input_beats: tuple[int, ...] = ()
    simulation_models: tuple[str, ...] = ()  # vendor primitives' models, for simulation only
    behavioural: tuple[tuple[str, str], ...] = ()  # (library source, its simulation stand-in)
    #: whether any file differs from what the output directory held (a simulator's build of the
    #: previous files is still good when none does)
    changed: bool = True

    @property
    def streaming(self) -> bool:
        """Inputs arrive as pixel streams, with backpressure from the outputs' ready."""
        return max(self.input_beats, default=1) > 1


def design_function(module: ModuleOp) -> func.FuncOp:
    functions = [op for op in module.ops if isinstance(op, func.FuncOp)]
    assert len(functions) == 1, "one function per design"
    return functions[0]


def interface(function: func.FuncOp) -> tuple[tuple[Port, ...], tuple[Port, ...]]:
    """The design's input and output tensors with their Verilog port names."""
    used: set[str] = {"in", "out", "clk", "rst"}

    def port(name: str, value_type) -> Port:
        base = verilog_identifier(name)
        while base in used:
            base += "_"
        used.add(base)
        return Port(name, base, tuple(value_type.get_shape()), fxp.tensor_format(value_type))

    in_names = [a.data for a in function.attributes["onnx.inputs"]]  # type: ignore[attr-defined]
    out_names = [a.data for a in function.attributes["onnx.outputs"]]  # type: ignore[attr-defined]
    inputs = tuple(port(n, a.type) for n, a in zip(in_names, function.body.block.args, strict=True))
    outputs = tuple(
        port(n, t) for n, t in zip(out_names, function.function_type.outputs.data, strict=True)
    )
    return inputs, outputs


#: the widest vector a unit's port or the design's carries (Amaranth, which writes the Verilog,
#: refuses wider nets; Verilog-2005 guarantees no more)
MAX_PORT_BITS = 1 << 16


def _check_width(
    bits: int, what: str, node: str | None, op: str | None,
    advice: str = "narrow its format or split the tensor (fewer tokens, heads or channels per layer)",
) -> None:  # fmt: skip
    if bits > MAX_PORT_BITS:
        raise RtlflowError(
            f"{what} is {bits:,} bits wide, more than the {MAX_PORT_BITS:,} a port can carry: "
            f"{advice}",
            node=node,
            op=op,
        )


def parallel_fits(window: fxp.WindowOp) -> bool:
    """Whether a window layer's whole result fits a port (``check_parallel_fits``)."""
    return _bits(window.output) <= MAX_PORT_BITS


def check_parallel_fits(window: fxp.WindowOp) -> None:
    """A parallel window layer hands its whole result to the next unit at once: one wider than
    a port can carry is refused (by ``convert-fxp-to-circuit``, before minutes of adder graphs;
    the fxp level and the emulator take any width), with what would help."""
    elements = math.prod(fxp.tensor_shape(window.output))
    fits = MAX_PORT_BITS // elements  # the widest result format that a port carries
    narrow = f"narrow its result format (to {fits} bits or fewer)" if fits else "narrow it"
    if window.can_stream:
        advice = f"stream it (conv_style: stream), or {narrow} or its channels"
    else:
        advice = f"{narrow} or its channels (a padded window cannot stream yet)"
    what, op = "computed in parallel, its result", window.name.removeprefix("fxp.")
    _check_width(_bits(window.output), what, window.node_name, op, advice)


def check_ports(function: func.FuncOp, streamed: set[SSAValue]) -> None:
    """The design's input ports and the ports of the units its ops become (operands packed,
    the result; a beat on a stream) checked against the widest a port carries, by
    ``convert-fxp-to-circuit``: a design that cannot be written is refused in a second, not
    after its units are planned (the checks the Verilog's writing makes)."""
    inputs, _ = interface(function)
    channels_last = _channels_last(function)
    for port, argument in zip(inputs, function.body.block.args, strict=True):
        _check_width(_bits(argument, streamed, channels_last), f"input '{port.base}'", None, None)
    for op in function.body.block.ops:
        if isinstance(op, fxp.ReshapeOp) or not isinstance(
            op, fxp.FxpOp | fxp.MultiInputOp | circuit.CollectOp | circuit.UnitOp
        ):
            continue
        node = None if isinstance(op, circuit.CollectOp) else op.node_name
        kind = "attention" if isinstance(op, circuit.UnitOp) else op.name.split(".", 1)[1]
        bits = sum(_bits(v, streamed) for v in op.operands)
        advice = _attention_advice(op)
        _check_width(bits, "the unit's input", node, kind, **advice)
        _check_width(_bits(op.results[0], streamed), "the unit's output", node, kind, **advice)


def _attention_advice(op) -> dict[str, str]:
    """For attention's scores or softmax (too wide for a port), what would fold it into one
    unit, where the score matrix is never a port."""
    softmax, value = op, op.results[0] if op.results else None
    while value is not None and not isinstance(softmax, fxp.SoftmaxOp) and value.has_one_use():
        softmax = value.get_user_of_unique_use()
        value = softmax.results[0] if is_wiring(softmax) else None
    if not isinstance(softmax, fxp.SoftmaxOp):
        return {}
    if softmax.reuse_factor is None or softmax.reuse_factor.value.data == 1:
        return {"advice": "give the attention a reuse factor R > 1 (--reuse-factor; its scores "
                          "MatMul, softmax and mixing MatMul alike): folded, they are one unit "
                          "whose score matrix is never a port; or narrow its format"}
    return {"advice": "its scores MatMul, softmax and mixing MatMul fold as one unit, whose "
                      "score matrix is never a port, only with the same reuse factor and "
                      "nothing but reshapes between them; or narrow its format"}


def _channels_last(function: func.FuncOp) -> set[SSAValue]:
    """The design inputs that stream channels-last (``circuit.input_channels_last``)."""
    flags = circuit.input_channels_last(function)
    return {a for a, last in zip(function.body.block.args, flags, strict=True) if last}


def _bits(
    value: SSAValue,
    streamed: set[SSAValue] = frozenset(),  # type: ignore[assignment]
    channels_last: set[SSAValue] = frozenset(),  # type: ignore[assignment]
) -> int:
    """Data bits of a value: the whole tensor, or one pixel (all channels) when streamed."""
    shape = fxp.tensor_shape(value)
    if value not in streamed:
        return math.prod(shape) * fxp.tensor_format(value).width
    elements = shape[-1] if value in channels_last else shape[1]
    return elements * fxp.tensor_format(value).width


def emit_verilog(module: ModuleOp, outdir: Path, jobs: int | None = None) -> VerilogDesign:
    """Write the Verilog of a scheduled circuit-level module into ``outdir/rtl``."""
    function = design_function(module)
    top = function.sym_name.data
    inputs, outputs = interface(function)
    names: dict[SSAValue, str] = {}
    for port, argument in zip(inputs, function.body.block.args, strict=True):
        names[argument] = port.base
    instances: list[InstanceSpec] = []
    aliases: list[tuple[str, str]] = []
    modules: dict[str, tuple[UnitSpec, frozenset[int], bool]] = {}
    input_beats = circuit.input_beats(function)
    stall = max(input_beats, default=1) > 1
    streamed: set[SSAValue] = {
        a for a, beats in zip(function.body.block.args, input_beats, strict=True) if beats > 1
    }
    channels_last = _channels_last(function)
    for port, argument in zip(inputs, function.body.block.args, strict=True):
        _check_width(_bits(argument, streamed, channels_last), f"input '{port.base}'", None, None)
    for index, op in enumerate(function.body.block.ops):
        if isinstance(op, circuit.UnitOp) and circuit.beats_of(op.inner) > 1:
            streamed.add(op.outputs[0])
        if isinstance(op, fxp.ReshapeOp):
            names[op.output] = f"v{index}"
            aliases.append((f"v{index}", names[op.input]))
        elif isinstance(op, circuit.UnitOp | circuit.DelayOp | circuit.CollectOp):
            spec = unit_spec(op)
            if isinstance(op, circuit.UnitOp):
                registers, sources, result = frozenset(op.register_boundaries), list(op.inputs), op.outputs[0]
                label = verilog_identifier(op.node_name)
                clocked = op.latency.value.data > 0
            else:
                registers, sources, result = frozenset(), [op.input], op.output
                label, clocked = spec.kind, True
            node = op.node_name if isinstance(op, circuit.UnitOp) else None
            join = spec.unit_class is StreamAddUnit  # two streams: a valid each, after the data
            widths = sum(_bits(v, streamed) for v in sources) + join * 2, _bits(result, streamed)
            _check_width(widths[0], "the unit's input", node, spec.kind)
            _check_width(widths[1], "the unit's output", node, spec.kind)
            name = spec.module_name(registers, stall and clocked)
            modules.setdefault(name, (spec, registers, stall and clocked))
            instance = f"u{index}_{label}"
            instances.append(
                InstanceSpec(
                    instance,
                    name,
                    *widths,
                    clocked,
                    tuple(names[v] for v in sources),
                    stall and clocked,
                    take=spec.unit_class is StreamPadUnit and not spec.params["fifo"],
                    join=join,
                )
            )
            names[result] = instance
    returned = list(function.body.block.last_op.operands)  # type: ignore[union-attr]
    spec = TopSpec(
        inputs=tuple(
            (p.base, _bits(a, streamed, channels_last))
            for p, a in zip(inputs, function.body.block.args, strict=True)
        ),
        instances=tuple(instances),
        aliases=tuple(aliases),
        outputs=tuple((p.base, names[v]) for p, v in zip(outputs, returned, strict=True)),
        ii=function.attributes[circuit.II].value.data,  # type: ignore[attr-defined]
        stream=stall,
    )
    rows = _row_modules(modules)
    if top in modules:
        top += "_top"
    # every unit written (in parallel when it pays); what the direct writers do not cover is
    # elaborated to RTLIL and written by one Yosys run
    with progress.step("Verilog: units generated", total=len(modules) + 1) as done:
        converted = _convert_all(modules, rows, jobs, done)
        converted[top] = convert(TopLevel(spec), top)
        done()
    rtlil_texts = {name: text for name, (kind, text) in converted.items() if kind == "rtlil"}
    texts = {}
    if rtlil_texts:
        with progress.step(f"Verilog: {len(rtlil_texts)} modules written (Yosys)"):
            texts = to_verilog_many(rtlil_texts)
    texts |= {name: text for name, (kind, text) in converted.items() if kind == "verilog"}
    files = {f"{RTL_DIR}/{name}.v": texts[name] for name in [*sorted(modules), top]}
    sources = list(files)
    models: tuple[str, ...] = ()
    behavioural: tuple[tuple[str, str], ...] = ()
    if any(_uses_carry(spec.params) for spec, _, _ in modules.values()):  # ternary adders
        library = f"{RTL_DIR}/{primitives.TERNARY_MODULE}.v"
        sources.insert(0, library)
        models = (f"{SIMULATION_DIR}/xilinx_primitives.v",)
        stand_in = f"{SIMULATION_DIR}/{primitives.TERNARY_MODULE}_behaviour.v"
        behavioural = ((library, stand_in),)
        files |= {
            library: primitives.TERNARY_ADDER_MODULE,
            models[0]: primitives.SIMULATION_MODELS,
            stand_in: primitives.TERNARY_ADDER_BEHAVIOUR,
        }
    changed = _write_changed(outdir, files, (RTL_DIR, SIMULATION_DIR))
    return VerilogDesign(
        top, tuple(sources), inputs, outputs, spec.ii, input_beats, models, behavioural, changed
    )


def _uses_carry(params: dict) -> bool:
    """Whether a unit (or the unit a folded one multiplexes) builds carry-primitive adders."""
    if "inner" in params:
        return _uses_carry(dict(params["inner"][1]))
    return bool(params.get("carry"))


def _write_changed(outdir: Path, files: dict[str, str], owned: tuple[str, ...]) -> bool:
    """Write ``files`` (path relative to ``outdir``: text), leaving a file whose text is already
    there untouched, and remove every other file in the ``owned`` directories (a previous
    design's); whether anything changed."""
    changed = False
    for directory in owned:
        for path in sorted((outdir / directory).glob("*")) if (outdir / directory).is_dir() else []:
            if path.is_file() and str(path.relative_to(outdir)) not in files:
                path.unlink()
                changed = True
    for name, text in files.items():
        path = outdir / name
        if path.is_file() and path.read_text() == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        changed = True
    return changed


def _row_modules(modules: dict[str, tuple[UnitSpec, frozenset[int], bool]]) -> dict[str, str]:
    """For every unit that computes several rows alike, its row module (added to ``modules``):
    unit module name -> row module name."""
    rows: dict[str, str] = {}
    for name, (spec, registers, stall) in list(modules.items()):
        row = row_spec(spec)
        if row is not None:
            inner = row_registers(spec, registers)
            row_name = row.module_name(inner, stall)
            modules.setdefault(row_name, (row, inner, stall))
            rows[name] = row_name
    return rows


def _convert_one(
    spec: UnitSpec, registers: frozenset[int], stall: bool, name: str, row_module: str | None
) -> tuple[str, str]:
    """One unit's module: ``("verilog", text)`` for an adder graph (written directly,
    ``rtlflow.rtl.adder_graph_text``) and every unit the direct writer covers
    (``rtlflow.rtl.direct``), else ``("rtlil", text)`` (the Verilog of those is written from
    all of them at once by Yosys)."""
    if row_module is not None and spec.unit_class is FoldedUnit:
        # a dense layer's rows folded onto its graph: the graph's rows as row module instances
        params = spec.params | {"row_module": row_module}
        return convert(UnitSpec(spec.kind, spec.summary, FoldedUnit, params).build(registers, stall), name)
    unit = spec.build(registers, stall)
    if row_module is None and isinstance(unit, AdderGraphUnit):
        unit._MustUse__silence = True  # written as text, never elaborated
        return "verilog", adder_graph_verilog(unit, name)
    if row_module is None:
        return convert(unit, name)
    unit._MustUse__silence = True  # asked for its widths and latency only
    count = spec.params["rows"]
    wrapper = RowsUnit(
        module=row_module,
        rows=count,
        row_input_bits=len(unit.x.payload.as_value()) // count,
        row_output_bits=len(unit.y.payload.as_value()) // count,
        clocked=unit.latency > 0,
        stall=stall,
    )
    return convert(wrapper, name)


def _convert_all(
    modules: dict[str, tuple[UnitSpec, frozenset[int], bool]],
    rows: dict[str, str],
    jobs: int | None,
    done: Callable[[], None],
) -> dict[str, tuple[str, str]]:
    """Every module as ``_convert_one`` gives it (a unit in ``rows`` as instances of its row
    module), in parallel processes when there are several cores and modules; ``done`` after
    each."""
    order = sorted(modules, key=lambda name: 0 if name in rows else -_size(modules[name][0]))
    workers = min(jobs or os.cpu_count() or 1, len(order))
    if workers <= 1:
        texts = {}
        for name in order:
            texts[name] = _convert_one(*modules[name], name, rows.get(name))
            done()
        return texts
    with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context()) as pool:
        futures = {
            name: pool.submit(_convert_one, *modules[name], name, rows.get(name)) for name in order
        }
        for _ in as_completed(futures.values()):
            done()
        return {name: future.result() for name, future in futures.items()}


def worker_context() -> multiprocessing.context.BaseContext:
    """How worker processes of the compiler start (``_start_method``); a fork server imports
    the compiler once for all of them."""
    context = multiprocessing.get_context(_start_method())
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload([__name__])
    return context


def _start_method() -> str:
    """How conversion workers start. A forked copy of a process that runs threads (onnxruntime's,
    torch's) can wait forever on a lock one of them held, so on POSIX they come from a fork
    server, a clean single-threaded process; its children import the main module again, which
    is safe behind an ``if __name__ == "__main__"`` guard (and in notebooks, ``python -m``,
    pytest). A main script without such a guard would run again in every worker: there the
    workers are forked as before."""
    if os.name != "posix":
        return "spawn"
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if path:
        try:
            guarded = "__main__" in Path(path).read_text(errors="ignore")
        except OSError:
            guarded = False
        if not guarded:
            return "fork"
    return "forkserver"


def _size(spec: UnitSpec) -> int:
    """A rough cost of converting a unit: how many constants it holds."""

    def count(value) -> int:
        return sum(count(v) for v in value) if isinstance(value, tuple) else 1

    return sum(count(value) for value in spec.params.values())

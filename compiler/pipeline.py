"""The lowering, top to bottom: ONNX → nn → fxp → circuit → Verilog.

Read this file first. Each line is one pass; ``--dump-ir`` writes the IR after every one of them,
and ``--stop-at`` ends the pipeline at a level.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.transforms.dead_code_elimination import DeadCodeElimination

from rtlflow import progress
from rtlflow.config import ModelConfig
from rtlflow.dialects import context
from rtlflow.passes.circuit_balance_latency import CircuitBalanceLatencyPass
from rtlflow.passes.circuit_build_adder_graphs import CircuitBuildAdderGraphsPass
from rtlflow.passes.circuit_insert_registers import CircuitInsertRegistersPass
from rtlflow.passes.convert_fxp_to_circuit import ConvertFxpToCircuitPass
from rtlflow.passes.convert_nn_to_fxp import ConvertNnToFxpPass
from rtlflow.passes.fxp_drop_unread_rows import FxpDropUnreadRowsPass
from rtlflow.passes.fxp_fuse_activation import FxpFuseActivationPass
from rtlflow.passes.fxp_set_conv_style import FxpSetConvStylePass
from rtlflow.passes.fxp_set_reuse_factor import FxpSetReuseFactorPass
from rtlflow.passes.nn_assign_precision import NnAssignPrecisionPass
from rtlflow.passes.nn_fold_affine import NnFoldAffinePass
from rtlflow.passes.nn_fold_layout import NnFoldLayoutPass
from rtlflow.passes.nn_fold_reshapes import NnFoldReshapesPass
from rtlflow.passes.nn_form_dense import NnFormDensePass

LEVELS = ("nn", "fxp", "circuit", "verilog")


@dataclass(frozen=True)
class Options:
    """What the user chose: target, clock, precision and parallelism."""

    part: str = "xcvu13p"
    clock_mhz: float = 200.0
    config: ModelConfig = ModelConfig()


def passes(options: Options) -> dict[str, tuple[ModulePass, ...]]:
    """The passes of each level, in order."""
    config = options.config
    return {
        # tensor level: canonical dense layers, transposes and pads folded away, constants
        # (BatchNormalization too) folded into dense and conv layers, no redundant reshapes
        "nn": (
            NnFormDensePass(),
            NnFoldLayoutPass(),
            NnFoldAffinePass(),
            NnFoldReshapesPass(),
            DeadCodeElimination(),
        ),
        # fixed point: formats from the configuration assigned to the ops, then the conversion;
        # ReLU + saturating quantizer folded into the layer before them, rows nobody reads left
        # out, then each layer's parallelism (reuse factor of dense layers, parallel or streaming
        # convolutions)
        "fxp": (
            NnAssignPrecisionPass(config=config),
            ConvertNnToFxpPass(),
            FxpFuseActivationPass(),
            FxpDropUnreadRowsPass(),
            FxpSetReuseFactorPass(config=config),
            FxpSetConvStylePass(config=config, part=options.part),
        ),
        # hardware: units, constant products as adder graphs, registers from the delay model
        # (adder by adder in the graphs), balanced latency
        "circuit": (
            ConvertFxpToCircuitPass(),
            CircuitBuildAdderGraphsPass(part=options.part, config=config),
            CircuitInsertRegistersPass(clock_mhz=options.clock_mhz, part=options.part),
            CircuitBalanceLatencyPass(),
        ),
    }


#: what each level's passes do, as progress shows it
LEVEL_STEPS = {
    "nn": "nn level (layers, layouts, constants)",
    "fxp": "fxp level (formats, fixed point, parallelism)",
    "circuit": "circuit level (units, adder graphs, registers)",
}


def lower(
    module: ModuleOp,
    options: Options,
    stop_at: str = "circuit",
    dump: Callable[[str, ModuleOp], None] | None = None,
    ctx: Context | None = None,
    verify_each: bool | None = None,
) -> dict[str, ModuleOp]:
    """Run the passes up to ``stop_at`` (nn, fxp or circuit) on an imported module, in place.

    Returns the IR at the end of every level reached: a snapshot (clone) of the levels before
    ``stop_at``, the module itself at ``stop_at``. ``dump`` is called with a label and the IR
    after the import and after every pass. The IR is verified at the end of every level, and
    after every pass with ``verify_each`` (by default when the environment sets
    ``RTLFLOW_VERIFY_EACH=1``, as the test suite does; ``--dump-ir`` sets it).
    """
    ctx = ctx or context()
    if verify_each is None:
        verify_each = os.environ.get("RTLFLOW_VERIFY_EACH") == "1"
    snapshots: dict[str, ModuleOp] = {}
    step = 0
    if dump is not None:
        dump(f"{step:02d}-import", module)

    def after_pass(previous: ModulePass | None, ir: ModuleOp, following) -> None:
        nonlocal step
        if previous is not None:
            if verify_each:
                ir.verify()
            step += 1
            if dump is not None:
                dump(f"{step:02d}-{previous.name}", ir)

    for level, level_passes in passes(options).items():
        with progress.step(LEVEL_STEPS[level]):
            PassPipeline(level_passes, after_pass).apply(ctx, module)
            if not verify_each:
                module.verify()
        if level == stop_at:
            snapshots[level] = module
            break
        snapshots[level] = module.clone()
    return snapshots


def dump_to(directory: Path) -> Callable[[str, ModuleOp], None]:
    """A dump callback writing ``<directory>/<label>.mlir``."""
    directory.mkdir(parents=True, exist_ok=True)

    def write(label: str, module: ModuleOp) -> None:
        (directory / f"{label}.mlir").write_text(str(module) + "\n")

    return write

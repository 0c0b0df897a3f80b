"""``rtlflow opt``: run named passes on a printed IR file, as xdsl-opt / mlir-opt do.

    rtlflow opt 03-nn-fold-affine.mlir -p nn-fold-reshapes,dce
    rtlflow opt fxp.mlir -p "fxp-set-reuse-factor,circuit-insert-registers{clock-mhz=400}"

The passes are the pipeline's own (``rtlflow.pipeline.passes``), built from the same options as
``rtlflow compile`` (part, clock, configuration); options written in the pass list override them.
Every pass is followed by the IR's verification, as in the pipeline.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import get_type_hints

from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.passes import ModulePass
from xdsl.utils.arg_spec import ArgSpec, parse_pipeline
from xdsl.utils.exceptions import ArgSpecParseError, ParseError, VerifyException

from rtlflow.dialects import context
from rtlflow.errors import RtlflowError
from rtlflow.pipeline import Options, passes


def available_passes(options: Options) -> dict[str, ModulePass]:
    """Every pass of the pipeline by name, configured by ``options``."""
    return {p.name: p for level in passes(options).values() for p in level}


def configured_pass(spec: ArgSpec, available: dict[str, ModulePass]) -> ModulePass:
    """The pass ``spec`` names, with the options it gives over the configured ones."""
    if spec.name not in available:
        raise RtlflowError(
            f"no pass named {spec.name!r} (passes: {', '.join(sorted(available))})"
        )
    configured = available[spec.name]
    given = spec.normalize_parameter_names().parameters
    if not given:
        return configured
    hints = get_type_hints(type(configured))
    widened = {  # a whole number where a float is expected (clock-mhz=400)
        name: tuple(float(v) if hints.get(name) is float and isinstance(v, int) else v for v in values)
        for name, values in given.items()
    }
    try:
        parsed = type(configured).from_spec(ArgSpec(spec.name, widened))
    except (ValueError, TypeError) as error:
        names = ", ".join(f.name.replace("_", "-") for f in fields(configured) if f.init)
        raise RtlflowError(f"{spec.name}: {error} (its options: {names or 'none'})") from None
    return replace(configured, **{name: getattr(parsed, name) for name in given})


def run_opt(text: str, pipeline: str, options: Options, source: str = "<input>") -> ModuleOp:
    """Parse ``text`` (a module of rtlflow's dialects), run the passes of ``pipeline`` (a comma
    list, each with optional ``{option=value}``) and return the module."""
    ctx = context()
    try:
        module = Parser(ctx, text, source).parse_module()
    except ParseError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise RtlflowError(f"cannot parse the IR: {lines[0]}: {lines[-1]}") from None
    try:
        module.verify()
    except VerifyException as error:
        raise RtlflowError(f"{source}: the IR does not verify: {error}") from None
    try:
        specs = list(parse_pipeline(pipeline))
    except (ArgSpecParseError, ValueError) as error:  # the pass list's own syntax
        reason = [line.strip() for line in str(error).splitlines() if line.strip()][-1]
        raise RtlflowError(f"cannot read the pass list {pipeline!r}: {reason}") from None
    available = available_passes(options)
    for spec in specs:
        pass_ = configured_pass(spec, available)
        pass_.apply(ctx, module)
        try:
            module.verify()
        except VerifyException as error:
            raise RtlflowError(f"the IR after {spec.name} does not verify: {error}") from None
    return module

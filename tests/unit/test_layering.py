"""The import rules of the package layers, read from the sources (every import statement,
including those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: folder → the rtlflow package it is installed as
PACKAGES = {
    "compiler": "rtlflow",
    "dialects": "rtlflow.dialects",
    "rtl": "rtlflow.rtl",
    "sim": "rtlflow.sim",
    "numerics": "rtlflow.numerics",
}


def modules() -> dict[str, set[str]]:
    """``{module: the rtlflow modules it imports}`` for every source file."""
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            name = ".".join((package, *parts))
            imported = set()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported |= {f"{node.module}.{alias.name}" for alias in node.names}
                    imported.add(node.module)
            found[name] = {i for i in imported if i == "rtlflow" or i.startswith("rtlflow.")}
    return found


MODULES = modules()


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def offending(layer: str, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    return {
        module: sorted(i for i in imports if not within(i, *allowed))
        for module, imports in MODULES.items()
        if within(module, layer) and any(not within(i, *allowed) for i in imports)
    }


def test_every_package_is_read():
    assert "rtlflow.numerics.fixed_point" in MODULES
    assert "rtlflow.passes.convert_nn_to_fxp" in MODULES
    assert "rtlflow.rtl.adder_graph" in MODULES


@pytest.mark.parametrize(
    "layer, allowed",
    [
        ("rtlflow.numerics", ("rtlflow.numerics",)),  # the leaf
        ("rtlflow.rtl", ("rtlflow.rtl", "rtlflow.numerics")),  # hardware: no compiler, no IR
        ("rtlflow.dialects", ("rtlflow.dialects", "rtlflow.numerics")),
    ],
)
def test_layer_imports_only_below(layer, allowed):
    assert offending(layer, allowed) == {}


def test_only_the_pipeline_imports_passes():
    importers = {
        module: sorted(i for i in imports if within(i, "rtlflow.passes"))
        for module, imports in MODULES.items()
        if module != "rtlflow.pipeline" and any(within(i, "rtlflow.passes") for i in imports)
    }
    assert importers == {}


def test_backend_does_not_import_the_frontend():
    backend = ("rtlflow.emit_verilog", "rtlflow.units", "rtlflow.report", "rtlflow.rtl")
    importers = {
        module: sorted(i for i in imports if within(i, "rtlflow.frontend"))
        for module, imports in MODULES.items()
        if within(module, *backend) and any(within(i, "rtlflow.frontend") for i in imports)
    }
    assert importers == {}

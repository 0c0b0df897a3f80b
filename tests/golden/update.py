"""Rewrite the golden IR files after an intended change: ``python tests/golden/update.py``.

Review the diff (``git diff tests/golden``) before committing: it is the change's effect.
"""

from __future__ import annotations

from pathlib import Path

import rtlflow

HERE = Path(__file__).parent
MODELS = HERE.parent / "data" / "models"
GOLDEN_MODELS = ("etx4velo_mlp",)
LEVELS = ("nn", "fxp", "circuit")


def render(name: str) -> dict[str, str]:
    compiled = rtlflow.compile(MODELS / f"{name}.onnx", part="xcvu13p", clock_mhz=200.0)
    return {level: compiled.ir(level) + "\n" for level in LEVELS}


if __name__ == "__main__":
    for name in GOLDEN_MODELS:
        for level, text in render(name).items():
            (HERE / f"{name}.{level}.mlir").write_text(text)
            print(f"wrote {name}.{level}.mlir")

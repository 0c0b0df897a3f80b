"""Write the verification kit into an output directory: testbench, runner and test vectors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from rtlflow.sim import cocotb_bench, runner


#: the emulator's program (the fxp level), for ``rtlflow sim --inputs`` to compute expected
#: outputs of other data without the model
EMULATOR_IR = "tb/fxp.mlir"


def write_testbench(
    outdir: Path,
    inputs: list[np.ndarray],
    expected: list[np.ndarray],
    emulator_ir: str | None = None,
) -> list[str]:
    """``tb/test_design.py``, ``tb/run.py``, ``tb/vectors.npz`` (raw integer tensors, one
    sample per row, in the manifest's input and output order) and the emulator's IR
    (``EMULATOR_IR``, when given). Returns the written paths."""
    tb = outdir / "tb"
    tb.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cocotb_bench.__file__, tb / f"{runner.TEST_MODULE}.py")
    shutil.copyfile(runner.__file__, tb / "run.py")
    write_vectors(tb / "vectors.npz", inputs, expected)
    written = ["tb/test_design.py", "tb/run.py", "tb/vectors.npz"]
    if emulator_ir is not None:
        (outdir / EMULATOR_IR).write_text(emulator_ir + "\n")
        written.append(EMULATOR_IR)
    return written


def write_vectors(path: Path, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> Path:
    """Test vectors: ``input0``, …, ``output0``, …, raw integers, one sample per row."""
    arrays = {f"input{i}": np.asarray(x, dtype=np.int64) for i, x in enumerate(inputs)}
    arrays |= {f"output{i}": np.asarray(y, dtype=np.int64) for i, y in enumerate(outputs)}
    np.savez_compressed(path, **arrays)
    return path

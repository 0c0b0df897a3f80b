"""Float reference semantics of the nn level, as an xDSL interpreter (numpy, batched).

Runs the tensor-level IR on float inputs with a leading sample axis, so an imported model can be
checked against onnxruntime before any quantization, and later levels can be compared with the
float network they came from.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter
from xdsl.interpreters.func import FuncFunctions

from rtlflow.sim.semantics import NnFunctions


def run_nn(module: ModuleOp, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run the module's function on float inputs (each with a leading sample axis)."""
    interpreter = Interpreter(module)
    interpreter.register_implementations(FuncFunctions())
    interpreter.register_implementations(NnFunctions())
    function = next(iter(module.ops))
    batched = [np.asarray(x, dtype=np.float64) for x in inputs]
    return list(interpreter.call_op(function, tuple(batched)))

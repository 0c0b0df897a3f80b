"""The bit-exact emulator: the golden model of the RTL, interpreting the fxp level.

Every fxp op has one numpy implementation registered with xDSL's interpreter, in its family's
module of ``rtlflow.sim.semantics``. Values are raw
integers with a leading sample axis, so a whole data set runs in one pass. The arithmetic follows
the op definitions in ``rtlflow.dialects.fxp`` exactly: exact products and sums, then one cast into
the result type with its rounding and overflow modes. The hardware must match this bit for bit.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter
from xdsl.interpreters.func import FuncFunctions

from rtlflow.dialects import fxp
from rtlflow.numerics.fixed_point import FixedFormat
from rtlflow.sim.semantics import FxpFunctions


class Emulator:
    """Runs a fixed-point-level module on raw integers or on float data."""

    def __init__(self, module: ModuleOp):
        self.module = module
        self.function = _fxp_function(module)
        self.overflows: Counter[str] = Counter()

    @property
    def input_formats(self) -> list[FixedFormat]:
        return [fxp.tensor_format(arg) for arg in self.function.body.block.args]

    @property
    def output_formats(self) -> list[FixedFormat]:
        return [fxp.tensor_format(t) for t in self.function.function_type.outputs.data]

    def run_raw(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Raw outputs for raw inputs (each with a leading sample axis)."""
        interpreter, functions = self._interpreter()
        results = interpreter.call_op(self.function, tuple(np.asarray(x) for x in inputs))
        self.overflows = functions.overflows
        return [np.asarray(r) for r in results]

    def trace(self, inputs: list[np.ndarray]) -> dict[str, tuple[np.ndarray, FixedFormat]]:
        """Every layer's raw result for raw inputs, with its format: per node, the value of its
        last op (the layer's output), in program order."""
        interpreter, _ = self._interpreter()
        values = dict(zip(self.function.body.block.args, (np.asarray(x) for x in inputs), strict=True))
        layers: dict[str, tuple[np.ndarray, FixedFormat]] = {}
        for op in self.function.body.block.ops:
            if isinstance(op, func.ReturnOp):
                break
            results = interpreter.run_op(op, tuple(values[v] for v in op.operands))
            values.update(zip(op.results, results, strict=True))
            if op.results and isinstance(op, fxp.FxpOp | fxp.MultiInputOp):
                layers.pop(op.node_name, None)  # keeps program order of the last op
                layers[op.node_name] = np.asarray(results[0]), fxp.tensor_format(op.results[0])
        return layers

    def _interpreter(self) -> tuple[Interpreter, FxpFunctions]:
        """xDSL's interpreter with the fxp ops' implementations (which count overflows)."""
        functions = FxpFunctions()
        interpreter = Interpreter(self.module)
        interpreter.register_implementations(FuncFunctions())
        interpreter.register_implementations(functions)
        return interpreter, functions

    def quantize_inputs(self, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
        """Raw inputs for float data, and how many samples of each input lay outside its format."""
        raws, outside = [], []
        for data, fmt in zip(inputs, self.input_formats, strict=True):
            raw, overflowed = fmt.quantize(data)
            raws.append(raw)
            outside.append(int(overflowed.reshape(overflowed.shape[0], -1).any(axis=1).sum()))
        return raws, outside

    def predict(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Float outputs for float inputs: quantize, emulate bit-exactly, convert back."""
        raw_inputs, _ = self.quantize_inputs(inputs)
        outputs = self.run_raw(raw_inputs)
        return [fmt.to_float(raw) for raw, fmt in zip(outputs, self.output_formats, strict=True)]


def _fxp_function(module: ModuleOp) -> func.FuncOp:
    functions = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if len(functions) != 1:
        raise ValueError("the module must hold exactly one function")
    return functions[0]

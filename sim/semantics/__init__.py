"""Reference semantics of every op, one module per op family, each with the float semantics of
its nn ops and the bit-exact fixed-point semantics of its fxp ops (xDSL interpreter functions):

    core          the cast into a result format, the overflow count
    linear        dense, Gemm, MatMul          windows      Conv, pooling
    elementwise   Add/Sub/Mul/Div, scales, ReLU, leaky ReLU, Abs, HardSigmoid, Clip
    tables        Sigmoid, Tanh, Erf, Softmax, LayerNormalization (fxp: their tables)
    routing       constants, moves, Gather, Scatter
    quantizers    Quant (nn); casts and thresholds (fxp)

``NnFunctions`` joins the float families (``rtlflow.sim.nn_interpreter``), ``FxpFunctions`` the
fixed-point ones (``rtlflow.sim.emulator``).
"""

from xdsl.interpreter import InterpreterFunctions, register_impls

from rtlflow.sim.semantics.core import FixedCore
from rtlflow.sim.semantics.elementwise import FixedElementWise, FloatElementWise
from rtlflow.sim.semantics.linear import FixedLinear, FloatLinear
from rtlflow.sim.semantics.quantizers import FixedQuantizers, FloatQuantizers
from rtlflow.sim.semantics.routing import FixedRouting, FloatRouting
from rtlflow.sim.semantics.tables import FixedTables, FloatTables
from rtlflow.sim.semantics.windows import FixedWindows, FloatWindows


@register_impls
class NnFunctions(
    FloatLinear, FloatElementWise, FloatTables, FloatWindows, FloatRouting, FloatQuantizers,
    InterpreterFunctions,
):  # fmt: skip
    """One numpy implementation per nn op; arrays carry a leading sample axis."""


@register_impls
class FxpFunctions(
    FixedCore, FixedLinear, FixedElementWise, FixedTables, FixedWindows, FixedRouting,
    FixedQuantizers, InterpreterFunctions,
):  # fmt: skip
    """One implementation per fxp op, on raw integers with a leading sample axis."""

    def __init__(self) -> None:
        FixedCore.__init__(self)


__all__ = ["FxpFunctions", "NnFunctions"]

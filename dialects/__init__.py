"""The three IR levels of rtlflow as xDSL dialects: nn (tensor), fxp (fixed point), circuit (hardware)."""

from xdsl.context import Context
from xdsl.dialects.builtin import Builtin
from xdsl.dialects.func import Func

from rtlflow.dialects.circuit import Circuit
from rtlflow.dialects.fxp import Fxp
from rtlflow.dialects.nn import Nn
from rtlflow.dialects.shiftadd import ShiftAdd


def context() -> Context:
    """An xDSL context that knows every dialect rtlflow prints and parses."""
    ctx = Context()
    for dialect in (Builtin, Func, Nn, Fxp, Circuit, ShiftAdd):
        ctx.load_dialect(dialect)
    return ctx


__all__ = ["context"]

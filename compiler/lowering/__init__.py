"""nn → fxp: the lowering of the tensor level into fixed-point dataflow, one pattern per op family.

    assign        precision assignment: the configuration resolved onto the nn ops
    converter     the conversion of a function (``Lowering``): arguments' formats, each op
                  rewritten by its family's pattern, bridges between the levels
    common        ``FamilyPattern`` and ``@lowers``, shared helpers
    precision     result and constant formats: configured, exact (quantization-aware), inferred
    carried       scales that are not powers of two, carried to the next quantizer
    linear        dense, matmul            windows     conv, pool
    elementwise   relu, leaky_relu, clip, scale_shift, add, abs, hard_sigmoid
    tables        sigmoid, tanh, erf, softmax, layer_norm (their lookup tables)
    routing       reshape, transpose, pad, concat, expand, gather, scatter
    quantizers    nn.quant: casts or thresholds

The pass ``nn-assign-precision`` runs ``assign_precision``, ``convert-nn-to-fxp`` runs
``convert``, on every function.
"""

from xdsl.dialects import func

from rtlflow.lowering.assign import assign_precision
from rtlflow.lowering.carried import Carried
from rtlflow.lowering.converter import Lowering
from rtlflow.lowering.elementwise import ElementWise
from rtlflow.lowering.linear import Linear
from rtlflow.lowering.quantizers import Quantizers
from rtlflow.lowering.routing import Routing
from rtlflow.lowering.tables import Tables
from rtlflow.lowering.windows import Windows

#: the family patterns, each lowering its ops
FAMILIES = (Linear, Windows, ElementWise, Tables, Routing, Quantizers)


def convert(function: func.FuncOp) -> None:
    """Lower one function from nn to fxp with every family's pattern, in the formats
    ``nn-assign-precision`` assigned (``assign``)."""
    lowering = Lowering(function)
    lowering.convert(function, [family(lowering) for family in FAMILIES])


__all__ = ["FAMILIES", "Carried", "Lowering", "assign_precision", "convert"]

"""nn → fxp: the lowering of the tensor level into fixed-point dataflow, one module per op family.

    converter     the walk over a function: input formats, each op by its registered lowering
    common        the registry (``@lowers``) and shared helpers
    precision     result and constant formats: configured, exact (quantization-aware), inferred
    carried       scales that are not powers of two, carried to the next quantizer
    linear        dense, matmul            windows     conv, pool
    elementwise   relu, leaky_relu, clip, scale_shift, add
    tables        sigmoid, tanh, erf, softmax, layer_norm (their lookup tables)
    routing       reshape, transpose, pad, concat, expand, gather, scatter
    quantizers    nn.quant: casts or thresholds

``Converter`` joins the families; the pass ``convert-nn-to-fxp`` runs it on every function.
"""

from rtlflow.lowering.carried import Carried, CarriedScales
from rtlflow.lowering.converter import ConverterCore
from rtlflow.lowering.elementwise import ElementWise
from rtlflow.lowering.linear import Linear
from rtlflow.lowering.precision import Precision
from rtlflow.lowering.quantizers import Quantizers
from rtlflow.lowering.routing import Routing
from rtlflow.lowering.tables import Tables
from rtlflow.lowering.windows import Windows


class Converter(
    ConverterCore, Precision, CarriedScales, Linear, Windows, ElementWise, Tables, Routing,
    Quantizers,
):  # fmt: skip
    """The nn → fxp converter of one function: the walk and every family's lowerings."""


__all__ = ["Carried", "Converter"]

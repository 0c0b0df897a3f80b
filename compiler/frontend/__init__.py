"""ONNX → nn. ``importer`` reads the file, folds what is known at compile time and walks the
graph; each op family's module registers the handlers of its ONNX operators (``@handles``):

    elementwise    Add, Sub, Mul, Div, Relu, Sigmoid, Tanh, Erf, LeakyRelu, Clip, Cast, Identity
    linear         Gemm, MatMul, Einsum
    shapes         Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Pad, Slice, Split,
                   Expand
    windows        Conv, MaxPool, AveragePool, global pooling, BatchNormalization
    normalization  Softmax, LayerNormalization, ReduceMean, ReduceMax
    indexing       Gather, GatherElements, ScatterND, ScatterElements
    quantizers     QONNX Quant, BipolarQuant, Trunc; QuantizeLinear, DequantizeLinear
"""

from rtlflow.frontend import (  # noqa: F401 - each module registers its handlers
    elementwise,
    indexing,
    linear,
    normalization,
    quantizers,
    shapes,
    windows,
)
from rtlflow.frontend.importer import import_onnx, load_model, supported_operators

__all__ = ["import_onnx", "load_model", "supported_operators"]

"""The op conformance table: one entry per variant of every ONNX operator rtlflow builds.

Each case is a one-node ONNX model (activations random on the default input grid, weights and
other constants on a dyadic grid so that they are exact in the default formats). The table drives
``test_conformance.py``:

* import: the nn level, run by the float interpreter, against onnxruntime;
* emulator: against the exact fixed-point result where the op is exact arithmetic (``exact``):
  the ONNX reference evaluator in float64 on the quantized inputs, truncated to the result's
  fixed<16,6> as ap_fixed does; against onnxruntime within the table / rounding tolerance else;
* rtl: the generated Verilog under Verilator, bit-exact with the emulator at the reported latency
  (``rtl``: "default" in every run, "slow" with --run-slow).

To add an operator (or a variant), add a case here; the three checks follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

OPSET = 17
#: the default input format fixed<16,6>: 10 fractional bits
FRAC = 10


def grid(shape: tuple[int, ...], low: float, high: float, frac: int, seed: int) -> np.ndarray:
    """Random values on the grid 2^-frac within [low, high]."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(round(low * 2**frac), round(high * 2**frac) + 1, size=shape)
    return (steps * 2.0**-frac).astype(np.float32)


@dataclass(frozen=True)
class OpCase:
    name: str
    op_type: str
    #: activation inputs (name, shape); float unless listed in ``indices``
    inputs: tuple[tuple[str, tuple[int, ...]], ...]
    #: the node's inputs in order: activation names and constant names
    node_inputs: tuple[str, ...]
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    attributes: dict = field(default_factory=dict)
    outputs: int = 1
    #: integer inputs: name -> exclusive upper bound of the random indices
    indices: dict[str, int] = field(default_factory=dict)
    #: the emulator equals exact fixed-point arithmetic (else: close to onnxruntime)
    exact: bool = True
    #: Verilator: "default" (every run) or "slow" (--run-slow)
    rtl: str = "slow"
    #: range of the random activations
    span: tuple[float, float] = (-4.0, 4.0)
    #: the ONNX opset of the model (operators that are newer than OPSET)
    opset: int = OPSET

    def model(self) -> onnx.ModelProto:
        outputs = [f"y{k}" if self.outputs > 1 else "y" for k in range(self.outputs)]
        node = helper.make_node(
            self.op_type, list(self.node_inputs), outputs, name=self.name, **self.attributes
        )
        graph = helper.make_graph(
            [node],
            self.name,
            [
                helper.make_tensor_value_info(
                    name, TensorProto.INT64 if name in self.indices else TensorProto.FLOAT, shape
                )
                for name, shape in self.inputs
            ],
            [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
            [numpy_helper.from_array(value, name) for name, value in self.constants.items()],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 10
        # the outputs' shapes, from one run of ONNX's reference evaluator
        feeds = {name: values[0] for name, values in self.samples(1).items()}
        shapes = [np.shape(r) for r in ReferenceEvaluator(model).run(None, feeds)]
        for value, shape in zip(model.graph.output, shapes, strict=True):
            value.CopyFrom(helper.make_tensor_value_info(value.name, TensorProto.FLOAT, shape))
        onnx.checker.check_model(model)
        return model

    def samples(self, count: int, seed: int = 0) -> dict[str, np.ndarray]:
        data = {}
        for k, (name, shape) in enumerate(self.inputs):
            if name in self.indices:
                rng = np.random.default_rng(seed + k)
                data[name] = rng.integers(0, self.indices[name], size=(count, *shape))
            else:
                data[name] = grid((count, *shape), *self.span, FRAC, seed + k)
        return data


def w(shape: tuple[int, ...], seed: int, frac: int = 5, bound: float = 1.0) -> np.ndarray:
    """Constants on the grid 2^-frac (exact in fixed<16,6>)."""
    return grid(shape, -bound, bound, frac, 100 + seed)


def i64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


X = (("x", (1, 6)),)
IMAGE = (("x", (1, 2, 5, 5)),)

CASES = (
    # ---- element-wise
    OpCase("relu", "Relu", X, ("x",), rtl="default"),
    OpCase("leaky_relu", "LeakyRelu", X, ("x",), attributes={"alpha": 0.125}),
    OpCase("clip", "Clip", X, ("x", "lo", "hi"),
           {"lo": np.float32(-1.5), "hi": np.float32(2.25)}),
    OpCase("abs", "Abs", X, ("x",), rtl="default"),
    OpCase("hard_sigmoid", "HardSigmoid", X, ("x",), exact=False),
    OpCase("hard_sigmoid_dyadic", "HardSigmoid", X, ("x",),
           attributes={"alpha": 0.25, "beta": 0.375}, rtl="default"),
    OpCase("sigmoid", "Sigmoid", X, ("x",), exact=False),
    OpCase("tanh", "Tanh", X, ("x",), exact=False),
    OpCase("erf", "Erf", X, ("x",), exact=False),
    OpCase("exp", "Exp", X, ("x",), exact=False, span=(-4.0, 3.0)),
    OpCase("softplus", "Softplus", X, ("x",), exact=False, span=(-12.0, 12.0)),
    OpCase("elu", "Elu", X, ("x",), exact=False, span=(-12.0, 12.0), rtl="default"),
    OpCase("selu", "Selu", X, ("x",), exact=False, span=(-12.0, 12.0)),
    OpCase("hard_swish", "HardSwish", X, ("x",), exact=False),
    OpCase("gelu", "Gelu", X, ("x",), exact=False, opset=20),
    OpCase("gelu_tanh", "Gelu", X, ("x",), attributes={"approximate": "tanh"}, exact=False,
           span=(-3.0, 3.0), opset=20),
    OpCase("add", "Add", (("a", (1, 6)), ("b", (1, 6))), ("a", "b"), rtl="default"),
    OpCase("sub", "Sub", (("a", (1, 6)), ("b", (1, 6))), ("a", "b")),
    OpCase("mul", "Mul", (("a", (1, 6)), ("b", (1, 6))), ("a", "b"), span=(-2.0, 2.0),
           rtl="default"),
    OpCase("sub_constant", "Sub", X, ("x", "c"), {"c": w((6,), 12)}),
    OpCase("add_constant", "Add", X, ("x", "c"), {"c": w((6,), 1)}),
    OpCase("mul_constant", "Mul", X, ("x", "c"), {"c": w((6,), 2)}),
    OpCase("div_power_of_two", "Div", X, ("x", "c"), {"c": np.float32(4.0)}),
    OpCase("identity", "Identity", X, ("x",)),
    OpCase("neg", "Neg", X, ("x",)),
    OpCase("cast_like", "CastLike", X, ("x", "like"), {"like": np.zeros(1, np.float32)}),
    # ---- reductions over any axes
    OpCase("reduce_sum_tokens", "ReduceSum", (("x", (1, 5, 4)),), ("x", "axes"),
           {"axes": i64([1])}, attributes={"keepdims": 0}),
    OpCase("reduce_mean_tokens", "ReduceMean", (("x", (1, 4, 6)),), ("x",),
           attributes={"axes": [1], "keepdims": 0}, exact=False, rtl="default"),
    OpCase("reduce_max_last", "ReduceMax", (("x", (1, 3, 5)),), ("x",),
           attributes={"axes": [-1]}),
    OpCase("reduce_min_two_axes", "ReduceMin", (("x", (1, 3, 2, 4)),), ("x",),
           attributes={"axes": [1, 3], "keepdims": 0}),
    # ---- products
    OpCase("gemm", "Gemm", X, ("x", "w", "b"), {"w": w((4, 6), 3), "b": w((4,), 4)},
           {"transB": 1}, rtl="default"),
    OpCase("matmul_constant", "MatMul", X, ("x", "w"), {"w": w((6, 3), 5)}),
    OpCase("matmul_activations", "MatMul", (("a", (2, 3)), ("b", (3, 4))), ("a", "b"),
           span=(-2.0, 2.0)),
    OpCase("einsum", "Einsum", (("a", (1, 2, 3)), ("b", (1, 4, 3))), ("a", "b"),
           attributes={"equation": "bqc,bkc->bqk"}, span=(-2.0, 2.0)),
    OpCase("einsum_weights", "Einsum", (("x", (1, 3, 4)),), ("x", "w"), {"w": w((5, 4), 21)},
           attributes={"equation": "btd,ed->bte"}),
    OpCase("einsum_weights_first", "Einsum", (("x", (1, 3, 4)),), ("w", "x"),
           {"w": w((4, 2), 22)}, attributes={"equation": "de,btd->bte"}),
    OpCase("gemm_activations", "Gemm", (("a", (4, 3)), ("b", (2, 4))), ("a", "b", "c"),
           {"c": w((3, 1), 23)}, {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 0.25},
           span=(-2.0, 2.0)),
    # ---- windows
    OpCase("conv2d", "Conv", IMAGE, ("x", "w", "b"), {"w": w((3, 2, 3, 3), 6), "b": w((3,), 7)},
           {"pads": [1, 1, 1, 1], "strides": [2, 2]}, rtl="default"),
    OpCase("conv2d_groups_dilation", "Conv", IMAGE, ("x", "w"), {"w": w((2, 1, 2, 2), 8)},
           {"group": 2, "dilations": [2, 2]}),
    OpCase("conv1d", "Conv", (("x", (1, 2, 8)),), ("x", "w"), {"w": w((3, 2, 3), 9)},
           {"strides": [2]}),
    OpCase("max_pool", "MaxPool", IMAGE, ("x",), attributes={"kernel_shape": [2, 2]}),
    OpCase("average_pool", "AveragePool", IMAGE, ("x",),
           attributes={"kernel_shape": [2, 2], "strides": [2, 2]}),
    OpCase("average_pool_3x3", "AveragePool", IMAGE, ("x",),
           attributes={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, exact=False),
    OpCase("global_max_pool", "GlobalMaxPool", IMAGE, ("x",)),
    OpCase("batch_norm", "BatchNormalization", IMAGE, ("x", "g", "b", "m", "v"),
           {"g": np.float32([0.5, 2.0]), "b": np.float32([0.25, -1.0]),
            "m": np.float32([0.0, 0.5]), "v": np.float32([1.0, 4.0])},
           {"epsilon": 0.0}),
    # ---- normalisations
    OpCase("softmax", "Softmax", (("x", (2, 5)),), ("x",), exact=False, rtl="default"),
    OpCase("layer_norm", "LayerNormalization", (("x", (3, 4)),), ("x", "s", "b"),
           {"s": w((4,), 10), "b": w((4,), 11)}, exact=False),
    # ---- moves
    OpCase("reshape", "Reshape", (("x", (1, 2, 3)),), ("x", "s"), {"s": i64([1, 6])}),
    OpCase("flatten", "Flatten", IMAGE, ("x",)),
    OpCase("transpose", "Transpose", (("x", (1, 2, 3)),), ("x",), attributes={"perm": [0, 2, 1]}),
    OpCase("concat", "Concat", (("a", (1, 2)), ("b", (1, 3))), ("a", "b"), attributes={"axis": 1}),
    OpCase("pad", "Pad", IMAGE, ("x", "p"), {"p": i64([0, 0, 1, 0, 0, 0, 0, 2])}),
    OpCase("slice", "Slice", (("x", (1, 8)),), ("x", "s", "e", "a", "t"),
           {"s": i64([1]), "e": i64([7]), "a": i64([1]), "t": i64([2])}),
    OpCase("split", "Split", (("x", (1, 6)),), ("x", "n"), {"n": i64([2, 4])},
           {"axis": 1}, outputs=2),
    OpCase("expand", "Expand", (("x", (1, 3)),), ("x", "s"), {"s": i64([2, 3])}),
    OpCase("tile", "Tile", (("x", (1, 2, 3)),), ("x", "r"), {"r": i64([1, 3, 2])}),
    OpCase("where_constant_mask", "Where", (("a", (1, 6)), ("b", (1, 6))), ("m", "a", "b"),
           {"m": np.array([[True, False, True, True, False, False]])}),
    OpCase("where_masked_fill", "Where", X, ("m", "x", "c"),
           {"m": np.array([[True, True, False, True, False, True]]), "c": np.float32(-2.5)}),
    # ---- indexing
    OpCase("gather_constant", "Gather", (("x", (1, 5)),), ("x", "i"), {"i": i64([4, 0, 2])},
           {"axis": 1}),
    OpCase("gather", "Gather", (("x", (5, 2)), ("i", (3,))), ("x", "i"), indices={"i": 5},
           rtl="default"),
    OpCase("scatter_nd_add", "ScatterND", (("x", (4, 2)), ("i", (3, 1)), ("u", (3, 2))),
           ("x", "i", "u"), attributes={"reduction": "add"}, indices={"i": 4}),
    # a static graph's aggregation: constant edge indices, messages at run time
    OpCase("scatter_add_constant_indices", "ScatterElements", (("x", (1, 5)), ("u", (1, 6))),
           ("x", "i", "u"), {"i": i64([[0, 2, 2, 4, 0, 2]])},
           {"axis": 1, "reduction": "add"}, rtl="default"),
    OpCase("scatter_constant_indices", "ScatterND", (("x", (4, 2)), ("u", (2, 2))),
           ("x", "i", "u"), {"i": i64([[3], [1]])}),
    OpCase("pad_value", "Pad", IMAGE, ("x", "p", "v"),
           {"p": i64([0, 0, 1, 0, 0, 0, 0, 2]), "v": np.float32(0.75)}),
    OpCase("gemm_matrix_bias_trans_a", "Gemm", (("x", (6, 2)),), ("x", "w", "c"),
           {"w": w((6, 3), 7), "c": w((2, 3), 8)}, {"transA": 1}),
    OpCase("matmul_stacked_weights", "MatMul", (("x", (2, 3, 4)),), ("x", "w"),
           {"w": w((2, 4, 5), 9)}),
)

"""Small ONNX models built in code for the end-to-end tests, and their onnxruntime outputs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Graph:
    """A tiny graph builder: named constants, nodes, one or more outputs."""

    def __init__(
        self,
        name: str,
        inputs: dict[str, list[int]],
        seed: int = 0,
        integer_inputs: dict[str, list[int]] | None = None,
    ):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()]
        self.inputs += [
            helper.make_tensor_value_info(n, TensorProto.INT64, s)
            for n, s in (integer_inputs or {}).items()
        ]
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def constant(self, array) -> str:
        self.count += 1
        name = f"c{self.count}"
        array = np.asarray(array)
        if not np.issubdtype(array.dtype, np.integer):
            array = array.astype(np.float32)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], **attributes) -> str:
        self.count += 1
        output = f"{op.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [output], name=f"n{self.count}_{op}", **attributes))
        return output

    def dense(self, x: str, n_in: int, n_out: int, scale: float = 0.5) -> str:
        weight = self.constant(self.rng.normal(0, scale, (n_out, n_in)))
        bias = self.constant(self.rng.normal(0, 0.2, n_out))
        return self.node("Gemm", [x, weight, bias], transB=1)

    def model(self, outputs: dict[str, str], opset: int = OPSET) -> onnx.ModelProto:
        nodes = self.nodes + [helper.make_node("Identity", [src], [dst]) for dst, src in outputs.items()]
        graph = helper.make_graph(nodes, self.name, self.inputs, [], self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8  # onnxruntime rejects the IR version onnx writes by default
        inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
        model.graph.output.extend(inferred[name] for name in outputs)
        onnx.checker.check_model(model)
        return model


def mixed_activations() -> onnx.ModelProto:
    """Gemm, LeakyRelu, Clip, Sigmoid, Tanh and a final Softmax on a flattened 2x4 input."""
    g = Graph("mixed_activations", {"x": [1, 2, 4]}, seed=1)
    h = g.node("Flatten", ["x"], axis=1)
    h = g.node("LeakyRelu", [g.dense(h, 8, 10)], alpha=0.1)
    h = g.node("Clip", [g.dense(h, 10, 8), g.constant(-1.0), g.constant(2.0)])
    h = g.node("Sigmoid", [g.dense(h, 8, 6)])
    h = g.node("Tanh", [g.dense(h, 6, 6, scale=1.5)])
    return g.model({"probs": g.node("Softmax", [g.dense(h, 6, 4, scale=2.0)], axis=-1)})


def two_outputs() -> onnx.ModelProto:
    """A shared trunk with two heads of different depth (their latencies must be balanced)."""
    g = Graph("two_outputs", {"x": [1, 5]}, seed=2)
    trunk = g.node("Relu", [g.dense("x", 5, 8)])
    short = g.dense(trunk, 8, 2)
    long = g.node("Relu", [g.dense(trunk, 8, 8)])
    long = g.dense(g.node("Relu", [g.dense(long, 8, 8)]), 8, 3)
    return g.model({"score": short, "embedding": long})


def elementwise_affine() -> onnx.ModelProto:
    """Affine maps that cannot fold into a dense layer (per-element constants after a ReLU)."""
    g = Graph("elementwise_affine", {"x": [1, 6]}, seed=3)
    h = g.node("Relu", [g.dense("x", 6, 6)])
    h = g.node("Mul", [h, g.constant(g.rng.normal(0, 1.5, (1, 6)))])
    h = g.node("Sub", [g.constant(g.rng.normal(0, 1, 6)), h])
    return g.model({"y": g.node("Relu", [h])})


def per_row_dense() -> onnx.ModelProto:
    """MatMul + Add on a [1, 3, 4] input: one dense layer applied to each of three rows."""
    g = Graph("per_row_dense", {"x": [1, 3, 4]}, seed=6)
    h = g.node("MatMul", ["x", g.constant(g.rng.normal(0, 0.7, (4, 5)))])
    h = g.node("Relu", [g.node("Add", [h, g.constant(g.rng.normal(0, 0.3, 5))])])
    return g.model({"y": g.node("MatMul", [h, g.constant(g.rng.normal(0, 0.7, (5, 2)))])})


def gemm_of_activations() -> onnx.ModelProto:
    """Gemm with both operands computed (transA, transB, alpha 1/16, a constant C, beta 0.75),
    and a constant-B Gemm whose C is computed: attention-style products as exporters write
    them with Gemm (scaled so that the test's inputs stay within fixed<16,6>)."""
    g = Graph("gemm_of_activations", {"x": [3, 4]}, seed=8)
    keys = g.node("Gemm", ["x", g.constant(g.rng.normal(0, 0.25, (4, 3)))])  # [3, 3]
    scores = g.node("Gemm", ["x", keys, g.constant(g.rng.normal(0, 0.3, (1, 3)))],
                    transA=1, transB=1, alpha=0.0625, beta=0.75)  # x.T [4, 3] @ keys.T [3, 3]
    mixed = g.node("Gemm", [keys, g.constant(g.rng.normal(0, 0.5, (3, 3))), keys], beta=0.5)
    return g.model({"scores": scores, "mixed": mixed})


def wide_mlp(n_in: int = 12, hidden: int = 16, n_out: int = 4, seed: int = 4) -> onnx.ModelProto:
    """A plain MLP for reuse-factor tests."""
    g = Graph("wide_mlp", {"x": [1, n_in]}, seed=seed)
    h = g.node("Relu", [g.dense("x", n_in, hidden)])
    h = g.node("Relu", [g.dense(h, hidden, hidden)])
    return g.model({"y": g.dense(h, hidden, n_out)})


def residual_block(size: int, channels: int, pools: int = 1, seed: int = 4) -> onnx.ModelProto:
    """A residual block on a ``size`` x ``size`` image as ResNets write it: "same" 3x3 conv, ReLU,
    "same" 3x3 conv, the input added back, ReLU; then ``pools`` 2x2 max poolings and a dense
    head of two outputs."""
    g = Graph(f"residual_{size}", {"x": [1, channels, size, size]}, seed=seed)
    same = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    w1 = g.constant(g.rng.normal(0, 0.3, (channels, channels, 3, 3)))
    h = g.node("Relu", [g.node("Conv", ["x", w1], **same)])
    w2 = g.constant(g.rng.normal(0, 0.3, (channels, channels, 3, 3)))
    h = g.node("Relu", [g.node("Add", [g.node("Conv", [h, w2], **same), "x"])])
    for _ in range(pools):
        h = g.node("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])
    features = channels * (size >> pools) ** 2
    return g.model({"y": g.dense(g.node("Flatten", [h], axis=1), features, 2, scale=0.2)})


def onnxruntime_outputs(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Float reference: onnxruntime, one sample at a time (the models have batch size 1)."""
    session = onnxruntime.InferenceSession(model.SerializeToString())
    names = [o.name for o in session.get_outputs()]
    count = len(next(iter(inputs.values())))
    per_sample = [
        session.run(names, {k: _onnx_dtype(v[i]) for k, v in inputs.items()}) for i in range(count)
    ]
    return [np.stack([sample[j] for sample in per_sample]) for j in range(len(names))]


def _onnx_dtype(array: np.ndarray) -> np.ndarray:
    """float32 for float data, int64 for integer data (indices)."""
    return array.astype(np.int64 if np.issubdtype(array.dtype, np.integer) else np.float32)

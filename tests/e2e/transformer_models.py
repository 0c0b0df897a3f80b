"""A transformer encoder built in code, node for node as PyTorch's ONNX exporter (dynamo,
opset 18) writes ``nn.TransformerEncoder(nn.TransformerEncoderLayer(batch_first=True,
norm_first=False), num_layers)`` in eval mode: the packed in-projection, the
Reshape/Unsqueeze/Transpose/Squeeze/Gather head split, q and k each scaled by head_dim^-1/4, two
activation MatMuls with a Softmax between them, the out-projection Gemm, residual Adds, and
LayerNormalization after attention and after the feed-forward block."""

from __future__ import annotations

import numpy as np
import onnx

from tests.e2e.models import Graph


def _linear(g: Graph, x: str, n_in: int, n_out: int) -> str:
    """``x @ W^T + b`` as the exporter writes a Linear on a 3-D input: MatMul, then Add."""
    weight = g.constant(g.rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_out)))
    return g.node("Add", [g.node("MatMul", [x, weight]), g.constant(g.rng.normal(0, 0.1, n_out))])


def _layer_norm(g: Graph, x: str, d: int) -> str:
    scale = g.constant(1 + g.rng.normal(0, 0.1, d))
    bias = g.constant(g.rng.normal(0, 0.05, d))
    return g.node("LayerNormalization", [x, scale, bias], axis=-1, epsilon=1e-5)


def _attention(g: Graph, x: str, tokens: int, d: int, heads: int) -> str:
    head = d // heads
    shape = lambda *dims: g.constant(np.array(dims, dtype=np.int64))  # noqa: E731
    t = g.node("Transpose", [x], perm=[1, 0, 2])  # [L, 1, d]
    packed = _linear(g, t, d, 3 * d)  # [L, 1, 3d]
    packed = g.node("Reshape", [packed, shape(tokens, 1, 3, d)])
    packed = g.node("Unsqueeze", [packed, shape(0)])
    packed = g.node("Transpose", [packed], perm=[3, 1, 2, 0, 4])  # [3, L, 1, 1, d]
    packed = g.node("Squeeze", [packed, shape(3)])  # [3, L, 1, d]
    split = []
    for index in range(3):
        part = g.node("Gather", [packed, g.constant(np.array(index, dtype=np.int64))], axis=0)
        part = g.node("Reshape", [part, shape(tokens, heads, head)])
        split.append(g.node("Transpose", [part], perm=[1, 0, 2]))  # [H, L, hd]
    q = g.node("Reshape", [split[0], shape(1, heads, tokens, head)])
    k = g.node("Transpose", [split[1]], perm=[0, 2, 1])  # [H, hd, L]
    k = g.node("Reshape", [k, shape(1, heads, head, tokens)])
    v = g.node("Reshape", [split[2], shape(1, heads, tokens, head)])
    scale = g.constant(np.array(head**-0.25, dtype=np.float32))
    scores = g.node("MatMul", [g.node("Mul", [q, scale]), g.node("Mul", [k, scale])])
    weights = g.node("Softmax", [scores], axis=-1)  # [1, H, L, L]
    mixed = g.node("MatMul", [weights, v])  # [1, H, L, hd]
    mixed = g.node("Transpose", [mixed], perm=[2, 0, 1, 3])  # [L, 1, H, hd]
    mixed = g.node("Reshape", [mixed, shape(tokens, d)])
    out = g.dense(mixed, d, d, scale=1 / np.sqrt(d))  # Gemm, transB
    out = g.node("Reshape", [out, shape(tokens, 1, d)])
    return g.node("Transpose", [out], perm=[1, 0, 2])  # [1, L, d]


def transformer_encoder(
    tokens: int = 6, d: int = 16, heads: int = 4, feedforward: int = 32, layers: int = 2,
    seed: int = 0, pool: bool | str = False, classes: int = 5,
) -> onnx.ModelProto:
    """``x`` [1, tokens, d] through ``layers`` post-norm encoder layers; ``pool``: the output is
    token 0 alone (True: ``y[:, 0]``, a class token's pooling), or ``"mean"``: the mean over
    the tokens (``h.mean(1)``, ReduceMean over axis 1) into a ``classes``-way Linear."""
    g = Graph("transformer_encoder", {"x": [1, tokens, d]}, seed=seed)
    x = "x"
    for _ in range(layers):
        x = _layer_norm(g, g.node("Add", [x, _attention(g, x, tokens, d, heads)]), d)
        hidden = g.node("Relu", [_linear(g, x, d, feedforward)])
        x = _layer_norm(g, g.node("Add", [x, _linear(g, hidden, feedforward, d)]), d)
    if pool == "mean":
        pooled = g.node("ReduceMean", [x], axes=[1], keepdims=0)
        x = g.node("Add", [g.node("MatMul", [pooled, g.constant(
            g.rng.normal(0, 1 / np.sqrt(d), (d, classes)))]), g.constant(
            g.rng.normal(0, 0.1, classes))])  # fmt: skip
    elif pool:
        x = g.node("Gather", [x, g.constant(np.array(0, dtype=np.int64))], axis=1)
    return g.model({"y": x})

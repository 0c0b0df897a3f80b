"""Graph networks built in code: message passing with run-time edge indices (as PyTorch exports
index_select / index_add / scatter_add), and the incidence-matrix form (HEP.TrkX style)."""

from __future__ import annotations

import numpy as np
import onnx

from tests.e2e.models import Graph

NODES, EDGES, FEATURES, HIDDEN = 6, 9, 3, 4


def _endpoints(g: Graph) -> tuple[str, str]:
    """``edge_index[0]`` and ``edge_index[1]`` as index vectors [E]."""
    source = g.node("Gather", ["edge_index", g.constant(np.array(0))], axis=0)
    target = g.node("Gather", ["edge_index", g.constant(np.array(1))], axis=0)
    return source, target


def message_passing(scatter: str = "nd") -> onnx.ModelProto:
    """Node encoder, edge block on (source, target) node features, messages summed onto their
    target nodes (ScatterND as ``index_add`` exports, or ScatterElements with an expanded index
    as ``scatter_add`` exports), node block; node outputs and a per-edge score."""
    g = Graph(f"message_passing_{scatter}", {"x": [NODES, FEATURES]}, seed=3,
              integer_inputs={"edge_index": [2, EDGES]})
    h = g.node("Relu", [g.dense("x", FEATURES, HIDDEN)])
    source, target = _endpoints(g)
    pair = g.node("Concat", [g.node("Gather", [h, source], axis=0),
                             g.node("Gather", [h, target], axis=0)], axis=1)
    message = g.node("Relu", [g.dense(pair, 2 * HIDDEN, HIDDEN)])
    zeros = g.constant(np.zeros((NODES, HIDDEN), np.float32))
    column = g.node("Unsqueeze", [target, g.constant(np.array([1]))])
    if scatter == "nd":
        total = g.node("ScatterND", [zeros, column, message], reduction="add")
    else:
        spread = g.node("Expand", [column, g.constant(np.array([EDGES, HIDDEN]))])
        total = g.node("ScatterElements", [zeros, spread, message], axis=0, reduction="add")
    nodes = g.dense(g.node("Concat", [h, total], axis=1), 2 * HIDDEN, 2)
    edge_score = g.node("Sigmoid", [g.dense(message, HIDDEN, 1)])
    return g.model({"nodes": nodes, "edge_score": edge_score})


def routing() -> onnx.ModelProto:
    """Gathers and scatters only (no arithmetic besides the scatter's sums): on integer-valued
    data the hardware result is exact, so it must equal onnxruntime exactly. Covers Gather,
    GatherElements, ScatterND with add and none, ScatterElements with add."""
    g = Graph("routing", {"x": [NODES, FEATURES]}, seed=5,
              integer_inputs={"edge_index": [2, EDGES], "picks": [NODES, FEATURES]})
    source, target = _endpoints(g)
    moved = g.node("Gather", ["x", source], axis=0)  # [E, F]
    column = g.node("Unsqueeze", [target, g.constant(np.array([1]))])
    added = g.node("ScatterND", ["x", column, moved], reduction="add")
    replaced = g.node("ScatterND", ["x", column, moved])
    spread = g.node("Expand", [column, g.constant(np.array([EDGES, FEATURES]))])
    zeros = g.constant(np.zeros((NODES, FEATURES), np.float32))
    elements = g.node("ScatterElements", [zeros, spread, moved], axis=0, reduction="add")
    picked = g.node("GatherElements", ["x", "picks"], axis=0)
    return g.model({"added": added, "replaced": replaced, "elements": elements, "picked": picked})


def incidence() -> onnx.ModelProto:
    """The incidence-matrix form: 0/1 matrices Ro, Ri [N, E] select each edge's endpoints
    (``Ro^T @ X``) and sum messages onto nodes (``Ri @ e``)."""
    g = Graph("incidence", {"x": [NODES, FEATURES], "Ro": [NODES, EDGES], "Ri": [NODES, EDGES]},
              seed=7)
    source = g.node("MatMul", [g.node("Transpose", ["Ro"], perm=[1, 0]), "x"])
    target = g.node("MatMul", [g.node("Transpose", ["Ri"], perm=[1, 0]), "x"])
    pair = g.node("Concat", [source, target], axis=1)
    message = g.node("Relu", [g.dense(pair, 2 * FEATURES, HIDDEN)])
    total = g.node("MatMul", ["Ri", message])  # [N, H]
    nodes = g.dense(g.node("Concat", ["x", total], axis=1), FEATURES + HIDDEN, 2)
    return g.model({"nodes": nodes})


def edge_indices(rng: np.random.Generator, count: int, low: int = 0, high: int = NODES) -> np.ndarray:
    """Random [count, 2, E] edge indices in [low, high); every sample repeats some targets."""
    indices = rng.integers(low, high, size=(count, 2, EDGES))
    indices[:, 1, : EDGES // 3] = indices[:, 1, :1]  # a third of the edges share one target
    return indices


def incidence_matrices(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ro, Ri [count, N, E] from edge indices (the last edge of each sample left unconnected)."""
    count = len(indices)
    ro = np.zeros((count, NODES, EDGES))
    ri = np.zeros((count, NODES, EDGES))
    samples, edges = np.meshgrid(np.arange(count), np.arange(EDGES - 1), indexing="ij")
    ro[samples, indices[:, 0, : EDGES - 1], edges] = 1
    ri[samples, indices[:, 1, : EDGES - 1], edges] = 1
    return ro, ri

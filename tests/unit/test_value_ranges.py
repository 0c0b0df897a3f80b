"""Value ranges: every element of every fixed-point tensor stays inside its range, on random
and extreme inputs run through the emulator's own op implementations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects import func

import rtlflow
from rtlflow.dialects import fxp
from rtlflow.sim.semantics import FxpFunctions
from rtlflow.value_ranges import value_ranges

MODELS = Path(__file__).resolve().parents[1] / "data" / "models"


@pytest.mark.parametrize(
    ("name", "precision"),
    [
        ("etx4velo_mlp", "fixed<8,3>"),
        ("jet_tagger_mlp", None),
        ("muon_cnn", None),
        ("muon_cnn_w4a4.qonnx", None),
        ("interaction_network", None),
        ("jet_transformer_hlf", None),
    ],
)
def test_every_value_inside_its_range(name, precision):
    compiled = rtlflow.compile(MODELS / f"{name}.onnx", precision=precision, stop_at="fxp")
    assert check_every_value(next(iter(compiled.levels["fxp"].ops))) > 0  # ReLUs: no sign


def check_every_value(function, samples: int = 600) -> int:
    """Run the function's ops (the emulator's own implementations) on random inputs and the
    inputs' format corners: every result inside its range, every range inside its format.
    Returns how many elements got a range narrower than their format."""
    ranges = value_ranges(function)
    rng = np.random.default_rng(0)
    values = {}
    for argument in function.body.block.args:
        fmt, shape = fxp.tensor_format(argument), fxp.tensor_shape(argument)
        values[argument] = rng.integers(fmt.min_raw, fmt.max_raw + 1, size=(samples, *shape))
        values[argument][0], values[argument][1] = fmt.min_raw, fmt.max_raw
        for row, value in enumerate((0, -1, 1), start=2):  # where slopes change
            values[argument][row] = min(max(value, fmt.min_raw), fmt.max_raw)
        ranges_low, ranges_high = ranges[argument]
        assert (ranges_low == fmt.min_raw).all() and (ranges_high == fmt.max_raw).all()
    implementations = FxpFunctions()
    narrower = 0
    for op in function.body.block.ops:
        if isinstance(op, func.ReturnOp):
            break
        run = getattr(implementations, "run_" + op.name.removeprefix("fxp."))
        result = np.asarray(run(None, op, [values[v] for v in op.operands]).values[0])
        values[op.results[0]] = result
        low, high = ranges[op.results[0]]
        assert low.shape == high.shape == tuple(fxp.tensor_shape(op.results[0]))
        raw = result.astype(object)
        assert (raw >= low).all() and (raw <= high).all(), op.name
        fmt = fxp.tensor_format(op.results[0])
        assert (low >= fmt.min_raw).all() and (high <= fmt.max_raw).all()
        narrower += int(((low > fmt.min_raw) | (high < fmt.max_raw)).sum())
    return narrower


def test_relu_after_dense_is_exact_and_unsigned():
    compiled = rtlflow.compile(MODELS / "etx4velo_mlp.onnx", precision="fixed<8,3>", stop_at="fxp")
    function = next(iter(compiled.levels["fxp"].ops))
    ranges = value_ranges(function)
    dense = next(op for op in function.body.block.ops if isinstance(op, fxp.DenseOp))
    relu = next(op for op in function.body.block.ops if isinstance(op, fxp.ReluOp))
    frac, weights, biases = dense.aligned()
    x = fxp.tensor_format(dense.input)
    # the first layer's sums by hand: each weight at the end of the input range it favours
    high = [sum(max(w * x.min_raw, w * x.max_raw) for w in row) + b for row, b in zip(weights, biases)]
    shift = frac - dense.output_format.frac_bits
    fits = all((h >> shift) <= dense.output_format.max_raw for h in high)
    low_relu, high_relu = ranges[relu.output]
    assert (low_relu >= 0).all()
    if fits:
        assert list(high_relu.reshape(-1)) == [max(h >> shift, 0) for h in high]


def lossy_model(alpha: float = 3.0, gamma: float = 30.0):
    """Ops whose default-precision results can lose data, each its own way: a leaky ReLU that
    grows (alpha 3), exp (its table clamped at the format's top), a layer norm with a large
    scale, a scatter that adds many updates onto one node; beside them ops that lose nothing
    (ELU, softplus, a gather, a negative-slope leaky ReLU)."""
    from tests.e2e.models import Graph

    nodes, edges, features = 4, 12, 3
    g = Graph("lossy", {"x": [nodes, features]}, seed=4, integer_inputs={"edge_index": [edges]})
    leaky = g.node("LeakyRelu", ["x"], alpha=alpha)
    bent = g.node("LeakyRelu", ["x"], alpha=-0.5)
    grown = g.node("Exp", [g.node("Mul", ["x", g.constant(np.float32(0.25))])])
    elu = g.node("Elu", ["x"], alpha=0.7)
    soft = g.node("Softplus", ["x"])
    normed = g.node("LayerNormalization", ["x", g.constant(np.full(features, gamma)),
                                           g.constant(np.zeros(features))], axis=-1)
    moved = g.node("Gather", ["x", "edge_index"], axis=0)  # [E, F]
    column = g.node("Unsqueeze", ["edge_index", g.constant(np.array([1]))])
    zeros = g.constant(np.zeros((nodes, features), np.float32))
    summed = g.node("ScatterND", [zeros, column, moved], reduction="add")
    weights = g.node("Softmax", ["x"], axis=-1)
    return g.model({"leaky": leaky, "bent": bent, "grown": grown, "elu": elu, "soft": soft,
                    "normed": normed, "summed": summed, "weights": weights})  # fmt: skip


def test_rules_of_tables_leaky_relu_routing_and_layer_norm_hold():
    """The ranges of leaky ReLU (both slopes), tables (exp, ELU's and softplus's curves), a
    gather and a scatter with run-time indices, and layer normalisation contain every value
    the emulator computes, at the default precision and with ``precision: auto``."""
    for precision in (None, "auto"):
        compiled = rtlflow.compile(lossy_model(), precision=precision, stop_at="fxp")
        assert check_every_value(next(iter(compiled.levels["fxp"].ops))) > 0


def test_default_precision_losses_are_warned_at_compile_time():
    """Without --inputs: the leaky ReLU that grows, the exp table clamped at 32, softplus's
    sum (x + log 2 past 32), the layer norm whose scale takes its rows of three past 32
    (sqrt 2 x 30) and the scatter that can add 12 updates onto one node are named, each with
    the range it reaches; ELU, the gather, the bent leaky ReLU and the softmax are not. With
    ``precision: auto`` nothing is; a softmax whose result format cannot hold 1 is."""
    warnings = rtlflow.compile(lossy_model(), stop_at="fxp").warnings
    named = {w.split("'")[1]: w for w in warnings if w.startswith("node ")}
    assert set(named) == {
        "n1_LeakyRelu", "n5_Exp", "n7_Softplus", "n10_LayerNormalization", "n15_ScatterND"
    }  # fmt: skip
    assert "reach [-96, 31.999]" in named["n1_LeakyRelu"]  # 3 x [-32, 0), [0, 32)
    assert "saturates its table" in named["n5_Exp"] and "can wrap" in named["n15_ScatterND"]
    assert "reach [-384, 383.988]" in named["n15_ScatterND"]  # 12 updates of [-32, 32)
    assert "fixed<18,8> would hold them" in named["n1_LeakyRelu"]
    warnings = rtlflow.compile(lossy_model(), precision="auto", stop_at="fxp").warnings
    assert not [w for w in warnings if "can wrap" in w or "saturates" in w], warnings  # nor advice
    # a softmax whose result rounds to 1 in a format that cannot hold it ([-1, 1)) is named
    narrow = {"layers": {"n16_Softmax": {"result": "fixed<8,1,RND>"}}}  # 0.99999 rounds to 1
    warnings = rtlflow.compile(lossy_model(), config=narrow, stop_at="fxp").warnings
    assert any(w.startswith("node 'n16_Softmax'") and "can wrap" in w for w in warnings), warnings

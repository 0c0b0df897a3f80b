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
    function = next(iter(compiled.levels["fxp"].ops))
    ranges = value_ranges(function)
    rng = np.random.default_rng(0)
    values = {}
    for argument in function.body.block.args:
        fmt, shape = fxp.tensor_format(argument), fxp.tensor_shape(argument)
        values[argument] = rng.integers(fmt.min_raw, fmt.max_raw + 1, size=(600, *shape))
        values[argument][0], values[argument][1] = fmt.min_raw, fmt.max_raw
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
    assert narrower > 0  # ReLUs at least: no sign


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

"""The emulator against exact integer arithmetic written from the fxp op definitions."""

from __future__ import annotations

import numpy as np
import pytest

from rtlflow.config import config_from_dict
from rtlflow.dialects import fxp
from rtlflow.frontend import import_onnx
from rtlflow.pipeline import Options, lower
from rtlflow.sim.emulator import Emulator
from tests.e2e.models import Graph
from tests.rtl.harness import cast


def fixed_point(model, settings: dict):
    config = config_from_dict(settings, "test")
    return lower(import_onnx(model), Options(config=config), stop_at="fxp")["fxp"]


def the(module, kind):
    return next(op for op in module.walk() if isinstance(op, kind))


def into(fmt, value: int, frac: int) -> int:
    return cast(value, frac - fmt.frac_bits, fmt.rounding, fmt.overflow, fmt.width, fmt.signed)


def random_raw(fmt, count: int, shape, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(fmt.min_raw, fmt.max_raw, size=(count, *shape), endpoint=True)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"precision": "fixed<10,4,RND,SAT>"},
        {"precision": "fixed<12,5>", "layers": {"n3_Gemm": {"accumulator": "fixed<14,6,RND,SAT>",
                                                           "bias": "fixed<8,1>"}}},
        {"precision": "fixed<40,20>"},  # sums beyond 64 bits: Python integers
    ],
    ids=["default", "rnd-sat", "accumulator", "wide"],
)
def test_dense(settings):
    g = Graph("dense", {"x": [1, 7]}, seed=1)
    module = fixed_point(g.model({"y": g.dense("x", 7, 5, scale=2.0)}), settings)
    op = the(module, fxp.DenseOp)
    fx, fw, fb = op.input_format, op.weight_type.format, op.bias_type.format
    acc, out = op.accumulator.format, op.output_format
    frac = max(fx.frac_bits + fw.frac_bits, fb.frac_bits)
    weights, biases = op.weights.tolist(), op.biases.tolist()
    x = random_raw(fx, 200, (1, 7), seed=2)
    expected = []
    for sample in x.reshape(200, 7).tolist():
        row = []
        for w_row, b in zip(weights, biases, strict=True):
            total = sum(int(v) * int(w) for v, w in zip(sample, w_row, strict=True))
            total = (total << (frac - fx.frac_bits - fw.frac_bits)) + (int(b) << (frac - fb.frac_bits))
            row.append(into(out, into(acc, total, frac), acc.frac_bits))
        expected.append(row)
    (result,) = Emulator(module).run_raw([x])
    assert result.reshape(200, 5).tolist() == expected


def test_elementwise_ops():
    g = Graph("elementwise", {"x": [1, 6]}, seed=3)
    h = g.node("LeakyRelu", ["x"], alpha=0.2)
    h = g.node("Clip", [h, g.constant(-0.75), g.constant(3.0)])
    h = g.node("Add", [g.node("Mul", [h, g.constant(g.rng.normal(0, 2, (1, 6)))]), g.constant([0.5] * 6)])
    module = fixed_point(g.model({"y": h}), {"precision": "fixed<12,4,RND,SAT>"})
    leaky, clip = the(module, fxp.LeakyReluOp), the(module, fxp.ClipOp)
    affines = [op for op in module.walk() if isinstance(op, fxp.ScaleShiftOp)]  # Mul, then Add
    x = random_raw(leaky.input_format, 300, (1, 6), seed=4)
    fa = leaky.alpha_type.format.frac_bits
    f = leaky.input_format.frac_bits

    def scale_shift(op, v, i):
        scale = np.asarray(op.scale.get_values()).reshape(-1).tolist()
        offset = np.asarray(op.offset.get_values()).reshape(-1).tolist()
        scale, offset = scale[i % len(scale)], offset[i % len(offset)]
        fs, fo = op.scale_type.format.frac_bits, op.offset_type.format.frac_bits
        frac = max(f + fs, fo)
        return into(op.output_format, (v * scale << (frac - f - fs)) + (offset << (frac - fo)), frac)

    expected = []
    for sample in x.reshape(300, 6).tolist():
        row = []
        for i, v in enumerate(sample):
            v = into(leaky.output_format, v << fa if v >= 0 else v * leaky.alpha.value.data, f + fa)
            v = into(clip.output_format, min(max(v, clip.low.value.data), clip.high.value.data), f)
            for op in affines:
                v = scale_shift(op, v, i)
            row.append(v)
        expected.append(row)
    (result,) = Emulator(module).run_raw([x])
    assert result.reshape(300, 6).tolist() == expected


def test_softmax_follows_its_tables():
    g = Graph("softmax", {"x": [2, 5]})
    module = fixed_point(g.model({"y": g.node("Softmax", ["x"], axis=-1)}), {})
    op = the(module, fxp.SoftmaxOp)
    exp_table, inv_table = op.exp_table, op.inv_table
    exp_entries, inv_entries = exp_table.entries().tolist(), inv_table.entries().tolist()
    x = random_raw(op.input_format, 100, (2, 5), seed=5) // 64  # spread over the exp table's range

    def index(value, table):
        shifted = (value - table.start_raw) >> table.shift
        return min(max(shifted, 0), table.size - 1)

    expected = []
    for sample in x.tolist():
        rows = []
        for row in sample:
            e = [exp_entries[index(max(row) - v, exp_table)] for v in row]
            r = inv_entries[index(sum(e), inv_table)]
            rows.append([into(op.output_format, v * r, exp_table.output.frac_bits + inv_table.output.frac_bits) for v in e])
        expected.append(rows)
    (result,) = Emulator(module).run_raw([x])
    assert result.tolist() == expected
    # and it is a softmax: close to the float one
    real = x * op.input_format.lsb
    reference = np.exp(real - real.max(-1, keepdims=True))
    reference /= reference.sum(-1, keepdims=True)
    assert np.abs(result * op.output_format.lsb - reference).max() < 0.01


def test_overflowing_results_are_counted_per_layer():
    g = Graph("overflow", {"x": [1, 4]}, seed=6)
    module = fixed_point(g.model({"y": g.dense("x", 4, 3, scale=3.0)}), {"layers": {"n3_Gemm": {"result": "fixed<6,2>"}}})
    op = the(module, fxp.DenseOp)
    x = random_raw(op.input_format, 100, (1, 4), seed=7) // 16
    emulator = Emulator(module)
    emulator.run_raw([x])
    real = x.reshape(100, 4) * op.input_format.lsb
    weights = op.weights * op.weight_type.format.lsb
    sums = real @ weights.T + op.biases * op.bias_type.format.lsb
    out = op.output_format
    outside = ((sums < out.min_value) | (sums >= out.max_value + out.lsb)).any(axis=1).sum()
    assert outside > 0
    assert emulator.overflows["n3_Gemm"] == outside

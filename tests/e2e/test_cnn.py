"""Convolutional networks end to end: ONNX → Verilog → Verilator, bit-exact with the emulator;
the emulator close to onnxruntime; the float nn level equal to onnxruntime.

Each model is built in code (tests/e2e/cnn_models.py) and kept to a few hundred outputs. Expected
values come from onnxruntime (float) and from hand-derived shapes, never from the compiler.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

import rtlflow
from rtlflow.sim.nn_interpreter import run_nn
from rtlflow.sim.runner import run_testbench
from tests.e2e import cnn_models, models
# Emulator vs float: the bound of test_end_to_end (64 LSBs of fixed<16,6> plus 1 % of the value)
# also covers an average over n taps, which divides by a rounded 1/n constant.
from tests.e2e.test_end_to_end import ABSOLUTE, RELATIVE, model_inputs

#: The float nn level (after BatchNormalization folding, transpose cancelling, pad folding) is the
#: same network in float64: it matches onnxruntime's float32 up to float32 rounding.
FLOAT_TOLERANCE = 1e-5
SAMPLES = 100


def nn_ops(compiled) -> Counter:
    """The ops of the nn-level function, constants and the return left out."""
    function = next(iter(compiled.levels["nn"].ops))
    return Counter(
        op.name for op in function.body.block.ops if op.name not in ("nn.constant", "func.return")
    )


def check_float_nn(compiled, model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> None:
    """The optimised nn level, interpreted in float, equals onnxruntime."""
    arrays = [inputs[name] for name in compiled.input_names]
    outputs = run_nn(compiled.levels["nn"], arrays)
    expected = models.onnxruntime_outputs(model, inputs)
    assert len(outputs) == len(expected)
    for ours, ref in zip(outputs, expected, strict=True):
        np.testing.assert_allclose(ours, ref.reshape(ours.shape), rtol=0, atol=FLOAT_TOLERANCE)


def check_cnn(model: onnx.ModelProto, directory: Path, **options):
    """Compile; simulate with random idle cycles (bit-exact, measured latency and interval equal
    to the report); emulator close to onnxruntime. Returns the compiled model and the report."""
    compiled = rtlflow.compile(model, part="xcvu13p", **options)
    inputs = model_inputs(model, SAMPLES)
    report = compiled.write(directory, inputs=inputs)
    result = run_testbench(directory, gaps=0.25)
    assert result.samples == SAMPLES
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"]
    assert result.latency_cycles == [report["latency_cycles"]]
    assert result.initiation_interval == report["initiation_interval"]
    emulated = compiled.predict(inputs)
    emulated = emulated if isinstance(emulated, list) else [emulated]
    expected = models.onnxruntime_outputs(model, inputs)
    assert len(emulated) == len(expected)
    for ours, ref in zip(emulated, expected, strict=True):
        ref = ref.reshape(ours.shape)
        error = np.abs(ours - ref)
        bound = ABSOLUTE + RELATIVE * np.abs(ref)
        assert np.all(error <= bound), f"worst error {error.max():.4g} (bound {bound.min():.4g}+)"
    check_float_nn(compiled, model, inputs)
    return compiled, report


def output_shapes(report: dict) -> dict[str, list[int]]:
    return {o["name"]: o["shape"] for o in report["outputs"]}


def layer_ops(report: dict) -> Counter:
    return Counter(layer["op"] for layer in report["layers"])


# ---- 1. Conv1D ---------------------------------------------------------------------------------


def test_conv1d_stride_pads_dilation(tmp_path):
    model = cnn_models.conv1d_strided_dilated()
    _, report = check_cnn(model, tmp_path)
    # first conv: floor((12 + 2 + 1 - 2 * (3 - 1) - 1) / 2) + 1 = 6; second (k 2): 6 - 1 = 5
    assert output_shapes(report) == {"y": [1, 4, 5]}
    assert layer_ops(report)["conv"] == 2
    assert report["initiation_interval"] == 1


# ---- 2. depthwise / depth multiplier -----------------------------------------------------------


def test_depthwise_same_upper_and_depth_multiplier(tmp_path):
    """Depthwise 3x3 (group 3, SAME_UPPER, stride 2, bias) then a depth multiplier 2x2
    (group 3, 6 channels, no bias)."""
    model = cnn_models.depthwise("SAME_UPPER", stride=2)
    _, report = check_cnn(model, tmp_path)
    # SAME_UPPER stride 2: ceil(6 / 2) = 3; then k 2 with pads (1, 0) on the rows and (0, 1) on
    # the columns: 3 + 1 - 2 + 1 = 3
    assert output_shapes(report) == {"y": [1, 6, 3, 3]}
    assert layer_ops(report)["conv"] == 2


@pytest.mark.parametrize(
    ("name", "reuse", "positions"),
    [("depthwise", 2, (9, 9)), ("conv1d_strided_dilated", 16, (6, 5))],
)
def test_parallel_conv_folds_its_positions_onto_one_positions_graph(
    name, reuse, positions, tmp_path
):
    """A parallel convolution with R > 1: ceil(positions / R) output positions per phase, each
    through one position's adder graph (the window's taps of every channel, padding taps fed
    0), an instance of one row module per conv; II = the phases (R = 2 over 9 positions: 5,
    then 4 and a padded one; R = 16 over 6 and 5 positions: one a phase, II 6). Bit-exact
    with the reported latency and II under random idle cycles; no DSP slice."""
    _, report = check_cnn(getattr(cnn_models, name)(), tmp_path, reuse_factor=reuse)
    convs = [layer for layer in report["layers"] if layer["op"] == "conv"]
    assert len(convs) == 2
    assert math.prod(report["outputs"][0]["shape"][2:]) == positions[-1]
    per_phase = [-(-p // reuse) for p in positions]
    phases = [-(-p // n) for p, n in zip(positions, per_phase, strict=True)]
    assert [layer["ii"] for layer in convs] == phases
    assert all(layer["reuse_factor"] == reuse and layer["resources"]["dsp"] == 0 for layer in convs)
    assert report["initiation_interval"] == max(phases)
    rtl = tmp_path / "rtl"
    row_modules = sorted(p.stem for p in rtl.glob("conv_*_row_*.v"))
    assert len(row_modules) == 2
    text = "".join(p.read_text() for p in rtl.glob("conv_*.v") if "_row_" not in p.stem)
    assert sorted(text.count(f"  {row} row") for row in row_modules) == sorted(per_phase)


@pytest.mark.parametrize(("auto_pad", "stride"), [("SAME_LOWER", 2), ("SAME_UPPER", 1),
                                                  ("SAME_LOWER", 1), ("VALID", 1)])
def test_depthwise_auto_pad_variants_match_onnxruntime(auto_pad, stride):
    """The other auto_pad modes, checked without Verilator: float nn level and emulator."""
    model = cnn_models.depthwise(auto_pad, stride)
    compiled = rtlflow.compile(model)
    inputs = model_inputs(model, 40, seed=3)
    check_float_nn(compiled, model, inputs)
    (expected,) = models.onnxruntime_outputs(model, inputs)
    emulated = compiled.predict(inputs)
    assert emulated.shape == expected.shape
    assert np.all(np.abs(emulated - expected) <= ABSOLUTE + RELATIVE * np.abs(expected))


@pytest.mark.slow
def test_depthwise_same_lower_stride_1(tmp_path):
    check_cnn(cnn_models.depthwise("SAME_LOWER", stride=1), tmp_path)


# ---- 3. average pooling ------------------------------------------------------------------------


def test_average_pools_padding_counted_or_not_and_ceil_mode(tmp_path):
    model = cnn_models.average_pools()
    _, report = check_cnn(model, tmp_path)
    # k 3 s 2 pads 1 on 5: floor((5 + 2 - 3) / 2) + 1 = 3; k 2 s 2 ceil: ceil(3 / 2) + 1 = 3;
    # k 3 s 2 pads (1, 0) ceil: ceil((5 + 1 - 3) / 2) + 1 = 3 (on both axes)
    assert output_shapes(report) == {
        "excluded": [1, 2, 3, 3], "included": [1, 2, 3, 3], "ceil": [1, 2, 3, 3],
        "ceil_padded": [1, 2, 3, 3], "ceil_included": [1, 2, 3, 3],
    }
    assert layer_ops(report)["pool"] == 5


def test_average_pool_divisors_by_hand():
    """A constant input of ones averages to 1 where padding is not counted, and to
    (inside taps) / (counted taps) where it is — derived by hand from the windows. Tolerance: a
    sum of n ones times 1/n rounded, then truncated to 2^-10, stays within 16 LSBs of the value."""
    model = cnn_models.average_pools()
    compiled = rtlflow.compile(model)
    ones = {"x": np.ones((1, 1, 2, 5, 5))}
    results = dict(zip(compiled.output_names, compiled.predict(ones), strict=True))
    for name in ("excluded", "ceil", "ceil_padded"):
        np.testing.assert_allclose(results[name][0], 1.0, atol=2**-6)
    # included (k 3, s 2, pads 1 on 5): windows per axis cover 2, 3, 2 inside pixels of 3
    per_axis = np.array([2, 3, 2]) / 3
    expected = np.broadcast_to(np.outer(per_axis, per_axis), (2, 3, 3))
    np.testing.assert_allclose(results["included"][0, 0], expected, atol=2**-6)
    # ceil_included (k 3, s 2, pads (1, 0), ceil): windows [-1, 1], [1, 3], [3, 5): 2/3, 3/3 and
    # the last one reads pixels 3, 4 and nothing beyond the input, which ONNX does not count: 2/2
    per_axis = np.array([2 / 3, 1, 1])
    expected = np.broadcast_to(np.outer(per_axis, per_axis), (2, 3, 3))
    np.testing.assert_allclose(results["ceil_included"][0, 0], expected, atol=2**-6)


# ---- 4. residual block -------------------------------------------------------------------------


def test_residual_block(tmp_path):
    model = cnn_models.residual_block()
    compiled, report = check_cnn(model, tmp_path)
    assert output_shapes(report) == {"y": [1, 4]}
    ops = layer_ops(report)
    assert ops["conv"] == 2 and ops["add"] == 1 and ops["pool"] == 1 and ops["dense"] == 1
    assert nn_ops(compiled)["nn.add"] == 1


@pytest.mark.parametrize("tile_pairs", [1, 8000])  # tiles of one position, of 2 x 2
def test_residual_block_solved_in_tiles_and_blocks(tmp_path, monkeypatch, tile_pairs):
    """Layers too large to solve at once: the convolutions solved tile by tile of positions,
    the dense layer's inputs in blocks, all still bit-exact under Verilator."""
    from rtlflow import cmvm
    from rtlflow.passes import circuit_build_adder_graphs as build

    monkeypatch.setattr(cmvm, "MAX_PAIRS", 50)
    monkeypatch.setattr(build, "TILE_PAIRS", tile_pairs)
    grouped = []
    solve_grouped = cmvm.solve_grouped
    monkeypatch.setattr(cmvm, "solve_grouped",
                        lambda *a, **k: grouped.append(len(a[3])) or solve_grouped(*a, **k))
    check_cnn(cnn_models.residual_block(), tmp_path)
    # both convolutions, 3 x 4 positions each
    assert grouped == ([12, 12] if tile_pairs == 1 else [4, 4])


# ---- 5. BatchNormalization ---------------------------------------------------------------------


def test_batchnorm_after_conv_folds(tmp_path):
    model = cnn_models.conv_bn_relu()
    compiled = rtlflow.compile(model)
    assert "scale_shift" not in compiled.ir("nn")
    assert nn_ops(compiled) == Counter({"nn.conv": 1, "nn.relu": 1})
    inputs = model_inputs(model, 50, seed=7)
    (outputs,) = run_nn(compiled.levels["nn"], [inputs["x"]])
    (expected,) = models.onnxruntime_outputs(model, inputs)
    np.testing.assert_allclose(outputs, expected.reshape(outputs.shape), rtol=0, atol=1e-5)
    _, report = check_cnn(model, tmp_path)
    assert "scale_shift" not in layer_ops(report)
    assert output_shapes(report) == {"y": [1, 3, 2, 2]}


def test_batchnorm_before_padded_conv_stays_scale_shift(tmp_path):
    model = cnn_models.bn_before_padded_conv()
    compiled = rtlflow.compile(model)
    ops = nn_ops(compiled)
    assert ops["nn.scale_shift"] == 1 and ops["nn.conv"] == 1
    inputs = model_inputs(model, 50, seed=8)
    (outputs,) = run_nn(compiled.levels["nn"], [inputs["x"]])
    (expected,) = models.onnxruntime_outputs(model, inputs)
    np.testing.assert_allclose(outputs, expected.reshape(outputs.shape), rtol=0, atol=1e-5)
    _, report = check_cnn(model, tmp_path)
    assert layer_ops(report)["scale_shift"] == 1


# ---- 6. Keras-style NHWC -----------------------------------------------------------------------


def test_keras_nhwc_transposes_cost_nothing(tmp_path):
    model = cnn_models.keras_nhwc()
    assert sum(n.op_type == "Transpose" for n in model.graph.node) == 4
    compiled, report = check_cnn(model, tmp_path)
    assert nn_ops(compiled)["nn.transpose"] <= 1
    transposes = [layer for layer in report["layers"] if layer["op"] == "transpose"]
    input_transpose = model.graph.node[0]
    assert input_transpose.op_type == "Transpose" and list(input_transpose.input) == ["x"]
    assert {layer["name"] for layer in transposes} <= {input_transpose.name}
    for layer in transposes:  # wiring only
        assert layer["resources"]["lut"] == 0 and layer["resources"]["ff"] == 0
    assert layer_ops(report)["conv"] == 2
    assert output_shapes(report) == {"y": [1, 3]}


# ---- 7. max pooling, global pools, reductions, concat, pad -------------------------------------


def test_concat_branches_maxpool_global_pools_reductions(tmp_path):
    model = cnn_models.branches_and_pools()
    compiled, report = check_cnn(model, tmp_path)
    assert output_shapes(report) == {
        "pooled": [1, 4, 2, 2], "global_max": [1, 4], "mean": [1, 4], "peak": [1, 4, 1, 1],
    }
    assert nn_ops(compiled)["nn.pad"] == 0  # the Pad became the conv's padding
    assert nn_ops(compiled)["nn.concat"] == 1


def test_maxpool_padding_is_not_zero():
    """A MaxPool window reaching into the padding of an all-negative input takes the largest
    input value, not 0 (ONNX pads max pooling with -inf)."""
    model = cnn_models.branches_and_pools()
    compiled = rtlflow.compile(model)
    inputs = model_inputs(model, 30, seed=9)
    check_float_nn(compiled, model, inputs)
    pooled = dict(zip(compiled.output_names, compiled.predict(inputs), strict=True))["pooled"]
    (reference_pooled, *_) = models.onnxruntime_outputs(model, inputs)
    assert np.any(reference_pooled[..., 0, 0] < 0)  # some corner windows are all negative
    np.testing.assert_allclose(pooled, reference_pooled.reshape(pooled.shape),
                               atol=ABSOLUTE + RELATIVE * np.abs(reference_pooled).max())


def test_pad_folds_into_conv_with_its_own_pads():
    """Checked without Verilator (the Verilator run of a folded Pad is in the branches test)."""
    model = cnn_models.pad_then_conv()
    compiled = rtlflow.compile(model)
    assert nn_ops(compiled) == Counter({"nn.conv": 1, "nn.relu": 1})
    inputs = model_inputs(model, 40, seed=10)
    check_float_nn(compiled, model, inputs)
    (expected,) = models.onnxruntime_outputs(model, inputs)
    # rows: 4 + 2 + 1 (Pad) + 0 + 0 (conv) - 3 + 1 = 5; columns: 4 + 0 + 1 (Pad) + 1 + 1 (conv)
    # - 3 + 1 = 5
    assert expected.shape == (40, 1, 3, 5, 5)
    emulated = compiled.predict(inputs)
    assert emulated.shape == expected.shape
    assert np.all(np.abs(emulated - expected) <= ABSOLUTE + RELATIVE * np.abs(expected))


def test_ceil_mode_drops_a_window_starting_in_end_padding():
    """Checked without Verilator: shapes as onnxruntime computes them (2 x 2, not the 3 x 3 that
    onnx's shape inference declares), values from the float nn level and the emulator."""
    model = cnn_models.ceil_window_in_end_padding()
    compiled = rtlflow.compile(model)
    inputs = model_inputs(model, 30, seed=11)
    check_float_nn(compiled, model, inputs)
    expected = models.onnxruntime_outputs(model, inputs)
    assert [r.shape for r in expected] == [(30, 1, 1, 2, 2)] * 2
    for ours, ref in zip(compiled.predict(inputs), expected, strict=True):
        assert ours.shape == ref.shape
        assert np.all(np.abs(ours - ref) <= ABSOLUTE + RELATIVE * np.abs(ref))

"""Sliding-window geometry (rtlflow.numerics.windows) against onnxruntime and hand-worked examples, and
the importer's errors for convolutional operators it cannot build."""

from __future__ import annotations

import itertools
import math

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from rtlflow.errors import RtlflowError
from rtlflow.frontend import import_onnx
from rtlflow.sim.nn_interpreter import run_nn
from rtlflow.numerics.windows import (
    BEYOND,
    INSIDE,
    PADDING,
    Window,
    auto_pads,
    output_size,
    padded_grid,
)


def run_onnxruntime(nodes, inputs: dict[str, np.ndarray], constants=None, opset: int = 17):
    """Run a one-output graph in onnxruntime; the output's shape is left to onnxruntime."""
    values = [helper.make_tensor_value_info(n, TensorProto.FLOAT, a.shape)
              for n, a in inputs.items()]
    weights = [numpy_helper.from_array(np.asarray(a, np.float32), n)
               for n, a in (constants or {}).items()]
    graph = helper.make_graph(
        nodes, "g", values, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # onnx's shape inference disagrees in ceil mode: no warnings
    session = onnxruntime.InferenceSession(model.SerializeToString(), options)
    return session.run(None, {n: a.astype(np.float32) for n, a in inputs.items()})[0]


# ---- output_size --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "begin", "end", "dilation", "ceil", "expected"),
    [
        # floor((L + pb + pe - d (k - 1) - 1) / s) + 1, worked by hand
        (5, 3, 1, 0, 0, 1, False, 3),
        (5, 3, 1, 1, 1, 1, False, 5),
        (12, 3, 2, 2, 1, 2, False, 6),  # (12 + 3 - 5) / 2 = 5 → 6
        (6, 3, 2, 1, 1, 1, False, 3),  # (6 + 2 - 3) / 2 = 2.5 → 2 → 3
        (6, 3, 2, 1, 1, 1, True, 4),  # ceil(2.5) = 3 → 4; the last window starts at 5 < 7
        (5, 2, 2, 0, 0, 1, False, 2),
        (5, 2, 2, 0, 0, 1, True, 3),  # ceil(1.5) + 1; last start 4 < 5
        (4, 2, 2, 0, 1, 1, True, 2),  # ceil(1.5) + 1 = 3, but the 3rd window would start at 4,
        #                               inside the end padding only: dropped
        (7, 4, 1, 0, 0, 2, False, 1),  # span 7
        (1, 1, 1, 0, 0, 1, False, 1),
    ],
)
def test_output_size_by_hand(size, kernel, stride, begin, end, dilation, ceil, expected):
    assert output_size(size, kernel, stride, begin, end, dilation, ceil) == expected


def _pool_length(op, size, kernel, stride, begin, end, dilation, ceil):
    attributes = {"kernel_shape": [kernel], "strides": [stride], "pads": [begin, end]}
    inputs = {"x": np.zeros((1, 1, size), np.float32)}
    constants = None
    names = ["x"]
    if op == "Conv":
        attributes["dilations"] = [dilation]
        constants = {"w": np.ones((1, 1, kernel))}
        names.append("w")
    else:
        attributes["ceil_mode"] = int(ceil)
        if dilation != 1:
            attributes["dilations"] = [dilation]
    node = helper.make_node(op, names, ["y"], **attributes)
    return run_onnxruntime([node], inputs, constants).shape[-1]


def _cases():
    for op, size, kernel, stride, begin, end, dilation in itertools.product(
        ("MaxPool", "AveragePool", "Conv"), (4, 5), (2, 3), (2, 3), (0, 1, 2), (0, 1, 2), (1, 2),
    ):
        if (op == "AveragePool" and dilation != 1) or begin >= kernel or end >= kernel:
            continue  # AveragePool has no dilations before opset 19; pads smaller than kernels
        if size + begin + end < dilation * (kernel - 1) + 1:
            continue
        for ceil in (False, True) if op != "Conv" else (False,):
            yield op, size, kernel, stride, begin, end, dilation, ceil


def test_output_size_matches_onnxruntime():
    """Every combination of a small grid: output length as onnxruntime computes it."""
    differences = []
    count = dropped = 0
    for case in _cases():
        op, size, kernel, stride, begin, end, dilation, ceil = case
        expected = _pool_length(*case)
        if output_size(*case[1:]) != expected:
            differences.append((case, output_size(*case[1:]), expected))
        steps = (size + begin + end - dilation * (kernel - 1) - 1) / stride
        dropped += ceil and math.ceil(steps) + 1 != expected  # a window starting in end padding
        count += 1
    assert count > 300 and dropped > 0
    assert differences == []


# ---- auto_pads ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "kernel", "strides", "dilations", "upper", "lower"),
    [
        # out = ceil(L / s); total = max(0, (out - 1) s + d (k - 1) + 1 - L); UPPER puts the odd
        # one at the end, LOWER at the begin; pads are all begins, then all ends
        ([6], [3], [2], [1], [0, 1], [1, 0]),  # out 3, total 4 + 3 - 6 = 1
        ([5], [3], [1], [1], [1, 1], [1, 1]),  # total 2
        ([5], [2], [1], [1], [0, 1], [1, 0]),  # total 1
        ([7], [4], [1], [2], [3, 3], [3, 3]),  # span 7, total 6
        ([6], [1], [2], [1], [0, 0], [0, 0]),  # total max(0, 4 + 1 - 6) = 0
        ([6, 5], [3, 2], [2, 1], [1, 1], [0, 0, 1, 1], [1, 1, 0, 0]),
        ([4, 8], [3, 3], [1, 3], [1, 1], [1, 0, 1, 1], [1, 1, 1, 0]),  # (3 - 1) 3 + 3 - 8 = 1
    ],
)
def test_auto_pads_by_hand(sizes, kernel, strides, dilations, upper, lower):
    assert auto_pads("SAME_UPPER", sizes, kernel, strides, dilations) == upper
    assert auto_pads("SAME_LOWER", sizes, kernel, strides, dilations) == lower


@pytest.mark.parametrize("mode", ["SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation"),
    [(6, 3, 2, 1), (5, 2, 1, 1), (7, 3, 2, 1), (6, 4, 3, 1), (5, 4, 1, 1), (8, 5, 3, 1)],
)
def test_auto_pads_match_onnxruntime(mode, size, kernel, stride, dilation):
    """A Conv with auto_pad computes the same as one with our explicit pads (onnxruntime; it has
    no dilated SAME convolutions, those are covered by hand above)."""
    rng = np.random.default_rng(size * 100 + kernel * 10 + stride)
    x = rng.normal(size=(1, 1, size))
    weight = rng.normal(size=(1, 1, kernel))
    common = {"kernel_shape": [kernel], "strides": [stride], "dilations": [dilation]}
    automatic = run_onnxruntime(
        [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad=mode, **common)],
        {"x": x}, {"w": weight},
    )
    pads = auto_pads(mode, [size], [kernel], [stride], [dilation])
    explicit = run_onnxruntime(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=pads, **common)], {"x": x}, {"w": weight}
    )
    assert automatic.shape[-1] == -(-size // stride)
    np.testing.assert_allclose(explicit, automatic, rtol=0, atol=1e-6)


# ---- Window: taps, counts, gather ---------------------------------------------------------------


def test_window_1d_by_hand():
    """Input of 3, kernel 2, stride 2, pads (1, 1): floor((3 + 2 - 2) / 2) + 1 = 2 windows,
    reading positions (-1, 0) and (1, 2)."""
    window = Window.create((3,), (2,), (2,), (1, 1))
    assert window.output_shape == (2,)
    index, kind = window.taps()
    np.testing.assert_array_equal(index, [[-1, 0], [1, 2]])
    np.testing.assert_array_equal(kind, [[PADDING, INSIDE], [INSIDE, INSIDE]])
    np.testing.assert_array_equal(window.counts(include_padding=True), [2, 2])
    np.testing.assert_array_equal(window.counts(include_padding=False), [1, 2])
    x = np.array([[5.0, 6.0, 7.0]])  # one sample
    np.testing.assert_array_equal(window.gather(x, -1.0), [[[-1.0, 5.0], [6.0, 7.0]]])


def test_window_2d_by_hand():
    """Input 2 x 3, kernel 2 x 2, strides (1, 2), one column of padding at each side: 1 x 2
    windows. Window (0, 0) covers rows 0-1 and columns -1..0; window (0, 1) rows 0-1, columns
    1..2. Flat input index = 3 * row + column; taps in C order (0,0), (0,1), (1,0), (1,1)."""
    window = Window.create((2, 3), (2, 2), (1, 2), (0, 1, 0, 1))
    assert window.output_shape == (1, 2)
    assert window.positions == 2 and window.taps_per_window == 4 and window.padded
    index, kind = window.taps()
    np.testing.assert_array_equal(index, [[-1, 0, -1, 3], [1, 2, 4, 5]])
    np.testing.assert_array_equal(
        kind, [[PADDING, INSIDE, PADDING, INSIDE], [INSIDE, INSIDE, INSIDE, INSIDE]]
    )
    np.testing.assert_array_equal(window.counts(True), [4, 4])
    np.testing.assert_array_equal(window.counts(False), [2, 4])
    x = (np.arange(6.0) + 10).reshape(1, 2, 3)  # [[10, 11, 12], [13, 14, 15]]
    np.testing.assert_array_equal(
        window.gather(x, 0.0), [[[0.0, 10.0, 0.0, 13.0], [11.0, 12.0, 14.0, 15.0]]]
    )


def test_window_dilation_by_hand():
    """Input 5, kernel 2, dilation 3, stride 1, no pads: windows (0, 3) and (1, 4)."""
    window = Window.create((5,), (2,), None, None, (3,))
    assert window.output_shape == (2,)
    index, kind = window.taps()
    np.testing.assert_array_equal(index, [[0, 3], [1, 4]])
    assert np.all(kind == INSIDE) and not window.padded


def test_window_ceil_mode_beyond_the_input_by_hand():
    """Input 5, kernel 3, stride 2, pads (1, 0), ceil mode: ceil((5 + 1 - 3) / 2) + 1 = 3 windows
    at -1..1, 1..3 and 3..5; position 5 is past the input and its (empty) end padding: BEYOND."""
    window = Window.create((5,), (3,), (2,), (1, 0), None, ceil_mode=True)
    assert window.output_shape == (3,)
    index, kind = window.taps()
    np.testing.assert_array_equal(index, [[-1, 0, 1], [1, 2, 3], [3, 4, -1]])
    np.testing.assert_array_equal(
        kind, [[PADDING, INSIDE, INSIDE], [INSIDE, INSIDE, INSIDE], [INSIDE, INSIDE, BEYOND]]
    )
    # padding counts only when asked; beyond never counts
    np.testing.assert_array_equal(window.counts(True), [3, 3, 2])
    np.testing.assert_array_equal(window.counts(False), [2, 3, 2])
    x = np.arange(1.0, 6.0)[np.newaxis]  # [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(
        window.gather(x, -9.0), [[[-9.0, 1.0, 2.0], [2.0, 3.0, 4.0], [4.0, 5.0, -9.0]]]
    )


@pytest.mark.parametrize("include", [0, 1])
def test_window_average_matches_onnxruntime(include):
    """gather + counts reproduce onnxruntime's AveragePool in ceil mode with asymmetric pads."""
    rng = np.random.default_rng(include)
    x = rng.normal(size=(1, 2, 5, 6))
    node = helper.make_node(
        "AveragePool", ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 0, 1],
        ceil_mode=1, count_include_pad=include,
    )
    expected = run_onnxruntime([node], {"x": x})
    window = Window.create((5, 6), (3, 2), (2, 2), (1, 0, 0, 1), None, ceil_mode=True)
    ours = window.gather(x, 0.0).sum(axis=-1) / window.counts(bool(include))
    np.testing.assert_allclose(ours.reshape(expected.shape), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "kernel", "strides", "pads", "dilations"),
    [((5, 6), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)), ((7, 7), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
     ((5, 4), (3, 2), (1, 2), (2, 0, 0, 1), (1, 1)), ((9,), (3,), (2,), (2, 1), (2,))],
)  # fmt: skip
def test_a_padded_window_streamed_over_its_padded_grid_reads_the_same_taps(
    shape, kernel, strides, pads, dilations
):
    """On a stream a padded window runs unpadded over the padded grid (its border zero beats):
    the same output positions, each tap the same input pixel (or a border position where the
    padded window reads padding); padded_grid marks the image's positions in raster order."""
    window = Window.create(shape, kernel, strides, pads, dilations)
    streamed = window.streamed()
    assert not streamed.padded and streamed.output_shape == window.output_shape
    rank = len(shape)
    grid = [shape[a] + pads[a] + pads[rank + a] for a in range(rank)]
    assert streamed.input_shape == tuple(grid)
    inside = padded_grid(shape, pads)
    coordinates = list(itertools.product(*(range(n) for n in grid)))
    assert inside.tolist() == [
        all(pads[a] <= c[a] < pads[a] + shape[a] for a in range(rank)) for c in coordinates
    ]
    image = {c: i for i, c in enumerate(itertools.product(*(range(n) for n in shape)))}
    index, kind = window.taps()
    on_grid, _ = streamed.taps()
    for p, t in np.ndindex(index.shape):
        at = coordinates[on_grid[p, t]]
        unpadded = tuple(at[a] - pads[a] for a in range(rank))
        if kind[p, t] == INSIDE:
            assert image[unpadded] == index[p, t]
        else:
            assert kind[p, t] == PADDING and not inside[on_grid[p, t]]
    unpadded_window = Window.create(shape, kernel)
    assert unpadded_window.streamed() is unpadded_window


def test_window_too_large_is_an_error():
    with pytest.raises(ValueError, match="does not fit"):
        Window.create((2, 2), (3, 3))


# ---- importer errors ----------------------------------------------------------------------------


def _model(nodes, inputs, constants=None, opset=17):
    graph = helper.make_graph(
        nodes,
        "bad",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in (constants or {}).items()],
    )
    graph.output[0].type.tensor_type.shape.SetInParent()  # rank unknown, shape field present
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def test_pad_reflect_is_rejected_naming_node_and_op():
    model = _model(
        [helper.make_node("Pad", ["x", "pads"], ["y"], name="reflect_pad", mode="reflect")],
        {"x": [1, 2, 4, 4]},
        {"pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)},
    )
    with pytest.raises(RtlflowError) as info:
        import_onnx(model)
    assert (info.value.node, info.value.op) == ("reflect_pad", "Pad")
    assert "node 'reflect_pad' (Pad)" in str(info.value)
    assert "reflect" in str(info.value)


def test_conv_with_activation_weight_is_rejected():
    model = _model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="dynamic_conv", kernel_shape=[3, 3])],
        {"x": [1, 2, 5, 5], "w": [3, 2, 3, 3]},
    )
    with pytest.raises(RtlflowError) as info:
        import_onnx(model)
    assert (info.value.node, info.value.op) == ("dynamic_conv", "Conv")
    assert "weight" in str(info.value) and "constant" in str(info.value)


@pytest.mark.parametrize("axes", [[1], [1, 2, 3], [2]])
def test_reduce_mean_over_other_than_all_spatial_axes(axes):
    """Channels, everything but the batch, one spatial axis: the mean over the axes, as numpy
    computes it."""
    model = _model(
        [helper.make_node("ReduceMean", ["x"], ["y"], name="channel_mean", axes=axes, keepdims=1)],
        {"x": [1, 3, 4, 4]},
    )
    x = np.random.default_rng(3).normal(size=(2, 1, 3, 4, 4))
    (y,) = run_nn(import_onnx(model), [x])
    np.testing.assert_allclose(y, x.mean(axis=tuple(a + 1 for a in axes), keepdims=True))
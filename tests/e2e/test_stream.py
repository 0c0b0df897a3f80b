"""Streaming convolutions: pixel beats through line buffers, bit-exact under backpressure."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import rtlflow
from rtlflow.errors import RtlflowError
from rtlflow.sim.runner import run_testbench
from tests.e2e import models
from tests.e2e.test_end_to_end import ABSOLUTE, RELATIVE, model_inputs


def stream_cnn(
    size: int, channels: int, widths: list[int], classes: int, seed: int = 3,
    channels_last: bool = False, pads: int = 0,
):  # fmt: skip
    """Conv 3x3 (padded by ``pads`` on every side) + ReLU + 2x2 max pooling per entry of
    ``widths`` (the last conv without pooling), then a dense head: the streaming architecture's
    target shape. ``channels_last``: the input is [1, H, W, C] and its channels-first view comes
    first, as tf2onnx writes a Keras model (a Transpose, or for one channel a Reshape)."""
    shape = [1, size, size, channels] if channels_last else [1, channels, size, size]
    g = models.Graph(f"stream_cnn_{size}", {"x": shape}, seed=seed)
    h, c = "x", channels
    if channels_last and channels == 1:
        h = g.node("Reshape", [h, g.constant(np.array([1, 1, size, size], np.int64))])
    elif channels_last:
        h = g.node("Transpose", [h], perm=[0, 3, 1, 2])
    for index, width in enumerate(widths):
        w = g.constant(g.rng.normal(0, 0.6 / np.sqrt(9 * c), (width, c, 3, 3)))
        b = g.constant(g.rng.normal(0, 0.1, width))
        h = g.node("Relu", [g.node("Conv", [h, w, b], kernel_shape=[3, 3], pads=[pads] * 4)])
        size += 2 * pads - 2
        if index < len(widths) - 1:
            h = g.node("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])
            size //= 2
        c = width
    h = g.node("Flatten", [h], axis=1)
    return g.model({"y": g.dense(h, c * size * size, classes, scale=0.2)})


def stream_conv1d() -> onnx.ModelProto:
    """A 1-D stream: dilated and strided convs, a per-channel scale (BatchNormalization that
    cannot fold: between a ReLU and a pooling), average pooling, a dense head."""
    g = models.Graph("stream_conv1d", {"x": [1, 2, 24]}, seed=5)
    w = g.constant(g.rng.normal(0, 0.4, (4, 2, 3)))
    h = g.node("Relu", [g.node("Conv", ["x", w], kernel_shape=[3], dilations=[2])])
    gamma, beta = g.constant(g.rng.uniform(0.5, 1.5, 4)), g.constant(g.rng.normal(0, 0.2, 4))
    mean, var = g.constant(g.rng.normal(0, 0.2, 4)), g.constant(g.rng.uniform(0.5, 2, 4))
    h = g.node("BatchNormalization", [h, gamma, beta, mean, var])
    h = g.node("AveragePool", [h], kernel_shape=[2], strides=[2])
    w2, b2 = g.constant(g.rng.normal(0, 0.4, (4, 4, 2))), g.constant(g.rng.normal(0, 0.1, 4))
    h = g.node("Conv", [h, w2, b2], kernel_shape=[2], strides=[2])
    h = g.node("Flatten", [h], axis=1)
    return g.model({"y": g.dense(h, 4 * 5, 3, scale=0.3)})


def check_stream(
    model: onnx.ModelProto, directory, samples: int, channels_last: bool = False,
    ii: int | None = None, **options,
) -> dict:  # fmt: skip
    """Compiled with every window streamed: bit-exact under Verilator at full rate and under
    idle cycles and backpressure, latency and II as reported, near the float model. ``ii``: the
    expected II when not one beat per pixel (a padded input's border beats)."""
    compiled = rtlflow.compile(model, part="xcvu13p", conv_style="stream", **options)
    inputs = model_inputs(model, samples)
    report = compiled.write(directory, inputs=inputs)
    port = report["inputs"][0]
    shape = port["shape"]
    if channels_last:  # [1, H, W, C]: C-order flattening is already pixel by pixel
        assert port["beats"] == int(np.prod(shape[1:-1])) and "order" not in port
    else:
        assert port["beats"] == int(np.prod(shape[2:]))
        assert port["order"] == [0, *range(2, len(shape)), 1]
    assert port["ready"] == "in_ready"
    assert report["outputs"][0]["ready"] == "out_ready"
    assert report["initiation_interval"] == (ii or port["beats"])
    assert all(l.get("style", "stream") == "stream" for l in report["layers"])
    result = run_testbench(directory, gaps=0.3)
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"]
    assert result.details["checked"] == 2 * samples  # full rate, then gaps and backpressure
    assert result.latency_cycles == [report["latency_cycles"]]
    assert result.initiation_interval == report["initiation_interval"]
    ours = compiled.predict(inputs)
    (reference,) = models.onnxruntime_outputs(model, inputs)
    reference = reference.reshape(ours.shape)
    assert np.all(np.abs(ours - reference) <= ABSOLUTE + RELATIVE * np.abs(reference))
    return report


def test_small_2d_stream_under_backpressure(tmp_path):
    report = check_stream(stream_cnn(10, 2, [4, 4], 3), tmp_path, samples=12)
    # 10x10 → conv 8x8 → pool 4x4 → conv 2x2: the last output pixel needs pool pixel (3, 3),
    # conv pixel (7, 7), input pixel (9, 9): the image's last beat (99)
    assert report["latency_cycles"] > 99


@pytest.mark.parametrize("channels", [1, 3])
def test_channels_last_input_streams_as_keras_writes_it(channels, tmp_path):
    """A Keras model's NHWC input read through its channels-first view (tf2onnx: a Transpose,
    or a Reshape for one channel, as its 28x28 MNIST CNN has): the port takes the pixels as
    they lie in the tensor (a beat a pixel, channels-last, no "order"); bit-exact under
    backpressure."""
    model = stream_cnn(8, channels, [3, 4], 2, channels_last=True)
    assert model.graph.node[0].op_type == ("Reshape" if channels == 1 else "Transpose")
    report = check_stream(model, tmp_path, samples=10, channels_last=True)
    assert report["inputs"][0]["shape"] == [1, 8, 8, channels]
    assert report["inputs"][0]["beats"] == 64


def test_1d_stream_with_dilation_stride_and_per_channel_scale(tmp_path):
    report = check_stream(stream_conv1d(), tmp_path, samples=12)
    assert any(l["op"] == "scale_shift" and l.get("beats") == 20 for l in report["layers"])


@pytest.mark.slow
def test_32x32x3_three_convs_streamed(tmp_path):
    # four truncating layers deep, fixed<16,6> drifts by up to 0.16 from the float network
    # (truncation always errs downwards); rounding keeps it within the bound
    report = check_stream(
        stream_cnn(32, 3, [8, 8, 8], 10), tmp_path, samples=16, precision="fixed<16,6,RND,WRAP>"
    )
    assert report["initiation_interval"] == 32 * 32


def test_budget_chooses_stream_for_large_images_and_parallel_for_small():
    large = rtlflow.compile(stream_cnn(32, 3, [16, 16, 16], 10), stop_at="fxp").ir("fxp")
    assert large.count('style = "stream"') == 5 and 'style = "parallel"' not in large
    small = rtlflow.compile(stream_cnn(10, 1, [4, 4], 3), stop_at="fxp").ir("fxp")
    assert small.count('style = "parallel"') == 3 and 'style = "stream"' not in small


@pytest.mark.parametrize("channels_last", [False, True])
def test_padded_convolutions_stream(channels_last, tmp_path):
    """"Same" convolutions on a stream: the first pads the input's stream as it comes (the
    border's zero beats sent while in_ready is low: an image takes the padded grid's 10 x 10
    beats), the second, after a pooling whose beats leave idle cycles, inserts its border into
    those, the pixels that arrive meanwhile waiting in a small buffer (no collect, no second
    copy of the image). Bit-exact under idle cycles and backpressure; as Keras writes it too
    (NHWC input, its channels-first view)."""
    model = stream_cnn(8, 2, [3, 4], 2, seed=6, channels_last=channels_last, pads=1)
    report = check_stream(model, tmp_path, samples=10, channels_last=channels_last, ii=10 * 10)
    pads = [layer for layer in report["layers"] if layer["op"] == "pad"]
    assert [layer["beats"] for layer in pads] == [10 * 10, 6 * 6]
    buffers = [int(layer["module"].split("_f")[1].split("_")[0]) for layer in pads]
    assert buffers[0] == 0 and 1 <= buffers[1] <= 4  # the input is held; a few pixels wait
    assert [layer["op"] for layer in report["layers"]].count("collect") == 1  # the head's
    assert all(layer["pads"] == [0, 0, 0, 0] for layer in report["layers"] if layer["op"] == "conv")


def test_padded_strided_and_1d_convolutions_stream(tmp_path):
    """Padding of any amounts: a 1-D convolution padded 2 before and 1 after with stride 2,
    then a 2-D one ("same" by auto_pad, stride 2: 7 -> 4, padded 1 before and 1 after: the
    window must start inside the padding) after a reshape to an image of one row."""
    g = models.Graph("padded_1d", {"x": [1, 2, 11]}, seed=8)
    w = g.constant(g.rng.normal(0, 0.4, (3, 2, 3)))
    h = g.node("Relu", [g.node("Conv", ["x", w], kernel_shape=[3], pads=[2, 1], strides=[2])])
    h = g.node("Flatten", [h], axis=1)  # 3 x 6
    model = g.model({"y": g.dense(h, 3 * 6, 2, scale=0.3)})
    report = check_stream(model, tmp_path / "1d", samples=8, ii=2 + 11 + 1)
    assert [layer["beats"] for layer in report["layers"] if layer["op"] == "pad"] == [14]
    g = models.Graph("padded_stride", {"x": [1, 1, 7, 7]}, seed=9)
    w = g.constant(g.rng.normal(0, 0.4, (2, 1, 3, 3)))
    h = g.node("Conv", ["x", w], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
    model = g.model({"y": g.dense(g.node("Flatten", [h], axis=1), 2 * 4 * 4, 2, scale=0.3)})
    check_stream(model, tmp_path / "2d", samples=8, ii=9 * 9)


def test_a_residual_block_streams(tmp_path):
    """A residual block (conv, ReLU, conv, the input added back) on a stream: the first
    convolution's border is inserted into the input's stream (held), the second's into the idle
    cycles its input's stream has (the border's), and the add joins two streams that arrive
    apart, the input's pixels waiting in a buffer about two rows deep for the convolutions' (no
    collect before the head). Bit-exact under idle cycles and backpressure, II the padded grid;
    the automatic choice streams it where the parallel form outnumbers the DSP slices."""
    model = models.residual_block(8, 2)
    report = check_stream(model, tmp_path, samples=10, ii=10 * 10)
    (add,) = [layer for layer in report["layers"] if layer["op"] == "add"]
    depths = [int(d) for d in add["module"].split("_f")[1].split("_")[:2]]
    assert depths[0] <= 2 and 2 * 8 <= depths[1] <= 3 * 8  # the convolutions' path is later
    assert [layer["op"] for layer in report["layers"]].count("collect") == 1  # the head's
    fxp_ir = rtlflow.compile(model, part="xc7z020", stop_at="fxp").ir("fxp")  # 220 DSPs
    assert 'style = "parallel"' not in fxp_ir and fxp_ir.count('style = "stream"') == 3


def test_a_residual_connection_longer_than_an_image_on_a_short_stream(tmp_path):
    """Three "same" convolutions of a 1-D stream of 4 pixels (6 beats an image, padded), added
    back to the input: the input's pixels wait for the convolutions' longer than an image takes,
    so the next images' pixels arrive meanwhile: the buffer holds those too (more than the 4
    pixels of one image). Bit-exact under idle cycles and backpressure."""
    g = models.Graph("residual_1d", {"x": [1, 2, 4]}, seed=5)
    h = "x"
    for _ in range(3):
        w = g.constant(g.rng.normal(0, 0.4, (2, 2, 3)))
        h = g.node("Relu", [g.node("Conv", [h, w], kernel_shape=[3], pads=[1, 1])])
    h = g.node("Add", [h, "x"])
    model = g.model({"y": g.dense(g.node("Flatten", [h], axis=1), 2 * 4, 2, scale=0.3)})
    report = check_stream(model, tmp_path, samples=12, ii=6)
    (add,) = [layer for layer in report["layers"] if layer["op"] == "add"]
    assert int(add["module"].split("_f")[1].split("_")[1]) > 4  # the input's side
    assert report["latency_cycles"] > 2 * 6


def test_two_padded_convolutions_of_the_input_added(tmp_path):
    """A 3x3 and a 5x5 "same" convolution of the same input, added (as inception-style blocks
    have): the 5x5's pad, of the larger padded grid (12 x 12), holds the input for its border,
    and every reader sees the held input; the 3x3's pad inserts its smaller border into the idle
    cycles that leaves; the add joins the two. Bit-exact under idle cycles and backpressure."""
    g = models.Graph("two_kernels", {"x": [1, 2, 8, 8]}, seed=7)
    w3 = g.constant(g.rng.normal(0, 0.3, (3, 2, 3, 3)))
    w5 = g.constant(g.rng.normal(0, 0.2, (3, 2, 5, 5)))
    a = g.node("Conv", ["x", w3], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    b = g.node("Conv", ["x", w5], kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    h = g.node("Relu", [g.node("Add", [a, b])])
    h = g.node("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])
    model = g.model({"y": g.dense(g.node("Flatten", [h], axis=1), 3 * 16, 2, scale=0.3)})
    report = check_stream(model, tmp_path, samples=12, ii=12 * 12)
    modules = [layer["module"] for layer in report["layers"] if layer["op"] == "pad"]
    assert sorted(m.split("_f")[1][0] for m in modules) == ["0", "1"]  # one holds, one buffers
    assert any("_2_2_2_2_f0_" in m for m in modules)  # the 5x5's holds the input


def test_a_padded_conv_behind_an_input_layer_cannot_stream_at_the_input_rate():
    """A per-channel scale between the input and a padded convolution: the border cannot be
    inserted where the input is held (the scale would change it), and after the scale the
    stream, a pixel a cycle, leaves no room for it (100 beats an image where the stream has
    64): refused by name when asked for; the automatic choice keeps the convolution parallel
    even where its products outnumber the DSP slices."""
    g = models.Graph("scaled_first", {"x": [1, 2, 8, 8]}, seed=4)
    gamma, beta = g.constant(g.rng.uniform(0.5, 1.5, 2)), g.constant(g.rng.normal(0, 0.2, 2))
    mean, var = g.constant(g.rng.normal(0, 0.2, 2)), g.constant(g.rng.uniform(0.5, 2, 2))
    h = g.node("BatchNormalization", ["x", gamma, beta, mean, var])
    w = g.constant(g.rng.normal(0, 0.3, (3, 2, 3, 3)))
    h = g.node("Relu", [g.node("Conv", [h, w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])])
    model = g.model({"y": g.dense(g.node("Flatten", [h], axis=1), 3 * 64, 2, scale=0.2)})
    with pytest.raises(RtlflowError, match="takes 100 beats, which do not fit between its "
                       "images at the stream's 64 beats") as error:  # fmt: skip
        rtlflow.compile(model, conv_style="stream", stop_at="circuit")
    assert "node 'n7_Conv' (conv)" in str(error.value)
    fxp_ir = rtlflow.compile(model, part="xc7z020", stop_at="fxp").ir("fxp")  # 220 DSPs
    assert 'style = "parallel"' in fxp_ir and "fxp.pad" not in fxp_ir


def test_streaming_a_padded_pooling_is_refused_with_the_node():
    """A padded max pooling's border is not zeros (padding never wins): it does not stream."""
    g = models.Graph("padded_pool", {"x": [1, 1, 8, 8]})
    h = g.node("MaxPool", ["x"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    model = g.model({"y": g.dense(g.node("Flatten", [h], axis=1), 64, 2)})
    with pytest.raises(RtlflowError, match="padded ones for convolutions only") as error:
        rtlflow.compile(model, conv_style="stream")
    assert "MaxPool" in str(error.value)


@pytest.mark.parametrize("pads", [0, 1])
def test_a_parallel_window_wider_than_a_port_is_refused_before_the_circuit_level(pads):
    """A 48x48 convolution to 4 channels computed in parallel hands on 147,456 bits (or
    135,424 unpadded) at once, more than a port carries: refused at the start of the circuit
    level, naming the layer and what helps (streaming; the widest result format a port
    carries), not after
    its adder graphs; the fxp level (the emulator) takes it."""
    g = models.Graph("wide", {"x": [1, 1, 48, 48]})
    h = g.node("Conv", ["x", g.constant(np.ones((4, 1, 3, 3)))], kernel_shape=[3, 3],
               pads=[pads] * 4)
    model = g.model({"y": g.node("ReduceMean", [h], axes=[2, 3], keepdims=0)})
    with pytest.raises(RtlflowError, match="more than the 65,536 a port can carry") as error:
        rtlflow.compile(model, conv_style="parallel", stop_at="circuit")
    assert "node 'n2_Conv'" in str(error.value)
    assert "conv_style: stream" in str(error.value)  # padded, it streams too
    side = 48 if pads else 46
    assert f"to {65536 // (4 * side * side)} bits or fewer" in str(error.value)  # 7 bits
    x = np.random.default_rng(0).uniform(-1, 1, (3, 1, 1, 48, 48))
    assert rtlflow.compile(model, conv_style="parallel", stop_at="fxp").predict(x).shape == (3, 1, 4)


def test_a_folded_parallel_conv_after_the_stream_holds_under_backpressure(tmp_path):
    """A streamed conv and pooling, collected, then a padded conv (which cannot stream) in
    parallel with R = 4: its 16 positions fold onto 4 instances of one position's graph, which
    take the design's enable like every register (a global stall); bit-exact under random idle
    cycles and backpressure, II the stream's 100 beats."""
    g = models.Graph("stream_then_folded", {"x": [1, 2, 10, 10]}, seed=4)
    w = g.constant(g.rng.normal(0, 0.3, (4, 2, 3, 3)))
    h = g.node("Relu", [g.node("Conv", ["x", w], kernel_shape=[3, 3])])
    h = g.node("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])  # 4x4
    w2 = g.constant(g.rng.normal(0, 0.3, (3, 4, 3, 3)))
    h = g.node("Conv", [h, w2], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    model = g.model({"y": g.dense(g.node("Flatten", [h], axis=1), 3 * 16, 2, scale=0.2)})
    padded = [n.name for n in model.graph.node if n.op_type == "Conv"][1]
    config = {"layers": {padded: {"conv_style": "parallel", "reuse_factor": 4}}}
    compiled = rtlflow.compile(model, part="xcvu13p", conv_style="stream", config=config)
    inputs = model_inputs(model, 15)
    report = compiled.write(tmp_path, inputs=inputs)
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert layers[padded]["style"] == "parallel" and layers[padded]["ii"] == 4
    assert report["initiation_interval"] == 100
    text = "".join(p.read_text() for p in (tmp_path / "rtl").glob("conv_*_f4_*.v"))
    assert text.count(".en(en)") == 4  # each position's instance holds with the design
    result = run_testbench(tmp_path, gaps=0.3)
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"]
    assert result.details["checked"] == 2 * 15
    assert result.latency_cycles == [report["latency_cycles"]]
    ours = compiled.predict(inputs)
    (reference,) = models.onnxruntime_outputs(model, inputs)
    reference = reference.reshape(ours.shape)
    assert np.all(np.abs(ours - reference) <= ABSOLUTE + RELATIVE * np.abs(reference))

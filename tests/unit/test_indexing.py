"""Run-time indexing: the index maps against onnxruntime, the out-of-range rule, import errors."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

import rtlflow
from rtlflow.errors import RtlflowError
from rtlflow.numerics import indexing

RNG = np.random.default_rng(11)


def onnxruntime_run(node: onnx.NodeProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    def info(name, array):
        kind = TensorProto.INT64 if array.dtype == np.int64 else TensorProto.FLOAT
        return helper.make_tensor_value_info(name, kind, array.shape)

    graph = helper.make_graph(
        [node], "g", [info(k, v) for k, v in feeds.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    return onnxruntime.InferenceSession(model.SerializeToString()).run(None, feeds)[0]


def data(shape) -> np.ndarray:
    return RNG.integers(-9, 9, shape).astype(np.float32)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("index_shape", [(), (4,), (2, 3)])
def test_gather_map_matches_onnxruntime(axis, index_shape):
    x = data((3, 4, 5))
    size = x.shape[axis]
    indices = RNG.integers(-size, size, index_shape)
    expected = onnxruntime_run(helper.make_node("Gather", ["x", "i"], ["y"], axis=axis),
                               {"x": x, "i": indices})
    shape = indexing.gather_shape(x.shape, indices.shape, axis, "gather")
    index_map = indexing.gather_map(x.shape, indices.shape, axis, "gather")
    got = indexing.gather(x[np.newaxis], indices[np.newaxis], index_map, shape)[0]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gather_and_scatter_elements_match_onnxruntime(axis):
    x = data((3, 4, 5))
    index_shape = list(x.shape)
    index_shape[axis] = 2
    size = x.shape[axis]
    indices = RNG.integers(-size, size, index_shape)
    updates = data(index_shape)
    gathered = onnxruntime_run(helper.make_node("GatherElements", ["x", "i"], ["y"], axis=axis),
                               {"x": x, "i": indices})
    index_map = indexing.gather_map(x.shape, indices.shape, axis, "elements")
    got = indexing.gather(x[np.newaxis], indices[np.newaxis], index_map, indices.shape)[0]
    np.testing.assert_array_equal(got, gathered)
    node = helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=axis, reduction="add")
    scattered = onnxruntime_run(node, {"x": x, "i": indices, "u": updates})
    index_map = indexing.scatter_map(x.shape, indices.shape, axis, "elements")
    got = indexing.scatter(x[np.newaxis], indices[np.newaxis], updates[np.newaxis], index_map, "add")
    np.testing.assert_array_equal(got[0], scattered)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("reduction", ["add", "none"])
def test_scatter_nd_matches_onnxruntime(k, reduction):
    x = data((5, 4, 3))
    rows = 6 if reduction == "add" else 3
    if reduction == "add":
        indices = np.stack([RNG.integers(-s, s, rows) for s in x.shape[:k]], axis=-1)
    else:  # ONNX leaves duplicate indices undefined without a reduction: distinct ones here
        flat = RNG.choice(int(np.prod(x.shape[:k])), rows, replace=False)
        indices = np.stack(np.unravel_index(flat, x.shape[:k]), axis=-1)
    updates = data(indexing.scatter_updates_shape(x.shape, indices.shape, "nd"))
    expected = onnxruntime_run(
        helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction=reduction),
        {"x": x, "i": indices, "u": updates},
    )
    index_map = indexing.scatter_map(x.shape, indices.shape, 0, "nd")
    got = indexing.scatter(x[np.newaxis], indices[np.newaxis], updates[np.newaxis], index_map,
                           reduction)
    np.testing.assert_array_equal(got[0], expected)


def test_out_of_range_indices_read_zero_and_drop_updates():
    x = np.arange(1.0, 7.0).reshape(3, 2)
    indices = np.array([[2, 3, -3, -4]])  # 3 and -4 lie outside an axis of 3
    index_map = indexing.gather_map(x.shape, (4,), 0, "gather")
    got = indexing.gather(x[np.newaxis], indices, index_map, (4, 2))[0]
    np.testing.assert_array_equal(got, [[5, 6], [0, 0], [1, 2], [0, 0]])
    updates = np.full((1, 4, 2), 10.0)
    index_map = indexing.scatter_map(x.shape, (4, 1), 0, "nd")
    got = indexing.scatter(x[np.newaxis], indices.reshape(1, 4, 1), updates, index_map, "add")[0]
    np.testing.assert_array_equal(got, [[11, 12], [3, 4], [15, 16]])


def test_candidates_list_every_code_of_a_signed_format():
    index_map = indexing.gather_map((3, 2), (1,), 0, "gather")
    choices = index_map.candidates(-4, 3)  # fixed<3,3>: -4..3; position p is p or p - 3
    assert choices[0] == [(0, ((0, -3),)), (2, ((1, -2),)), (4, ((2, -1),))]
    assert index_map.candidates(0, 1)[1] == [(1, ((0,),)), (3, ((1,),))]


# ---- import and conversion errors ----------------------------------------------------------


def graph_model(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    return model


def test_unsupported_scatter_reduction_names_the_node():
    model = graph_model(
        [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], name="agg", reduction="mul")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 2]),
         helper.make_tensor_value_info("i", TensorProto.INT64, [3, 1]),
         helper.make_tensor_value_info("u", TensorProto.FLOAT, [3, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 2])],
    )
    with pytest.raises(RtlflowError, match=r"'agg' \(ScatterND\): reduction 'mul'"):
        rtlflow.compile(model, stop_at="nn")


def test_gather_from_a_constant_table_is_rejected_by_name():
    table = onnx.numpy_helper.from_array(np.ones((5, 2), np.float32), "table")
    model = graph_model(
        [helper.make_node("Gather", ["table", "i"], ["y"], name="lookup")],
        [helper.make_tensor_value_info("i", TensorProto.INT64, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])],
        [table],
    )
    with pytest.raises(RtlflowError, match=r"'lookup' \(gather\): gathering from a constant"):
        rtlflow.compile(model, stop_at="fxp")


def test_default_index_format_numbers_the_largest_axis():
    model = graph_model(
        [helper.make_node("Gather", ["x", "i"], ["y"], axis=1)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 33]),
         helper.make_tensor_value_info("i", TensorProto.INT64, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
    )
    compiled = rtlflow.compile(model, stop_at="fxp")
    assert str(compiled.emulator.input_formats[1]) == "ufixed<6,6>"  # 0..63 numbers 33 columns

"""Elements nothing reads: a pooling window that leaves the last row and column of a convolution
uncovered; those outputs get no adders, and the design stays bit-exact under Verilator."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import rtlflow
from rtlflow.dialects import circuit, fxp
from rtlflow.demand import demanded
from rtlflow.emit_verilog import design_function
from rtlflow.passes.circuit_build_adder_graphs import layer_problem
from rtlflow.sim.runner import run_testbench
from rtlflow.value_ranges import value_ranges


def conv_relu_pool() -> onnx.ModelProto:
    """[1, 1, 7, 7] → 3x3 conv, 2 channels → [1, 2, 5, 5] → ReLU → 2x2 max pool → [1, 2, 2, 2]:
    the pool reads rows and columns 0..3 of the conv's 5."""
    rng = np.random.default_rng(4)
    weight = (rng.integers(-16, 17, (2, 1, 3, 3)) / 16).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["y"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_relu_pool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 7, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2, 2])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    return model


def conv_unit(module):
    function = design_function(module)
    unit = next(
        op for op in function.body.block.ops
        if isinstance(op, circuit.UnitOp) and isinstance(op.inner, fxp.ConvOp)
    )  # fmt: skip
    return function, unit


def test_the_pool_reads_rows_and_columns_0_to_3():
    function, unit = conv_unit(rtlflow.compile(conv_relu_pool(), stop_at="circuit").levels["circuit"])
    mask = demanded(function)[unit.results[0]].reshape(2, 5, 5)
    expected = np.zeros((2, 5, 5), dtype=bool)
    expected[:, :4, :4] = True
    assert np.array_equal(mask, expected)


def test_unread_outputs_have_no_terms():
    function, unit = conv_unit(rtlflow.compile(conv_relu_pool(), stop_at="circuit").levels["circuit"])
    low, high = value_ranges(function)[unit.inputs[0]]
    everything = layer_problem(unit.inner, low, high)
    read = demanded(function)[unit.results[0]]
    rows, constants, _, _ = layer_problem(unit.inner, low, high, read)
    for k, (row, constant) in enumerate(zip(rows, constants, strict=True)):
        if read[k]:
            assert (row, constant) == (everything[0][k], everything[1][k])
        else:
            assert row == [] and constant == 0
    assert sum(not r for r in read) == 2 * (25 - 16)


def test_rtl_stays_bit_exact(tmp_path):
    compiled = rtlflow.compile(conv_relu_pool())
    rng = np.random.default_rng(0)
    report = compiled.write(tmp_path, inputs={"x": rng.uniform(-4, 4, (60, 1, 1, 7, 7))})
    result = run_testbench(tmp_path, gaps=0.2)
    assert result.mismatches == 0 and result.missing == 0
    assert result.latency_cycles == [report["latency_cycles"]]

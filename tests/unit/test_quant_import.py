"""QONNX and QDQ quantizers built in code, imported and lowered, against the reference
semantics in ``tests/unit/quant_reference.py`` (written from the QONNX and ONNX documents)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import rtlflow
from rtlflow.errors import RtlflowError
from rtlflow.sim.nn_interpreter import run_nn
from tests.unit import quant_reference as ref

DOMAINS = ["qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", ""]


def quant_model(x_shape, nodes, initializers, output, domain="qonnx.custom_op.general", y_shape=None):
    graph = helper.make_graph(
        nodes,
        "quant",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, y_shape or x_shape)],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in initializers.items()],
    )
    opsets = [helper.make_opsetid("", 17)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def activation_quant(bits, signed, narrow, rounding, scale=0.25, domain="qonnx.custom_op.general"):
    node = helper.make_node(
        "Quant", ["x", "s", "z", "b"], ["y"], domain=domain,
        signed=signed, narrow=narrow, rounding_mode=rounding,
    )
    return quant_model([1, 64], [node], {"s": scale, "z": 0.0, "b": float(bits)}, "y", domain)


def ties_and_range(scale, bits, count=64):
    """Inputs on every half step of the scale (ties), beyond the range on both sides."""
    steps = np.arange(-count // 2, count // 2) * 0.5
    return (steps * scale * (2 ** (bits + 1)) / count)[np.newaxis, np.newaxis, :].astype(np.float32)


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize(
    ("bits", "signed", "narrow", "rounding"),
    [(6, 1, 0, "ROUND"), (4, 1, 1, "ROUND"), (5, 0, 0, "ROUND"), (3, 1, 0, "FLOOR"), (8, 0, 0, "FLOOR")],
)
def test_activation_quant_is_exact_in_fixed_point(domain, bits, signed, narrow, rounding):
    model = activation_quant(bits, signed, narrow, rounding, domain=domain)
    x = ties_and_range(0.25, bits)
    expected = ref.quant(x, np.float32(0.25), np.float32(0), bits, signed, narrow, rounding)
    compiled = rtlflow.compile(model, stop_at="fxp")
    assert np.array_equal(run_nn(compiled.levels["nn"], [x])[0], expected)
    assert np.array_equal(compiled.predict(x), expected.reshape(1, 1, 64))


@pytest.mark.parametrize("rounding", ["ROUND", "FLOOR", "CEIL", "UP", "DOWN", "HALF_UP", "HALF_DOWN"])
@pytest.mark.parametrize(("scale", "zero_point"), [(0.3, 0.0), (0.125, 2.0), (np.array([[0.5], [0.1], [1 / 3]]), 0.0)])
def test_weight_quant_folds_with_any_scale_and_rounding(rounding, scale, zero_point):
    rng = np.random.default_rng(1)
    w = rng.normal(0, 1, (3, 8)).astype(np.float32)
    w[0, :4] = np.array([0.5, 1.5, -0.5, -1.5]) * np.asarray(scale).reshape(-1)[0]  # ties
    nodes = [
        helper.make_node("Quant", ["w", "s", "z", "b"], ["wq"], domain="qonnx.custom_op.general",
                         signed=1, narrow=1, rounding_mode=rounding),
        helper.make_node("Transpose", ["wq"], ["wq_t"]),
        helper.make_node("MatMul", ["x", "wq_t"], ["y"]),
    ]
    model = quant_model([1, 8], nodes, {"w": w, "s": scale, "z": zero_point, "b": 4.0}, "y", y_shape=[1, 3])
    expected = ref.quant(w, np.asarray(scale, np.float32), np.float32(zero_point), 4, 1, 1, rounding)
    nn_ir = rtlflow.compile(model, stop_at="nn").levels["nn"]
    dense = next(op for op in nn_ir.walk() if op.name == "nn.dense")
    assert np.array_equal(dense.weights, expected)


def test_bipolar_and_trunc_fold_on_constants():
    w = np.array([[0.0, -0.0, 0.3, -0.2]], dtype=np.float32)
    nodes = [
        helper.make_node("BipolarQuant", ["w", "s"], ["wb"], domain="qonnx.custom_op.general"),
        helper.make_node("Trunc", ["wb", "s", "z", "b8", "b4"], ["wt"], domain="qonnx.custom_op.general",
                         rounding_mode="FLOOR"),
        helper.make_node("Transpose", ["wt"], ["wt_t"]),
        helper.make_node("MatMul", ["x", "wt_t"], ["y"]),
    ]
    inits = {"w": w, "s": 0.5, "z": 0.0, "b8": 8.0, "b4": 4.0}
    model = quant_model([1, 4], nodes, inits, "y", y_shape=[1, 1])
    bipolar = ref.bipolar_quant(w, np.float32(0.5))
    expected = ref.trunc(bipolar, np.float32(0.5), np.float32(0), 8, 4, "FLOOR")
    nn_ir = rtlflow.compile(model, stop_at="nn").levels["nn"]
    dense = next(op for op in nn_ir.walk() if op.name == "nn.dense")
    assert np.array_equal(dense.weights.reshape(-1), np.asarray(expected).reshape(-1))


@pytest.mark.parametrize(("low", "high", "dtype"), [(-32, 31, np.int8), (-31, 31, np.int8), (0, 255, np.uint8)])
def test_qdq_chain_on_activations_matches_onnxruntime(low, high, dtype):
    import onnxruntime

    zero = np.zeros((), dtype=dtype)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"]),
        helper.make_node("Clip", ["q", "lo", "hi"], ["c"]),
        helper.make_node("DequantizeLinear", ["c", "s", "zp"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [
            numpy_helper.from_array(np.float32(0.125), "s"),
            numpy_helper.from_array(zero, "zp"),
            numpy_helper.from_array(np.asarray(low, dtype=dtype), "lo"),
            numpy_helper.from_array(np.asarray(high, dtype=dtype), "hi"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = ties_and_range(0.125, 8)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": x[0]})[0]
    compiled = rtlflow.compile(model, stop_at="fxp")
    assert np.array_equal(compiled.predict(x).reshape(expected.shape), expected)


def test_unsupported_quantizers_name_the_node():
    model = activation_quant(6, 1, 0, "ROUND", scale=0.3)
    with pytest.raises(RtlflowError, match="power-of-two") as error:
        rtlflow.compile(model, stop_at="fxp")
    assert "quant" in str(error.value)
    model = activation_quant(6, 1, 0, "CEIL")
    with pytest.raises(RtlflowError, match="rounding mode CEIL"):
        rtlflow.compile(model, stop_at="fxp")
    node = helper.make_node("Trunc", ["x", "s", "z", "b", "b"], ["y"], domain="qonnx.custom_op.general")
    model = quant_model([1, 4], [node], {"s": 1.0, "z": 0.0, "b": 8.0}, "y")
    with pytest.raises(RtlflowError, match="Trunc on activations"):
        rtlflow.compile(model)

"""Every case of the conformance table (``cases.py``): import against onnxruntime, the emulator
against exact fixed-point arithmetic (or onnxruntime within tolerance), the RTL under Verilator
against the emulator."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, numpy_helper
from onnx.reference import ReferenceEvaluator

import rtlflow
from rtlflow.frontend import import_onnx
from rtlflow.sim.nn_interpreter import run_nn
from rtlflow.sim.runner import run_testbench
from tests.ops.cases import CASES, FRAC, OpCase

IDS = [case.name for case in CASES]
#: emulator vs float for the inexact ops: tables step by 2^-6 .. 2^-7 at the defaults
ABSOLUTE, RELATIVE = 64 * 2.0**-FRAC, 0.01


def onnxruntime_run(model: onnx.ModelProto, data: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(model.SerializeToString())
    names = [o.name for o in session.get_outputs()]
    count = len(next(iter(data.values())))
    runs = [session.run(names, {k: v[i] for k, v in data.items()}) for i in range(count)]
    return [np.stack([run[j] for run in runs]) for j in range(len(names))]


def as_double(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model in float64: the reference evaluator then computes these small dyadic values
    exactly."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for value in [*model.graph.input, *model.graph.output]:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = TensorProto.DOUBLE
    for k, tensor in enumerate(model.graph.initializer):
        if tensor.data_type == TensorProto.FLOAT:
            array = numpy_helper.to_array(tensor).astype(np.float64)
            model.graph.initializer[k].CopyFrom(numpy_helper.from_array(array, tensor.name))
    return model


def exact_reference(case: OpCase, data: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The op on the (exactly representable) inputs in float64, truncated to fixed<16,6>."""
    evaluator = ReferenceEvaluator(as_double(case.model()))
    count = len(next(iter(data.values())))
    feeds = [
        {k: (v[i] if k in case.indices else v[i].astype(np.float64)) for k, v in data.items()}
        for i in range(count)
    ]
    runs = [evaluator.run(None, feed) for feed in feeds]
    outputs = []
    for j in range(case.outputs):
        exact = np.stack([np.asarray(run[j], np.float64) for run in runs])
        assert np.all(np.abs(exact) < 32), "the case must not overflow fixed<16,6>"
        outputs.append(np.floor(exact * 2**FRAC) * 2.0**-FRAC)
    return outputs


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_import_matches_onnxruntime(case):
    model = case.model()
    data = case.samples(16)
    module = import_onnx(model)
    ours = run_nn(module, [data[name] for name, _ in case.inputs])
    for mine, reference in zip(ours, onnxruntime_run(model, data), strict=True):
        np.testing.assert_allclose(mine.reshape(reference.shape), reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_emulator(case):
    model = case.model()
    data = case.samples(64)
    predicted = rtlflow.compile(model, stop_at="fxp").predict(data)
    predicted = predicted if isinstance(predicted, list) else [predicted]
    if case.exact:
        for mine, reference in zip(predicted, exact_reference(case, data), strict=True):
            np.testing.assert_array_equal(mine.reshape(reference.shape), reference)
        return
    for mine, reference in zip(predicted, onnxruntime_run(model, data), strict=True):
        error = np.abs(mine.reshape(reference.shape) - reference)
        assert np.all(error <= ABSOLUTE + RELATIVE * np.abs(reference)), error.max()


def rtl_cases():
    return [
        pytest.param(case, id=case.name, marks=[pytest.mark.slow] if case.rtl == "slow" else [])
        for case in CASES
    ]


@pytest.mark.parametrize("case", rtl_cases())
def test_rtl_matches_emulator(case, tmp_path):
    compiled = rtlflow.compile(case.model())
    report = compiled.write(tmp_path, inputs=case.samples(40, seed=3))
    result = run_testbench(tmp_path, gaps=0.2)
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"]
    assert result.latency_cycles == [report["latency_cycles"]]
    assert result.initiation_interval == report["initiation_interval"]

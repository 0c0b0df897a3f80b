"""ONNX's backend node tests through rtlflow (see ``onnx_backend``): every selected case is
emulated within tolerance of the test's own outputs, or refused with an RtlflowError where this
file says why; a sample of them also runs as Verilog under Verilator, bit-exact."""

from __future__ import annotations

import numpy as np
import pytest

import rtlflow
from rtlflow.errors import RtlflowError, collect_warnings
from rtlflow.frontend.importer import _HANDLERS
from rtlflow.sim.runner import run_testbench
from tests.ops.onnx_backend import backend_cases, config, frozen, tolerance

CASES = backend_cases(frozenset(_HANDLERS) - {"QuantizeLinear", "DequantizeLinear"})

#: the cases rtlflow refuses, and the words of the reason
REFUSED = {
    "test_reduce_max_empty_set": "is empty",
    "test_reduce_min_empty_set": "is empty",
    "test_reduce_sum_empty_set": "is empty",
    "test_reduce_sum_empty_set_non_reduced_axis_zero": "is empty",
    "test_reshape_allowzero_reordered": "is empty",
    "test_split_zero_size_splits_opset13": "is empty",
    "test_split_zero_size_splits_opset18": "is empty",
    "test_slice_start_out_of_bounds": "the result would be empty",
    "test_matmul_1d_3d": "1-D activation",
    "test_matmul_1d_1d": "1-D activation",
}

#: through Verilator in every run (the rest of RTL_SAMPLE with --run-slow)
RTL_DEFAULT = {"test_scatternd", "test_gemm_default_matrix_bias"}
RTL_SAMPLE = RTL_DEFAULT | {
    "test_elu", "test_softplus", "test_constant_pad", "test_matmul_3d",
    "test_reduce_mean_keepdims_example", "test_scatter_elements_with_reduction_max",
    "test_layer_normalization_2d_axis1", "test_gelu_default_1",
}  # fmt: skip


def test_nearly_every_case_is_built():
    assert len(CASES) > 250
    assert set(REFUSED) <= {case.name for case in CASES}
    assert len(REFUSED) <= 0.05 * len(CASES)


def emulate(case):
    with collect_warnings():
        compiled = rtlflow.compile(frozen(case), config=config(case), stop_at="fxp")
        outputs = compiled.predict([np.asarray(case.inputs[0])[np.newaxis]])
    return outputs if isinstance(outputs, list) else [outputs]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_backend_case(case):
    if case.name in REFUSED:
        with pytest.raises(RtlflowError, match=REFUSED[case.name]):
            emulate(case)
        return
    outputs = emulate(case)
    assert len(outputs) == len(case.expected)
    for mine, expected in zip(outputs, case.expected, strict=True):
        error = np.abs(mine.reshape(np.shape(expected)) - expected)
        assert np.all(error <= tolerance(case, expected)), error.max()


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.name, marks=[] if case.name in RTL_DEFAULT else [pytest.mark.slow])
        for case in CASES
        if case.name in RTL_SAMPLE
    ],
)
def test_backend_case_in_verilog(case, tmp_path):
    with collect_warnings():
        compiled = rtlflow.compile(frozen(case), config=config(case))
        report = compiled.write(tmp_path, inputs=[np.asarray(case.inputs[0])[np.newaxis]])
    result = run_testbench(tmp_path)
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"]
    assert result.latency_cycles == [report["latency_cycles"]]

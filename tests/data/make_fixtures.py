#!/usr/bin/env python3
"""Generate the ONNX importer test fixtures in ``tests/data/onnx/``.

The fixtures cover the exporter styles the rtlflow ONNX importer has to
accept (PyTorch legacy TorchScript exporter, PyTorch dynamo exporter,
Keras/tf2onnx-style graphs, old opsets) plus a few inputs it must reject.

Every valid model ``NAME.onnx`` comes with ``NAME.npz`` holding

* one array per graph input, keyed by the ONNX input name, with shape
  ``(N_SAMPLES, *input_shape)`` (float32, normal with std 1.5, clipped to
  [-7, 7]); and
* one array per graph output, keyed ``ref_<output name>``, with shape
  ``(N_SAMPLES, *output_shape)``: the onnxruntime result for each sample.

All models have batch size 1, static shapes and weights stored inside the
file, and an IR version that onnxruntime accepts (<= 10).

Usage (needs torch, onnx, onnxruntime and onnxscript)::

    python tests/data/make_fixtures.py [--out-dir DIR]

The script is deterministic: weights and sample data are seeded.
"""

from __future__ import annotations

import argparse
import io
import zlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

OUT_DIR = Path(__file__).resolve().parent / "onnx"

N_SAMPLES = 64  # samples per .npz file
SAMPLE_STD = 1.5  # std of the sample distribution
SAMPLE_CLIP = 7.0  # samples are clipped to [-SAMPLE_CLIP, SAMPLE_CLIP]
MAX_IR_VERSION = 10  # newest IR version onnxruntime is guaranteed to load
TORCH_SEED = 0
PRODUCER = "rtlflow tests/data/make_fixtures.py"
FLOAT = TensorProto.FLOAT


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _rng(name: str) -> np.random.Generator:
    """Random generator seeded from the fixture name (order independent)."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def _weights(rng: np.random.Generator, *shape: int, fan_in: int) -> np.ndarray:
    """Scaled normal weights, roughly like PyTorch's default init."""
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)


def _init(name: str, array) -> TensorProto:
    """Initializer tensor from a numpy array (keeps the array's dtype)."""
    return numpy_helper.from_array(np.asarray(array), name=name)


def _finalize(model: onnx.ModelProto, ir_version: int | None = None) -> onnx.ModelProto:
    """Cap the IR version, check the model and return it.

    onnx >= 1.23 writes IR version 14 by default, which onnxruntime rejects.
    ``ir_version`` forces a specific (older) IR version; otherwise the
    exporter's value is kept if it is <= MAX_IR_VERSION.
    """
    if ir_version is None:
        ir_version = min(model.ir_version, MAX_IR_VERSION)
    model.ir_version = ir_version
    onnx.checker.check_model(model, full_check=True)
    return model


def _helper_model(graph: onnx.GraphProto, opset: int, ir_version: int | None = None) -> onnx.ModelProto:
    """Wrap a hand-built graph; default IR version is the oldest valid one."""
    opsets = [helper.make_opsetid("", opset)]
    if ir_version is None:
        ir_version = helper.find_min_ir_version_for(opsets)
    model = helper.make_model(graph, opset_imports=opsets, producer_name=PRODUCER)
    return _finalize(model, ir_version)


def _torch_legacy(module: nn.Module, example: torch.Tensor, opset: int, **kwargs) -> onnx.ModelProto:
    """Export with the TorchScript-based (legacy) exporter."""
    module.eval()
    buf = io.BytesIO()
    torch.onnx.export(module, (example,), buf, dynamo=False, opset_version=opset, **kwargs)
    return _finalize(onnx.load_from_string(buf.getvalue()))


def _torch_dynamo(module: nn.Module, example: torch.Tensor, opset: int) -> onnx.ModelProto:
    """Export with the torch.export-based (dynamo) exporter, static shapes."""
    module.eval()
    program = torch.onnx.export(module, (example,), dynamo=True, opset_version=opset, verbose=False)
    model = program.model_proto
    # the exporter records stack traces (with this machine's paths) per node: not model content
    for node in model.graph.node:
        del node.metadata_props[:]
    del model.metadata_props[:]
    return _finalize(model)


def _graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """Graph inputs that are not initializers (the real data inputs)."""
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def _static_shape(value: onnx.ValueInfoProto) -> tuple[int, ...]:
    dims = value.type.tensor_type.shape.dim
    assert all(d.HasField("dim_value") for d in dims), f"{value.name} is not static"
    return tuple(d.dim_value for d in dims)


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _write_samples(path: Path) -> None:
    """Write NAME.npz next to NAME.onnx: sample inputs + onnxruntime outputs."""
    model = onnx.load(str(path))
    rng = _rng(path.stem + ".npz")
    data: dict[str, np.ndarray] = {}
    for value in _graph_inputs(model):
        shape = (N_SAMPLES, *_static_shape(value))
        samples = rng.normal(0.0, SAMPLE_STD, size=shape)
        data[value.name] = np.clip(samples, -SAMPLE_CLIP, SAMPLE_CLIP).astype(np.float32)

    # The models have a static batch of 1, so run one sample at a time.
    sess = _session(path)
    out_names = [o.name for o in sess.get_outputs()]
    results: dict[str, list[np.ndarray]] = {n: [] for n in out_names}
    for i in range(N_SAMPLES):
        feeds = {name: arr[i] for name, arr in data.items()}
        for name, value in zip(out_names, sess.run(out_names, feeds)):
            results[name].append(value)
    for value in model.graph.output:
        ref = np.stack(results[value.name])
        assert ref.shape == (N_SAMPLES, *_static_shape(value)), (value.name, ref.shape)
        data[f"ref_{value.name}"] = ref
    np.savez(path.with_suffix(".npz"), **data)


# ---------------------------------------------------------------------------
# PyTorch models
# ---------------------------------------------------------------------------


class LegacyMLP(nn.Module):
    """Flatten -> Linear -> ReLU -> Dropout -> Linear -> LeakyReLU -> Linear -> Sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(8, 12),
            nn.ReLU(),
            nn.Dropout(0.2),  # disappears from the graph in eval mode
            nn.Linear(12, 8),
            nn.LeakyReLU(0.1),
            nn.Linear(8, 3),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ViewMLP(nn.Module):
    """x.view(batch, -1) -> Linear -> Tanh -> Linear -> Softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 10)
        self.fc2 = nn.Linear(10, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x.size(0) is traced as a shape computation, giving the
        # Shape -> Gather -> Unsqueeze -> Concat -> Reshape pattern.
        x = x.view(x.size(0), -1)
        x = torch.tanh(self.fc1(x))
        return torch.softmax(self.fc2(x), dim=-1)


class NormalizedMLP(nn.Module):
    """Input standardisation with constant buffers, Clip and an affine output."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.5, -1.0, 0.0, 2.0, -0.25, 1.0]))
        self.register_buffer("std", torch.tensor([1.5, 0.5, 2.0, 1.0, 0.75, 3.0]))
        self.fc1 = nn.Linear(6, 10)
        self.fc2 = nn.Linear(10, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        x = torch.clamp(self.fc1(x), min=-1.0, max=2.0)
        x = self.fc2(x) * 0.5 + 0.25
        return torch.softmax(x, dim=1)


class HardtanhMLP(nn.Module):
    """Linear -> ReLU -> Linear -> Hardtanh -> Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(5, 8),
            nn.ReLU(),
            nn.Linear(8, 8),
            nn.Hardtanh(),
            nn.Linear(8, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def torch_legacy_opset13() -> onnx.ModelProto:
    # Default exporter naming is kept on purpose (e.g. "onnx::Flatten_0").
    torch.manual_seed(TORCH_SEED)
    return _torch_legacy(LegacyMLP(), torch.randn(1, 2, 4), opset=13)


def _fix_dim_param(model: onnx.ModelProto, param: str, value: int) -> None:
    """Replace a symbolic dimension by a fixed size in all graph value infos.

    Same effect as onnxruntime's ``make_dynamic_shape_fixed`` tool.
    """
    graph = model.graph
    for value_info in (*graph.input, *graph.output, *graph.value_info):
        for dim in value_info.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param == param:
                dim.dim_value = value  # clears dim_param (oneof)


def torch_legacy_view_opset17() -> onnx.ModelProto:
    # With a fully static input the legacy exporter folds x.size(0) into a
    # Constant. Exporting with a dynamic batch axis keeps the
    # Shape -> Gather -> Unsqueeze -> Concat -> Reshape subgraph; the batch
    # axis is then pinned to 1 so the model has static shapes.
    torch.manual_seed(TORCH_SEED)
    model = _torch_legacy(
        ViewMLP(), torch.randn(1, 2, 4), opset=17, input_names=["input"], output_names=["probs"],
        dynamic_axes={"input": {0: "batch"}, "probs": {0: "batch"}},
    )
    _fix_dim_param(model, "batch", 1)
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    for op in ("Shape", "Gather", "Unsqueeze", "Concat", "Reshape"):
        assert op in ops, f"view() did not produce {op}: {ops}"
    return model


def torch_dynamo_opset18() -> onnx.ModelProto:
    torch.manual_seed(TORCH_SEED)
    return _torch_dynamo(NormalizedMLP(), torch.randn(1, 6), opset=18)


def torch_dynamo_opset20() -> onnx.ModelProto:
    torch.manual_seed(TORCH_SEED)
    return _torch_dynamo(HardtanhMLP(), torch.randn(1, 5), opset=20)


# ---------------------------------------------------------------------------
# Hand-built models (onnx.helper)
# ---------------------------------------------------------------------------


def keras_matmul_add() -> onnx.ModelProto:
    """Graph in the style of tf2onnx / keras2onnx output for a Dense stack.

    Dense layers are MatMul (W stored as [in, out]) + Add ("BiasAdd"),
    tensor names carry TensorFlow ":0" suffixes and the output goes through
    an Identity node, as in tf2onnx output.
    """
    rng = _rng("keras_matmul_add")
    n_in, n_hidden, n_out = 7, 9, 4
    w0 = _weights(rng, n_in, n_hidden, fan_in=n_in)
    b0 = _weights(rng, n_hidden, fan_in=n_in)
    w1 = _weights(rng, n_hidden, n_out, fan_in=n_hidden)
    b1 = _weights(rng, n_out, fan_in=n_hidden)

    d0, d1 = "sequential/dense", "sequential/dense_1"
    nodes = [
        helper.make_node("MatMul", ["dense_input", f"{d0}/MatMul/ReadVariableOp:0"],
                         [f"{d0}/MatMul:0"], name=f"{d0}/MatMul"),
        helper.make_node("Add", [f"{d0}/MatMul:0", f"{d0}/BiasAdd/ReadVariableOp:0"],
                         [f"{d0}/BiasAdd:0"], name=f"{d0}/BiasAdd"),
        helper.make_node("Relu", [f"{d0}/BiasAdd:0"], [f"{d0}/Relu:0"], name=f"{d0}/Relu"),
        helper.make_node("MatMul", [f"{d0}/Relu:0", f"{d1}/MatMul/ReadVariableOp:0"],
                         [f"{d1}/MatMul:0"], name=f"{d1}/MatMul"),
        helper.make_node("Add", [f"{d1}/MatMul:0", f"{d1}/BiasAdd/ReadVariableOp:0"],
                         [f"{d1}/BiasAdd:0"], name=f"{d1}/BiasAdd"),
        helper.make_node("Softmax", [f"{d1}/BiasAdd:0"], [f"{d1}/Softmax:0"],
                         name=f"{d1}/Softmax", axis=-1),
        helper.make_node("Identity", [f"{d1}/Softmax:0"], ["dense_1"], name="Identity"),
    ]
    inits = [
        _init(f"{d0}/MatMul/ReadVariableOp:0", w0),
        _init(f"{d0}/BiasAdd/ReadVariableOp:0", b0),
        _init(f"{d1}/MatMul/ReadVariableOp:0", w1),
        _init(f"{d1}/BiasAdd/ReadVariableOp:0", b1),
    ]
    graph = helper.make_graph(
        nodes, "sequential",
        [helper.make_tensor_value_info("dense_input", FLOAT, [1, n_in])],
        [helper.make_tensor_value_info("dense_1", FLOAT, [1, n_out])],
        initializer=inits,
    )
    return _helper_model(graph, opset=13)


def old_opset7() -> onnx.ModelProto:
    """Opset 7: Gemm with attributes, Reshape via shape initializers, Dropout.

    IR version 4 is used (valid for opset 7) so that initializers need not
    be repeated as graph inputs, which IR 3 would require.
    """
    rng = _rng("old_opset7")
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["fc1"], name="fc1",
                         alpha=1.0, beta=1.0, transB=1),
        helper.make_node("Relu", ["fc1"], ["relu1"], name="relu1"),
        helper.make_node("Reshape", ["relu1", "shape_1x2x3"], ["reshaped"], name="reshape_3d"),
        helper.make_node("Reshape", ["reshaped", "shape_1x6"], ["flat"], name="reshape_2d"),
        # Opset-7 Dropout: "ratio" attribute, optional mask output left unused.
        helper.make_node("Dropout", ["flat"], ["dropped", "dropout_mask"], name="dropout",
                         ratio=0.5),
        helper.make_node("Gemm", ["dropped", "fc2.weight", "fc2.bias"], ["fc2"], name="fc2",
                         alpha=0.5, beta=2.0, transB=0),
        helper.make_node("Softmax", ["fc2"], ["output"], name="softmax", axis=1),
    ]
    inits = [
        _init("fc1.weight", _weights(rng, 6, 4, fan_in=4)),  # [out, in], transB=1
        _init("fc1.bias", _weights(rng, 6, fan_in=4)),
        _init("shape_1x2x3", np.array([1, 2, 3], dtype=np.int64)),
        _init("shape_1x6", np.array([1, 6], dtype=np.int64)),
        _init("fc2.weight", _weights(rng, 6, 3, fan_in=6)),  # [in, out], transB=0
        _init("fc2.bias", _weights(rng, 3, fan_in=6)),
    ]
    graph = helper.make_graph(
        nodes, "old_opset7",
        [helper.make_tensor_value_info("input", FLOAT, [1, 4])],
        [helper.make_tensor_value_info("output", FLOAT, [1, 3])],
        initializer=inits,
    )
    return _helper_model(graph, opset=7, ir_version=4)


def old_opset9() -> onnx.ModelProto:
    """Opset 9: attribute forms of Clip/Unsqueeze/Squeeze, MatMul + Add, Sub, Mul."""
    rng = _rng("old_opset9")
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["fc1"], name="fc1",
                         transB=1),
        helper.make_node("Clip", ["fc1"], ["clipped"], name="clip", min=-0.5, max=1.5),
        helper.make_node("Unsqueeze", ["clipped"], ["unsq"], name="unsqueeze", axes=[1]),
        helper.make_node("Squeeze", ["unsq"], ["sq"], name="squeeze", axes=[1]),
        helper.make_node("Flatten", ["sq"], ["flat"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat", "fc2.weight"], ["mm"], name="fc2_matmul"),
        helper.make_node("Add", ["mm", "fc2.bias"], ["fc2"], name="fc2_add"),
        helper.make_node("Tanh", ["fc2"], ["tanh"], name="tanh"),
        helper.make_node("Sub", ["tanh", "offset"], ["centered"], name="sub_offset"),
        helper.make_node("Mul", ["centered", "scale"], ["output"], name="mul_scale"),
    ]
    inits = [
        _init("fc1.weight", _weights(rng, 6, 5, fan_in=5)),  # [out, in], transB=1
        _init("fc1.bias", _weights(rng, 6, fan_in=5)),
        _init("fc2.weight", _weights(rng, 6, 3, fan_in=6)),  # [in, out]
        _init("fc2.bias", _weights(rng, 3, fan_in=6)),
        _init("offset", np.array([0.1, -0.2, 0.3], dtype=np.float32)),
        _init("scale", np.array(1.75, dtype=np.float32)),  # scalar, shape []
    ]
    graph = helper.make_graph(
        nodes, "old_opset9",
        [helper.make_tensor_value_info("input", FLOAT, [1, 5])],
        [helper.make_tensor_value_info("output", FLOAT, [1, 3])],
        initializer=inits,
    )
    return _helper_model(graph, opset=9)


# ---------------------------------------------------------------------------
# Inputs the importer must reject (valid ONNX except the truncated one)
# ---------------------------------------------------------------------------


def dynamic_batch() -> onnx.ModelProto:
    """Gemm + Relu whose batch axis is symbolic ("batch"): compiled as batch 1, with a warning."""
    rng = _rng("bad_dynamic_batch")
    nodes = [
        helper.make_node("Gemm", ["input", "fc.weight", "fc.bias"], ["fc"], name="fc", transB=1),
        helper.make_node("Relu", ["fc"], ["output"], name="relu"),
    ]
    inits = [
        _init("fc.weight", _weights(rng, 6, 4, fan_in=4)),
        _init("fc.bias", _weights(rng, 6, fan_in=4)),
    ]
    graph = helper.make_graph(
        nodes, "bad_dynamic_batch",  # the name it was written with
        [helper.make_tensor_value_info("input", FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("output", FLOAT, ["batch", 6])],
        initializer=inits,
    )
    return _helper_model(graph, opset=13)


def bad_dynamic_features() -> onnx.ModelProto:
    """Gemm + Relu whose feature axis is symbolic ("features"): rejected."""
    rng = _rng("bad_dynamic_features")
    nodes = [
        helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["fc"], name="fc", transB=1),
        helper.make_node("Relu", ["fc"], ["y"], name="relu"),
    ]
    inits = [
        _init("fc.weight", _weights(rng, 6, 4, fan_in=4)),
        _init("fc.bias", _weights(rng, 6, fan_in=4)),
    ]
    graph = helper.make_graph(
        nodes, "bad_dynamic_features",
        [helper.make_tensor_value_info("x", FLOAT, [1, "features"])],
        [helper.make_tensor_value_info("y", FLOAT, [1, 6])],
        initializer=inits,
    )
    return _helper_model(graph, opset=13)


def bad_unsupported_op() -> onnx.ModelProto:
    """Gemm -> Sin -> Gemm; Sin (node "node_sin") is not supported."""
    rng = _rng("bad_unsupported_op")
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["fc1"], name="fc1",
                         transB=1),
        helper.make_node("Sin", ["fc1"], ["sin"], name="node_sin"),
        helper.make_node("Gemm", ["sin", "fc2.weight", "fc2.bias"], ["output"], name="fc2",
                         transB=1),
    ]
    inits = [
        _init("fc1.weight", _weights(rng, 6, 4, fan_in=4)),
        _init("fc1.bias", _weights(rng, 6, fan_in=4)),
        _init("fc2.weight", _weights(rng, 2, 6, fan_in=6)),
        _init("fc2.bias", _weights(rng, 2, fan_in=6)),
    ]
    graph = helper.make_graph(
        nodes, "bad_unsupported_op",
        [helper.make_tensor_value_info("input", FLOAT, [1, 4])],
        [helper.make_tensor_value_info("output", FLOAT, [1, 2])],
        initializer=inits,
    )
    return _helper_model(graph, opset=13)


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

# Valid models: written with a matching .npz of samples and reference outputs.
VALID = {
    "torch_legacy_opset13": torch_legacy_opset13,
    "torch_legacy_view_opset17": torch_legacy_view_opset17,
    "torch_dynamo_opset18": torch_dynamo_opset18,
    "torch_dynamo_opset20": torch_dynamo_opset20,
    "keras_matmul_add": keras_matmul_add,
    "old_opset7": old_opset7,
    "old_opset9": old_opset9,
}

# Well-formed ONNX without samples: the importer rejects it, or (dynamic_batch) warns.
BAD = {
    "dynamic_batch": dynamic_batch,
    "bad_dynamic_features": bad_dynamic_features,
    "bad_unsupported_op": bad_unsupported_op,
}

TRUNCATE_SOURCE = "torch_legacy_opset13"  # model cut short for bad_truncated.onnx
TRUNCATE_FRACTION = 0.6


def _describe(path: Path) -> str:
    model = onnx.load(str(path))
    opsets = ", ".join(f"{o.domain or 'ai.onnx'}={o.version}" for o in model.opset_import)
    ops = " ".join(n.op_type for n in model.graph.node)
    funcs = f"  local functions: {[f.name for f in model.functions]}" if model.functions else ""
    return f"{path.name}: ir_version={model.ir_version} opset[{opsets}]\n    ops: {ops}{funcs}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)

    for name, build in {**VALID, **BAD}.items():
        path = out / f"{name}.onnx"
        onnx.save(build(), str(path))
        _session(path)  # every well-formed fixture must load in onnxruntime
        if name in VALID:
            _write_samples(path)
        print(_describe(path))

    source = (out / f"{TRUNCATE_SOURCE}.onnx").read_bytes()
    truncated = out / "bad_truncated.onnx"
    truncated.write_bytes(source[: int(len(source) * TRUNCATE_FRACTION)])
    print(f"{truncated.name}: first {len(source) * TRUNCATE_FRACTION:.0f} of {len(source)} bytes "
          f"of {TRUNCATE_SOURCE}.onnx")


if __name__ == "__main__":
    main()

"""Transformers end to end: attention (activation MatMuls, Softmax), LayerNormalization, the
head split of PyTorch's exporter; RTL bit-exact with the emulator, the emulator close to
onnxruntime (expected values from onnxruntime only)."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import rtlflow
from rtlflow.dialects import circuit, fxp
from rtlflow.errors import RtlflowError
from rtlflow.sim.runner import run_testbench
from tests.conftest import DATA
from tests.e2e import models, transformer_models
from tests.e2e.test_end_to_end import ABSOLUTE, RELATIVE, model_inputs


def check(model, directory, samples: int = 60, **options) -> dict:
    """Compile; emulator within the end-to-end bound of onnxruntime on 200 inputs; RTL
    bit-exact on ``samples`` of them with the reported latency."""
    compiled = rtlflow.compile(model, **options)
    inputs = model_inputs(model, 200)
    emulated = compiled.predict(inputs)
    reference = models.onnxruntime_outputs(model, inputs)[0].reshape(emulated.shape)
    error = np.abs(emulated - reference)
    assert np.all(error <= ABSOLUTE + RELATIVE * np.abs(reference)), error.max()
    report = compiled.write(directory, inputs={k: v[:samples] for k, v in inputs.items()})
    result = run_testbench(directory, gaps=0.25)
    assert result.samples == samples
    assert result.mismatches == 0 and result.missing == 0, result.details["first_mismatches"]
    assert result.latency_cycles == [report["latency_cycles"]]
    return report


@pytest.mark.slow  # minutes of Verilator: attention, softmax and layer norm have quicker tests
@pytest.mark.parametrize(("reuse", "ii"), [(1, 1), (3, 4)])
def test_transformer_encoder_two_layers_four_heads(reuse, ii, tmp_path):
    """nn.TransformerEncoder(nn.TransformerEncoderLayer(d_model=16, nhead=4,
    dim_feedforward=32), num_layers=2) as the exporter writes it, on 6 tokens. With reuse
    factor 3 each attention (scores, softmax, mixing) folds as one unit, one head per phase
    (4 phases: II 4), layer norms their rows in 3 phases, the dense layers their tokens (two
    per phase, each through the layer's adder graph)."""
    report = check(transformer_models.transformer_encoder(), tmp_path, reuse_factor=reuse)
    ops = [layer["op"] for layer in report["layers"]]
    assert ops.count("layer_norm") == 4
    if reuse == 1:
        assert ops.count("softmax") == 2
        assert ops.count("matmul") == 4  # scores and mixing, per layer
    else:
        assert ops.count("attention") == 2 and "softmax" not in ops and "matmul" not in ops
    assert report["initiation_interval"] == ii


def attention_core(tokens: int, d: int, heads: int) -> onnx.ModelProto:
    """softmax(q @ k) @ v of run-time q [1, heads, tokens, d], k [1, heads, d, tokens] and
    v [1, heads, tokens, d]."""
    shapes = {"q": [1, heads, tokens, d], "k": [1, heads, d, tokens], "v": [1, heads, tokens, d]}
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["q", "k"], ["s"], name="scores"),
            helper.make_node("Softmax", ["s"], ["p"], axis=-1, name="softmax"),
            helper.make_node("MatMul", ["p", "v"], ["y"], name="mix"),
        ],
        "attention_core",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shapes["v"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize(
    ("tokens", "heads", "reuse", "phases"),
    [
        (8, 2, 4, 4),  # two rows of one head a phase
        (4, 1, 2, 2),  # the phases far fewer than the unit's cycles: v delayed over many
        pytest.param(8, 2, 16, 16, marks=pytest.mark.slow),  # an encoder layer, a row a phase
    ],
)
def test_folded_attention_is_one_unit(tokens, heads, reuse, phases, tmp_path):
    """With a reuse factor, softmax(q @ k) @ v is one unit: each phase's query rows go through
    the scores, the softmax and the mixing, and the score matrix is never whole (no unit's port
    carries it); II = the phases. Bit-exact under idle cycles at the reported latency, within
    the end-to-end bound of onnxruntime."""
    model = (
        transformer_models.transformer_encoder(
            tokens=tokens, d=8, heads=heads, feedforward=16, layers=1
        )
        if reuse == 16
        else attention_core(tokens, 3, heads)
    )
    compiled = rtlflow.compile(model, reuse_factor=reuse)
    (unit,) = [op for op in compiled.levels["circuit"].walk()
               if isinstance(op, circuit.UnitOp) and len(op.ops) > 1]  # fmt: skip
    assert [op.name for op in unit.ops] == ["fxp.matmul", "fxp.softmax", "fxp.matmul"]
    ports = {tuple(fxp.tensor_shape(v)) for op in compiled.levels["circuit"].walk()
             if isinstance(op, circuit.UnitOp) for v in [*op.inputs, *op.outputs]}  # fmt: skip
    assert (1, heads, tokens, tokens) not in ports  # the scores
    report = check(model, tmp_path, samples=40, reuse_factor=reuse)
    (layer,) = [layer for layer in report["layers"] if layer["op"] == "attention"]
    assert layer["fused"] == [op.node_name for op in unit.ops]
    assert layer["ii"] == phases == report["initiation_interval"]


@pytest.mark.parametrize("reuse", [1, 2])
def test_rows_nobody_reads_are_not_built(reuse, tmp_path):
    """An encoder layer whose output is token 0 alone: its feed-forward layers, layer norms and
    attention rows (softmax, both matmuls) are built for that one token, the keys and values
    for all three; bit-exact with the reported latency, within the end-to-end bound of
    onnxruntime."""
    model = transformer_models.transformer_encoder(
        tokens=3, d=8, heads=2, feedforward=16, layers=1, pool=True
    )
    fxp_level = rtlflow.compile(model, stop_at="fxp", reuse_factor=reuse).levels["fxp"]
    rows = {}
    for op in fxp_level.walk():
        if isinstance(op, fxp.SoftmaxOp | fxp.LayerNormOp | fxp.DenseOp | fxp.MatMulOp):
            shape = fxp.tensor_shape(op.operands[0])
            rows.setdefault(op.name, []).append(math.prod(shape[:-1]))
    assert rows["fxp.layer_norm"] == [1, 1]
    assert rows["fxp.softmax"] == [2]  # one query row per head
    assert rows["fxp.matmul"] == [2, 2]
    assert rows["fxp.dense"] == [3, 1, 1, 1]  # the packed q, k, v projection reads every token
    full = rtlflow.compile(
        transformer_models.transformer_encoder(tokens=3, d=8, heads=2, feedforward=16, layers=1),
        reuse_factor=reuse,
    ).write(tmp_path / "full", vectors=2)
    report = check(model, tmp_path / "pooled", samples=40, reuse_factor=reuse)
    assert report["resources"]["lut"] < 0.6 * full["resources"]["lut"]


def test_mean_pooled_encoder_compiles_with_defaults(tmp_path):
    """An encoder layer whose head mean-pools the tokens (``h.mean(1)``, ReduceMean over the
    token axis) into a classifier: default options, bit-exact at the reported latency, within
    the end-to-end bound of onnxruntime."""
    model = transformer_models.transformer_encoder(
        tokens=4, d=8, heads=2, feedforward=16, layers=1, pool="mean"
    )
    report = check(model, tmp_path, samples=40)
    assert "pool" in [layer["op"] for layer in report["layers"]]


def layer_norm_model(shape, axis: int, bias: bool):
    rng = np.random.default_rng(2)
    normalised = shape[axis:]
    scale = helper.make_tensor("scale", TensorProto.FLOAT, normalised,
                               rng.normal(1, 0.3, normalised).reshape(-1).tolist())
    inputs = ["x", "scale"]
    initializers = [scale]
    if bias:
        initializers.append(helper.make_tensor("bias", TensorProto.FLOAT, normalised,
                                               rng.normal(0, 0.3, normalised).reshape(-1).tolist()))
        inputs.append("bias")
    node = helper.make_node("LayerNormalization", inputs, ["y"], axis=axis, epsilon=1e-3)
    graph = helper.make_graph(
        [node], "layer_norm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize(("shape", "axis", "bias"), [([1, 3, 5], -1, True), ([1, 2, 3, 4], -2, False)])
def test_layer_normalization(shape, axis, bias, tmp_path):
    """Rows of 5 (not a power of two) and normalisation over two axes, without bias; rows of
    every variance (the 1/sqrt table is read in block floating point), nearly constant rows too."""
    check(layer_norm_model(shape, axis, bias), tmp_path)


# ---- the seed transformer jet tagger on 16 high-level features ----------------------------------


def test_jet_transformer_hlf_argmax_agreement():
    data = np.load(DATA / "models" / "jet_transformer_hlf.npz")
    compiled = rtlflow.compile(DATA / "models" / "jet_transformer_hlf.onnx", stop_at="fxp")
    probabilities = compiled.predict({"x": data["x"]})
    reference = data["ref_probs"].reshape(probabilities.shape)
    assert np.mean(probabilities.argmax(-1) == reference.argmax(-1)) >= 0.99
    assert np.abs(probabilities - reference).max() < 0.05


@pytest.mark.slow
def test_jet_transformer_hlf_rtl_500_samples(tmp_path):
    data = np.load(DATA / "models" / "jet_transformer_hlf.npz")
    compiled = rtlflow.compile(DATA / "models" / "jet_transformer_hlf.onnx")
    report = compiled.write(tmp_path, inputs={"x": data["x"][:500]})
    result = run_testbench(tmp_path)
    assert result.samples == 500 and result.mismatches == 0 and result.missing == 0
    assert result.latency_cycles == [report["latency_cycles"]]


def attention_forms_model():
    """Einsum attention (``bqhc,bkhc->bhqk`` and back), Softmax over a middle axis, Slice,
    Split and Erf, as other exporters and hand-written models use them."""
    g = models.Graph("attention_forms", {"x": [1, 4, 2, 3]}, seed=9)
    x = g.node("Mul", ["x", g.constant(np.array(0.25))])  # scores stay inside fixed<16,6>
    keys = g.node("Slice", [x, g.constant(np.array([1])), g.constant(np.array([4])),
                            g.constant(np.array([1]))])  # [1, 3, 2, 3]
    scores = g.node("Einsum", [x, keys], equation="bqhc,bkhc->bhqk")  # [1, 2, 4, 3]
    weights = g.node("Softmax", [scores], axis=2)
    mixed = g.node("Einsum", [weights, keys], equation="bhqk,bkhc->bqhc")  # [1, 4, 2, 3]
    g.count += 1
    first, rest = f"split_{g.count}_a", f"split_{g.count}_b"
    g.nodes.append(helper.make_node("Split", [mixed, g.constant(np.array([1, 2]))],
                                    [first, rest], axis=3, name="split"))
    return g.model({"y": g.node("Concat", [first, g.node("Erf", [rest])], axis=3)})


def test_einsum_softmax_axis_slice_split_erf(tmp_path):
    report = check(attention_forms_model(), tmp_path)
    ops = [layer["op"] for layer in report["layers"]]
    assert ops.count("matmul") == 2 and "softmax" in ops and "table" in ops


@pytest.mark.parametrize("opset", [17, 18])
def test_decomposed_layer_norm_becomes_one_layer(opset):
    """ReduceMean / Sub / Pow / ReduceMean / Add / Sqrt / Div, then Mul and Add by the scale and
    bias, as older exporters write LayerNorm: one nn.layer_norm, close to onnxruntime."""
    rng = np.random.default_rng(4)
    g = models.Graph("decomposed_layer_norm", {"x": [1, 3, 8]}, seed=4)

    def mean(value):
        if opset >= 18:
            return g.node("ReduceMean", [value, g.constant(np.array([-1]))], keepdims=1)
        return g.node("ReduceMean", [value], axes=[-1], keepdims=1)

    centred = g.node("Sub", ["x", mean("x")])
    variance = mean(g.node("Pow", [centred, g.constant(np.array(2.0))]))
    root = g.node("Sqrt", [g.node("Add", [variance, g.constant(np.array(1e-5))])])
    normalised = g.node("Div", [centred, root])
    scaled = g.node("Mul", [normalised, g.constant(rng.normal(1, 0.2, 8))])
    model = g.model({"y": g.node("Add", [scaled, g.constant(rng.normal(0, 0.2, 8))])}, opset)
    compiled = rtlflow.compile(model, stop_at="fxp")
    function = next(iter(compiled.levels["nn"].ops))
    ops = [op.name for op in function.body.block.ops if op.name != "func.return"]
    assert ops == ["nn.layer_norm"]
    inputs = model_inputs(model, 200)
    emulated = compiled.predict(inputs)
    reference = models.onnxruntime_outputs(model, inputs)[0].reshape(emulated.shape)
    assert np.all(np.abs(emulated - reference) <= ABSOLUTE + RELATIVE * np.abs(reference))


@pytest.mark.parametrize(("a", "b"), [([4, 3], [2, 3, 4]), ([2, 4, 3], [3, 4]), ([3], [2, 3, 4])])
def test_activation_matmul_broadcasts_like_numpy(a, b):
    """Operands of different ranks (and 1-D ones) broadcast as ONNX MatMul says, in the float
    nn level and in the emulator."""
    g = models.Graph("matmul_ranks", {"a": a, "b": b})
    model = g.model({"y": g.node("MatMul", ["a", "b"])})
    inputs = {name: value * 0.5 for name, value in model_inputs(model, 5).items()}
    compiled = rtlflow.compile(model, stop_at="fxp")
    emulated = compiled.predict(inputs)
    reference = models.onnxruntime_outputs(model, inputs)[0].reshape(emulated.shape)
    assert np.all(np.abs(emulated - reference) <= ABSOLUTE + RELATIVE * np.abs(reference))


def test_einsum_indices_are_case_sensitive():
    g = models.Graph("einsum_case", {"a": [2, 3], "b": [3, 4]})
    model = g.model({"y": g.node("Einsum", ["a", "b"], equation="ij,Jk->iJk")}, 12)
    with pytest.raises(rtlflow.RtlflowError, match="summed in one operand only"):
        rtlflow.compile(model, stop_at="nn")


def test_64_token_attention_folds_instead_of_being_refused():
    """One encoder layer over 64 tokens (2 heads of 8): unfolded, its score matrix (131,072
    bits) is wider than a port, refused at once with the advice to fold it; folded by R = 64
    it passes the circuit level as one attention unit of 64 phases."""
    model = transformer_models.transformer_encoder(
        tokens=64, d=16, heads=2, feedforward=32, layers=1
    )
    with pytest.raises(RtlflowError, match="131,072 bits wide") as error:
        rtlflow.compile(model, stop_at="circuit")
    assert "reuse factor R > 1" in str(error.value)
    compiled = rtlflow.compile(model, reuse_factor=64, stop_at="circuit")
    (unit,) = [op for op in compiled.levels["circuit"].walk()
               if isinstance(op, circuit.UnitOp) and len(op.ops) > 1]  # fmt: skip
    assert unit.ii.value.data == 64


def test_attention_folded_with_different_reuse_factors_stays_apart_and_says_why():
    """The 64-token layer with R = 64 everywhere but its softmax (R = 32 by the per-layer
    configuration): the three do not fold together, and the refusal of the score matrix says
    what would."""
    model = transformer_models.transformer_encoder(
        tokens=64, d=16, heads=2, feedforward=32, layers=1
    )
    config = {"layers": {"n39_Softmax": {"reuse_factor": 32}}}
    with pytest.raises(RtlflowError, match="131,072 bits wide") as error:
        rtlflow.compile(model, reuse_factor=64, config=config, stop_at="circuit")
    assert "only with the same reuse factor" in str(error.value)


def test_q_and_k_scalings_fold_into_the_projection():
    """The exporter's q and k scalings by head_dim^-1/4, after the packed projection's reshapes
    and gathers, become part of the projection's weights (``nn-fold-affine``): no constant
    product on every element of q and k; the emulator stays within the end-to-end bound of
    onnxruntime."""
    model = transformer_models.transformer_encoder(tokens=3, d=8, heads=2, feedforward=16, layers=1)
    assert sum(node.op_type == "Mul" for node in model.graph.node) == 2
    compiled = rtlflow.compile(model)
    assert "nn.scale_shift" not in compiled.ir("nn")
    x = np.random.default_rng(4).normal(0, 1, (40, 1, 3, 8)).astype(np.float32)
    (reference,) = models.onnxruntime_outputs(model, {"x": x})
    emulated = compiled.predict({"x": x}).reshape(reference.shape)
    assert np.all(np.abs(emulated - reference) <= ABSOLUTE + RELATIVE * np.abs(reference))

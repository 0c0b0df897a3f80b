"""Fidelity: how far the hardware's numbers (the bit-exact emulator) are from the float model.

``compare`` runs the tensor-level float model (the ONNX semantics, checked against
onnxruntime by the tests) and the emulator on the same data, and reports per output the largest
and mean absolute error and, for vectors, how often both pick the same largest element; with
labels, the accuracy (class labels) or R² (continuous labels) of both, and the ROC AUC of binary
scores; per layer, the error of every layer's result, so a user sees where precision is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp

from rtlflow.dialects import fxp, nn
from rtlflow.sim.emulator import Emulator
from rtlflow.sim.nn_interpreter import run_nn

if TYPE_CHECKING:
    from rtlflow.api import CompiledModel


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (rank statistic, ties counted half); None without both classes."""
    scores, labels = np.asarray(scores, np.float64).reshape(-1), np.asarray(labels).reshape(-1) > 0
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores[order]):  # average ranks of ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _quality(values: np.ndarray, labels: np.ndarray | None) -> dict[str, float]:
    """Accuracy / AUC / R² of one output against labels, where they apply."""
    if labels is None:
        return {}
    flat = values.reshape(len(values), -1)
    labels = np.asarray(labels)
    result: dict[str, float] = {}
    if labels.reshape(len(labels), -1).shape == flat.shape and np.issubdtype(labels.dtype, np.floating):
        truth = labels.reshape(flat.shape)
        if np.all(np.isin(truth, (0.0, 1.0))):  # binary labels: one per sample or per element
            auc = roc_auc(flat, truth)
            if auc is not None:
                result["auc"] = auc
            return result
        residual = ((flat - truth) ** 2).sum(axis=0)
        total = ((truth - truth.mean(axis=0)) ** 2).sum(axis=0)
        result["r2"] = float(np.mean(1 - residual / np.where(total > 0, total, 1)))
        return result
    classes = labels.reshape(len(labels), -1)
    if classes.shape[1] == 1 and flat.shape[1] > 1:  # class indices
        index = classes[:, 0].astype(np.int64)
        result["accuracy"] = float(np.mean(flat.argmax(axis=1) == index))
        aucs = [roc_auc(flat[:, c], index == c) for c in range(flat.shape[1])]
        aucs = [a for a in aucs if a is not None]
        if aucs:
            result["auc"] = float(np.mean(aucs))  # one class against the rest, averaged
    elif classes.shape == flat.shape and flat.shape[1] > 1:  # one-hot
        result["accuracy"] = float(np.mean(flat.argmax(axis=1) == classes.argmax(axis=1)))
    elif flat.shape[1] == 1 or classes.shape == flat.shape:  # binary scores per element
        auc = roc_auc(flat, classes.reshape(flat.shape))
        if auc is not None:
            result["auc"] = auc
    return result


def every_result(module: ModuleOp, kinds: tuple[type, ...]) -> tuple[ModuleOp, list]:
    """A clone whose function returns the result of every op of ``kinds`` (constants aside),
    and those ops: running it shows every intermediate tensor."""
    module = module.clone()
    function = next(op for op in module.ops if isinstance(op, func.FuncOp))
    block = function.body.block
    ops = [
        op
        for op in block.ops
        if isinstance(op, kinds) and op.results and not isinstance(op, nn.ConstantOp)
    ]
    returned = block.last_op
    assert isinstance(returned, func.ReturnOp)
    returned.operands = [op.results[0] for op in ops]
    function.update_function_type()
    return module, ops


def value_range(values: np.ndarray) -> dict[str, float | None]:
    """The smallest and largest value, and the smallest magnitude that is not zero (None when
    all are zero): what a fixed-point format must hold, at its top and at its LSB."""
    values = np.asarray(values, np.float64).reshape(-1)
    magnitudes = np.abs(values[values != 0])
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "abs_min_nonzero": float(magnitudes.min()) if magnitudes.size else None,
    }


def layer_errors(compiled: CompiledModel, samples: list[np.ndarray]) -> list[dict[str, Any]]:
    """Per layer (node), the emulated result against the float one: max and mean error, and the
    range of both (``value_range``)."""
    float_module, float_ops = every_result(compiled.levels["nn"], (nn.NnOp,))
    float_values = run_nn(float_module, samples)
    by_node = {op.node_name: value for op, value in zip(float_ops, float_values, strict=True)}
    fixed_module, fixed_ops = every_result(compiled.levels["fxp"], (fxp.FxpOp, fxp.MultiInputOp))
    emulator = Emulator(fixed_module)
    raw_inputs, _ = compiled.emulator.quantize_inputs(samples)  # type: ignore[union-attr]
    fixed_values = emulator.run_raw(raw_inputs)
    rows, seen = [], set()
    for op, raw in zip(fixed_ops, fixed_values, strict=True):
        reference = by_node.get(op.node_name)
        if reference is None or op.node_name in seen or fxp.CARRIED in op.attributes:
            continue
        value = fxp.tensor_format(op.output).to_float(raw)
        if value.size != reference.size:
            continue
        seen.add(op.node_name)
        error = np.abs(value.reshape(-1) - reference.reshape(-1))
        rows.append({
            "layer": op.node_name,
            "op": op.name.removeprefix("fxp."),
            "format": str(fxp.tensor_format(op.output)),
            "max_error": float(error.max()),
            "mean_error": float(error.mean()),
            "range": value_range(value),
            "float_range": value_range(reference),
        })
    return rows


def compare(
    compiled: CompiledModel,
    samples: list[np.ndarray],
    labels: np.ndarray | None = None,
    per_layer: bool = True,
) -> dict[str, Any]:
    """Emulator against the float model on ``samples`` (model input order, samples first)."""
    reference = run_nn(compiled.levels["nn"], samples)
    emulated = compiled.emulator.predict(samples)  # type: ignore[union-attr]
    outputs = []
    for name, ours, theirs in zip(compiled.output_names, emulated, reference, strict=True):
        theirs = np.asarray(theirs).reshape(ours.shape)
        error = np.abs(ours - theirs)
        entry: dict[str, Any] = {
            "output": name,
            "max_error": float(error.max()),
            "mean_error": float(error.mean()),
        }
        flat_ours, flat_theirs = ours.reshape(len(ours), -1), theirs.reshape(len(theirs), -1)
        if flat_ours.shape[1] > 1:
            entry["argmax_agreement"] = float(
                np.mean(flat_ours.argmax(axis=1) == flat_theirs.argmax(axis=1))
            )
        only_output = len(compiled.output_names) == 1
        if labels is not None and only_output:
            entry["emulated"] = _quality(ours, labels)
            entry["float"] = _quality(theirs, labels)
        outputs.append(entry)
    result: dict[str, Any] = {"samples": int(len(samples[0])), "outputs": outputs}
    if per_layer:
        result["layers"] = layer_errors(compiled, samples)
    return result

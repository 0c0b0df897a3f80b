"""ONNX import, element-wise operators: arithmetic with broadcasting, activations, casts, and the
operators that vanish at inference (Identity, Dropout)."""

from __future__ import annotations

import math

import numpy as np
import onnx
from xdsl.dialects.builtin import FloatAttr, IntegerType, f64

from rtlflow.dialects import nn
from rtlflow.frontend.importer import FLOAT_TYPES, INT_TYPES, Importer, handles
from rtlflow.frontend.quantizers import clip_integers


@handles("Identity", "Dropout")
def _identity(im: Importer, node: onnx.NodeProto) -> None:
    if node.op_type == "Dropout":
        if len(node.input) > 2 and node.input[2]:
            training = im.constant(node.input[2], "Dropout's training_mode")
            if bool(np.asarray(training).reshape(-1)[0]):
                im.fail("Dropout in training mode cannot be built as hardware")
        if len(node.output) > 1 and node.output[1]:
            im.constants[node.output[1]] = np.ones(
                nn.shape_of(im.activation(node.input[0])), dtype=bool
            )
    im.alias(node, node.input[0])


_BINARY = {"Add": nn.AddOp, "Sub": nn.SubOp, "Mul": nn.MulOp, "Div": nn.DivOp}


@handles(*_BINARY)
def _binary(im: Importer, node: onnx.NodeProto) -> None:
    if im.opset < 7 or im.attribute(node, "broadcast") is not None:
        im.fail("legacy broadcasting (opset < 7) is not supported")
    lhs, rhs = im.activation(node.input[0]), im.activation(node.input[1])
    try:
        shape = np.broadcast_shapes(nn.shape_of(lhs), nn.shape_of(rhs))
    except ValueError:
        im.fail(f"operands {list(nn.shape_of(lhs))} and {list(nn.shape_of(rhs))} do not broadcast")
    im.define(node, _BINARY[node.op_type](lhs, rhs, im.float_tensor(shape), im.node_name).output)


_UNARY = {
    "Relu": nn.ReluOp,
    "Abs": nn.AbsOp,
    "Sigmoid": nn.SigmoidOp,
    "Tanh": nn.TanhOp,
    "Erf": nn.ErfOp,
    "Exp": nn.ExpOp,
    "Softplus": nn.SoftplusOp,
}


@handles(*_UNARY)
def _unary(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    im.define(node, _UNARY[node.op_type](x, x.type, im.node_name).output)


@handles("LeakyRelu")
def _leaky_relu(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    alpha = FloatAttr(float(im.attribute(node, "alpha", 0.01)), f64)
    im.define(node, nn.LeakyReluOp(x, x.type, im.node_name, alpha=alpha).output)


@handles("HardSigmoid")
def _hard_sigmoid(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    alpha = FloatAttr(float(im.attribute(node, "alpha", 0.2)), f64)
    beta = FloatAttr(float(im.attribute(node, "beta", 0.5)), f64)
    im.define(node, nn.HardSigmoidOp(x, x.type, im.node_name, alpha=alpha, beta=beta).output)


#: ONNX's defaults: Selu's alpha and gamma (float32), Elu's alpha
_ELU_DEFAULTS = {
    "Elu": (1.0, 1.0),
    "Selu": (1.67326319217681884765625, 1.05070102214813232421875),
}


@handles(*_ELU_DEFAULTS)
def _elu(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    alpha, gamma = _ELU_DEFAULTS[node.op_type]
    alpha = float(im.attribute(node, "alpha", alpha))
    gamma = float(im.attribute(node, "gamma", gamma))
    properties = {"alpha": FloatAttr(alpha, f64), "gamma": FloatAttr(gamma, f64)}
    im.define(node, nn.EluOp(x, x.type, im.node_name, **properties).output)


@handles("HardSwish")
def _hard_swish(im: Importer, node: onnx.NodeProto) -> None:
    """``x * HardSigmoid(x)`` with alpha 1/6, beta 1/2: an element-wise product."""
    x = im.activation(node.input[0])
    gate = nn.HardSigmoidOp(
        x, x.type, im.node_name, alpha=FloatAttr(1 / 6, f64), beta=FloatAttr(0.5, f64)
    )
    im.define(node, nn.MulOp(x, gate.output, x.type, im.node_name).output)


@handles("Gelu")
def _gelu(im: Importer, node: onnx.NodeProto) -> None:
    """``x * Φ(x)``: Φ(x) = (1 + erf(x / √2)) / 2, or with ``approximate="tanh"``
    (1 + tanh(√(2/π) (x + 0.044715 x³))) / 2; the products of activations are element-wise
    products, the constant scales scale-and-shifts."""
    x = im.activation(node.input[0])
    name = im.node_name

    def affine(value, scale: float, shift: float = 0.0):
        return nn.ScaleShiftOp.from_arrays(value, scale, shift, name).output

    approximate = im.attribute(node, "approximate", b"none")
    if approximate in (b"tanh", "tanh"):
        cube = nn.MulOp(nn.MulOp(x, x, x.type, name).output, x, x.type, name).output
        inner = nn.AddOp(x, affine(cube, 0.044715), x.type, name).output
        half = nn.TanhOp(affine(inner, math.sqrt(2 / math.pi)), x.type, name).output
    else:
        half = nn.ErfOp(affine(x, math.sqrt(0.5)), x.type, name).output
    im.define(node, nn.MulOp(x, affine(half, 0.5, 0.5), x.type, name).output)


@handles("Where")
def _where(im: Importer, node: onnx.NodeProto) -> None:
    """A condition known at compile time (a constant mask): each branch scaled by the mask or
    its complement and the two added (a constant branch is a shift), exact."""
    condition, first, second = node.input[:3]
    if not im.is_constant(condition):
        im.fail("Where with a condition computed at run time is not supported (a constant one is)")
    branches = [name for name in (first, second) if not im.is_constant(name)]
    if not branches:
        im.fail("Where of two constants should have been folded")
    shape = np.broadcast_shapes(
        *(np.shape(im.constants[n]) if im.is_constant(n) else nn.shape_of(im.activation(n))
          for n in node.input[:3])
    )  # fmt: skip
    mask = np.broadcast_to(np.asarray(im.constants[condition], dtype=bool), shape)
    terms = []
    constant = np.zeros(shape)
    for name, keep in ((first, mask), (second, ~mask)):
        if im.is_constant(name):
            constant = constant + np.where(keep, np.broadcast_to(im.constants[name], shape), 0.0)
            continue
        x = im.activation(name)
        if nn.shape_of(x) != shape:
            im.fail(f"the branch '{name}' would broadcast to {list(shape)}")
        terms.append(nn.ScaleShiftOp.from_arrays(x, keep.astype(np.float64), 0.0, im.node_name))
    total = terms[0].output
    if len(terms) == 2:
        total = nn.AddOp(total, terms[1].output, total.type, im.node_name).output
    if np.any(constant):
        total = nn.ScaleShiftOp.from_arrays(total, 1.0, constant, im.node_name).output
    im.define(node, total)


@handles("Clip")
def _clip(im: Importer, node: onnx.NodeProto) -> None:
    if im.opset < 11:
        low, high = im.attribute(node, "min"), im.attribute(node, "max")
    else:
        low, high = (
            float(np.asarray(im.constant(name, "Clip's bound")).reshape(-1)[0]) if name else None
            for name in (list(node.input[1:3]) + ["", ""])[:2]
        )
    if any(bound is not None and math.isnan(bound) for bound in (low, high)):
        im.fail(f"a bound is NaN (min {low}, max {high})")
    if low == math.inf or high == -math.inf:
        im.fail(f"the bounds (min {low}, max {high}) leave no finite result")
    # an infinite bound is no bound
    low = None if low is None or math.isinf(low) else float(low)
    high = None if high is None or math.isinf(high) else float(high)
    if node.input[0] in im.integers:  # QuantizeLinear → Clip → DequantizeLinear
        clip_integers(im, node, low, high)
        return
    x = im.activation(node.input[0])
    properties = {}
    if low is not None:
        properties["low"] = FloatAttr(low, f64)
    if high is not None:
        properties["high"] = FloatAttr(high, f64)
    im.define(node, nn.ClipOp(x, x.type, im.node_name, **properties).output)


@handles("Neg")
def _neg(im: Importer, node: onnx.NodeProto) -> None:
    x = im.activation(node.input[0])
    im.define(node, nn.ScaleShiftOp.from_arrays(x, -1.0, 0.0, im.node_name).output)


@handles("Cast", "CastLike")
def _cast(im: Importer, node: onnx.NodeProto) -> None:
    if node.op_type == "CastLike":  # the type of the second input, a constant or activation
        like = node.input[1]
        if like in im.constants:
            target = onnx.helper.np_dtype_to_tensor_dtype(np.asarray(im.constants[like]).dtype)
        else:
            element = im.activation(like).type.element_type  # type: ignore[attr-defined]
            target = (
                onnx.TensorProto.INT64
                if isinstance(element, IntegerType)
                else onnx.TensorProto.FLOAT
            )
    else:
        target = int(im.attribute(node, "to", 0))
    x = im.activation(node.input[0])
    integer = isinstance(x.type.element_type, IntegerType)  # type: ignore[attr-defined]
    if integer and target not in INT_TYPES:
        im.fail(
            f"casting the integer tensor '{node.input[0]}' to a float type is not supported "
            "(integer tensors are indices, for Gather and Scatter)"
        )
    if target not in FLOAT_TYPES and not (integer and target in INT_TYPES):
        im.fail(
            "casting an activation to a non-float type is not supported (integer "
            "tensors, indices, may be cast to other integer types)"
        )
    im.alias(node, node.input[0])

"""Random networks, checked differentially (the fuzz of ``test_fuzz.py`` and ``bench/fuzz.py``).

A network is a :class:`Spec`: an input shape, a family, a list of layer draws (a kind and a seed
each) and the compile options. :func:`build` turns it into ONNX; every layer draws its parameters
from its own seed against the shape it receives, and a layer that does not apply to that shape is
left out, so deleting draws from the list always leaves a valid network. That is how a failing
case shrinks (:func:`shrink`).

Two families:

* ``quantized`` (QONNX): every weight and bias on a power-of-two grid through a ``Quant``, every
  activation through a ``Quant`` (2–24 bits, signed or not, narrow or not, the six rounding
  modes, power-of-two scales). Its ONNX semantics is exact arithmetic, so the reference is exact:
  ``onnx.reference`` in float64 with the ``Quant`` of ``tests/unit/quant_reference.py`` (written
  from the QONNX documents, no rtlflow import). The emulator must equal it bit for bit.
* ``float``: float32 ops (dense, conv, BatchNormalization, pools, tables, softmax, layer
  normalization, attention products, concatenation, gathers) with a random model precision
  (width, integer bits, every rounding and overflow mode). The float interpreter of the nn level
  must equal onnxruntime; at the default precision, on data without overflow, the emulator must
  lie within the end-to-end bound of onnxruntime.

In both, the compile either succeeds or refuses with one line (an ``RtlflowError``); anything else
is a failure. :func:`check_rtl` simulates the Verilog under Verilator: bit-exact with the emulator,
measured latency and interval equal to the report's.
"""

from __future__ import annotations

import json
import math
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

import rtlflow
from rtlflow.errors import RtlflowError
from tests.unit import quant_reference

QONNX = "qonnx.custom_op.general"
QUANT_ROUNDING = ("ROUND", "FLOOR", "CEIL", "ROUND_TO_ZERO", "HALF_UP", "HALF_DOWN")
FIXED_ROUNDING = ("TRN", "RND", "RND_CONV")
FIXED_OVERFLOW = ("WRAP", "SAT", "SAT_SYM")
#: where failing cases are kept as permanent tests
REGRESSIONS = Path(__file__).resolve().parents[1] / "regressions"
#: emulator vs onnxruntime at the default fixed<16,6> (tests/e2e/test_end_to_end.py)
ABSOLUTE, RELATIVE = 64 * 2.0**-10, 0.01
#: the float nn level against onnxruntime's float32
FLOAT_TOLERANCE = 1e-4

KINDS = {
    "quantized": ("dense", "dense", "conv", "conv", "maxpool", "avgpool", "flatten", "residual",
                  "scale", "relu", "concat"),
    "float": ("dense", "dense", "conv", "conv", "batchnorm", "maxpool", "avgpool", "globalpool",
              "flatten", "residual", "scale", "activation", "concat", "softmax", "layernorm",
              "attention", "gather"),
}  # fmt: skip


@dataclass(frozen=True)
class Spec:
    family: str
    #: the input shape without the batch: (F,), (C, L) or (C, H, W)
    shape: tuple[int, ...]
    #: (kind, seed) per layer
    layers: tuple[tuple[str, int], ...]
    options: dict = field(default_factory=dict)
    seed: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Spec:
        data = json.loads(text)
        return Spec(
            data["family"], tuple(data["shape"]), tuple((k, s) for k, s in data["layers"]),
            data["options"], data["seed"],
        )  # fmt: skip


def draw(seed: int, family: str | None = None) -> Spec:
    """A random network: family, input shape, 1–6 layers, compile options."""
    rng = np.random.default_rng(seed)
    family = family or str(rng.choice(["quantized", "float"]))
    rank = int(rng.choice([1, 2, 3]))
    if rank == 1:
        shape: tuple[int, ...] = (int(rng.integers(2, 13)),)
    elif rank == 2:
        shape = (int(rng.integers(1, 4)), int(rng.integers(4, 11)))
    else:
        side = int(rng.integers(3, 7))
        shape = (int(rng.integers(1, 4)), side, int(rng.integers(3, 7)))
    kinds = KINDS[family]
    layers = tuple(
        (str(rng.choice(kinds)), int(rng.integers(2**31))) for _ in range(int(rng.integers(1, 7)))
    )
    options: dict = {}
    if rng.random() < 0.3:
        options["reuse_factor"] = int(rng.choice([2, 3, 4]))
    if rng.random() < 0.2:
        options["conv_style"] = "stream"
    if rng.random() < 0.25:
        options["dsp_budget"] = rng.choice(["4", "2%", "1000"]).item()
    if family == "float" and rng.random() < 0.6:
        width = int(rng.integers(8, 25))
        integer = int(rng.integers(2, width - 3))
        kind = "ufixed" if rng.random() < 0.1 else "fixed"
        modes = f"{rng.choice(FIXED_ROUNDING)},{rng.choice(FIXED_OVERFLOW)}"
        options["precision"] = f"{kind}<{width},{integer},{modes}>"
    return Spec(family, shape, layers, options, seed)


# ---- building ---------------------------------------------------------------------------------


class _Builder:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def constant(self, array) -> str:
        name = self.name("c")
        self.initializers.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], domain: str = "", **attributes) -> str:
        output = self.name(f"{op.lower()}_")
        self.nodes.append(
            helper.make_node(
                op, inputs, [output], name=f"n{self.count}_{op}", domain=domain, **attributes
            )
        )
        return output

    def quant(self, x: str, rng, bits=None, signed=None, frac=None) -> str:
        """A QONNX Quant with a power-of-two scale (a fifth of them, when 8-bit, as ONNX
        QuantizeLinear → DequantizeLinear with an int8 / uint8 zero point of 0)."""
        bits = int(rng.integers(2, 25)) if bits is None else bits
        signed = bool(rng.random() < 0.75) if signed is None else signed
        frac = int(rng.integers(-1, bits + 1)) if frac is None else frac
        if rng.random() < 0.2:
            bits = 8
        if bits == 8 and rng.random() < 0.5:
            scale, zero = self.constant(2.0**-frac), self.name("z")
            dtype = np.int8 if signed else np.uint8
            self.initializers.append(numpy_helper.from_array(np.zeros((), dtype), zero))
            return self.node("DequantizeLinear", [self.node("QuantizeLinear", [x, scale, zero]), scale, zero])
        narrow = int(signed and bits > 2 and rng.random() < 0.3)
        return self.node(
            "Quant",
            [x, self.constant(2.0**-frac), self.constant(0.0), self.constant(float(bits))],
            domain=QONNX, signed=int(signed), narrow=narrow,
            rounding_mode=str(rng.choice(QUANT_ROUNDING)),
        )  # fmt: skip

    def weight(self, rng, shape) -> str:
        """A constant: on a 2^-frac grid (quantized: through a Quant), else Gaussian."""
        if self.spec.family == "float":
            return self.constant(rng.normal(0, 1 / math.sqrt(max(1, np.prod(shape[1:]))), shape))
        bits = int(rng.integers(2, 9))
        frac = int(rng.integers(0, bits + 1))
        limit = 2 ** (bits - 1)
        steps = rng.integers(-limit + 1, limit, size=shape)
        value = self.constant(steps * 2.0**-frac)
        return self.quant(value, rng, bits=bits, signed=True, frac=frac)

    def activation_quant(self, x: str, rng) -> str:
        return self.quant(x, rng) if self.spec.family == "quantized" else x


def _spatial_out(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    return (size + pad - dilation * (kernel - 1) - 1) // stride + 1


def _layer(b: _Builder, kind: str, rng, x: str, shape: tuple[int, ...]):
    """One layer on ``x`` of ``shape`` (no batch): (output, shape), or None where it does not
    apply."""
    rank, quantized = len(shape), b.spec.family == "quantized"
    if kind == "dense" and rank == 1:
        n_out = int(rng.integers(1, 11))
        inputs = [x, b.weight(rng, (n_out, shape[0]))]
        if rng.random() < 0.8:
            inputs.append(b.weight(rng, (n_out,)))
        y = b.node("Gemm", inputs, transB=1)
        if rng.random() < 0.5:
            y = b.node("Relu", [y])
        return b.activation_quant(y, rng), (n_out,)
    if kind == "conv" and rank >= 2:
        spatial = shape[1:]
        kernel = [int(rng.integers(1, min(3, s) + 1)) for s in spatial]
        strides = [int(rng.integers(1, 3)) for _ in spatial]
        dilations = [int(rng.integers(1, 3)) if k > 1 and rng.random() < 0.3 else 1 for k in kernel]
        pads = [int(rng.integers(0, k)) if rng.random() < 0.5 else 0 for k in kernel for _ in "ab"]
        begin, end = pads[0::2], pads[1::2]
        out = [
            _spatial_out(s, k, st, p0 + p1, d)
            for s, k, st, p0, p1, d in zip(spatial, kernel, strides, begin, end, dilations)
        ]
        if min(out) < 1:
            return None
        c_in = shape[0]
        group = c_in if c_in > 1 and rng.random() < 0.3 else 1
        c_out = group * int(rng.integers(1, 3)) if group > 1 else int(rng.integers(1, 5))
        inputs = [x, b.weight(rng, (c_out, c_in // group, *kernel))]
        if rng.random() < 0.7:
            inputs.append(b.weight(rng, (c_out,)))
        y = b.node(
            "Conv", inputs, kernel_shape=kernel, strides=strides, dilations=dilations,
            pads=begin + end, group=group,
        )  # fmt: skip
        if rng.random() < 0.5:
            y = b.node("Relu", [y])
        return b.activation_quant(y, rng), (c_out, *out)
    if kind in ("maxpool", "avgpool") and rank >= 2:
        spatial = shape[1:]
        if min(spatial) < 2:
            return None
        kernel = [2 for _ in spatial] if quantized else [
            int(rng.integers(2, min(3, s) + 1)) for s in spatial
        ]  # fmt: skip
        strides = [int(rng.integers(1, 3)) for _ in spatial]
        out = [_spatial_out(s, k, st, 0, 1) for s, k, st in zip(spatial, kernel, strides)]
        op = "MaxPool" if kind == "maxpool" else "AveragePool"
        y = b.node(op, [x], kernel_shape=kernel, strides=strides)
        if kind == "avgpool":
            y = b.activation_quant(y, rng)
        return y, (shape[0], *out)
    if kind == "globalpool" and rank >= 2:
        op = str(rng.choice(["GlobalAveragePool", "GlobalMaxPool"]))
        y = b.node(op, [x])
        return b.node("Flatten", [y]), (shape[0],)
    if kind == "flatten" and rank >= 2:
        return b.node("Flatten", [x]), (int(np.prod(shape)),)
    if kind == "batchnorm" and rank >= 2:
        c = shape[0]
        params = [
            rng.uniform(0.5, 1.5, c), rng.normal(0, 0.5, c), rng.normal(0, 0.5, c),
            rng.uniform(0.5, 2.0, c),
        ]  # fmt: skip
        return b.node("BatchNormalization", [x, *map(b.constant, params)], epsilon=1e-3), shape
    if kind == "residual":
        if rank == 1:
            branch = b.node("Gemm", [x, b.weight(rng, (shape[0], shape[0]))], transB=1)
        else:
            branch = b.node(
                "Conv", [x, b.weight(rng, (shape[0], shape[0], *[1] * (rank - 1)))],
                kernel_shape=[1] * (rank - 1),
            )  # fmt: skip
        branch = b.activation_quant(branch, rng)
        return b.activation_quant(b.node("Add", [x, branch]), rng), shape
    if kind == "scale":
        steps = int(rng.integers(-8, 9)) or 1
        factor = steps * 2.0 ** -int(rng.integers(0, 4)) if quantized else rng.uniform(-2, 2)
        return b.activation_quant(b.node("Mul", [x, b.constant(np.full((1,), factor))]), rng), shape
    if kind == "relu":
        return b.node("Relu", [x]), shape
    if kind == "activation":
        op = str(rng.choice(["Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid"]))
        if op == "Clip":
            return b.node("Clip", [x, b.constant(-1.0), b.constant(1.5)]), shape
        return b.node(op, [x]), shape
    if kind == "concat":
        other = b.activation_quant(b.node("Mul", [x, b.constant(np.full((1,), 0.5))]), rng)
        y = b.node("Concat", [x, other], axis=1)
        return y, (2 * shape[0], *shape[1:])
    if kind == "softmax" and rank == 1:
        return b.node("Softmax", [x], axis=-1), shape
    if kind == "layernorm" and rank in (1, 2):
        d = shape[-1]
        gamma, beta = b.constant(rng.uniform(0.5, 1.5, d)), b.constant(rng.normal(0, 0.3, d))
        return b.node("LayerNormalization", [x, gamma, beta], axis=-1), shape
    if kind == "attention" and rank == 2:
        tokens, d = shape  # (C, L) read as (tokens, features)
        q = b.node("MatMul", [x, b.weight(rng, (d, d))])
        k = b.node("MatMul", [x, b.weight(rng, (d, d))])
        v = b.node("MatMul", [x, b.weight(rng, (d, d))])
        scores = b.node("MatMul", [q, b.node("Transpose", [k], perm=[0, 2, 1])])
        scores = b.node("Mul", [scores, b.constant(np.full((1,), 1 / math.sqrt(d)))])
        weights = b.node("Softmax", [scores], axis=-1)
        return b.node("MatMul", [weights, v]), (tokens, d)
    if kind == "gather" and rank == 1:
        count = int(rng.integers(1, shape[0] + 2))
        indices = rng.integers(0, shape[0], size=count)
        name = b.name("i")
        b.initializers.append(numpy_helper.from_array(indices.astype(np.int64), name))
        return b.node("Gather", [x, name], axis=1), (count,)
    return None


def build(spec: Spec) -> onnx.ModelProto:
    """The ONNX model of ``spec`` (opset 17, quantized 19; IR version 8; QONNX ops in their
    domain)."""
    b = _Builder(spec)
    rng = np.random.default_rng(spec.seed)
    x, shape = "x", spec.shape
    if spec.family == "quantized":
        x = b.quant(x, rng, bits=int(rng.integers(3, 13)))
    for kind, seed in spec.layers:
        made = _layer(b, kind, np.random.default_rng(seed), x, shape)
        if made is not None:
            x, shape = made
    b.nodes.append(helper.make_node("Identity", [x], ["y"], name="output"))
    graph = helper.make_graph(
        b.nodes, f"random_{spec.seed}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, *spec.shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, *shape])],
        b.initializers,
    )  # fmt: skip
    opsets = [helper.make_opsetid("", 17)]
    if spec.family == "quantized":  # opset 19: onnx.reference's first QuantizeLinear
        opsets = [helper.make_opsetid("", 19), helper.make_opsetid(QONNX, 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="rtlflow-fuzz")
    model.ir_version = 8
    return model


def inputs_for(model: onnx.ModelProto, spec: Spec, count: int) -> np.ndarray:
    """Samples of ``x`` [count, 1, *shape]: on the input quantizer's grid (quantized family,
    some beyond its range), else Gaussian."""
    rng = np.random.default_rng(spec.seed + 1)
    shape = (count, 1, *spec.shape)
    if spec.family == "float":
        low, high = -7.0, 7.0
        if "precision" in spec.options:  # within the input format (WRAP refuses data beyond it)
            integer = int(spec.options["precision"].split(",")[1])
            unsigned = spec.options["precision"].startswith("u")
            low, high = (0.0 if unsigned else -(2.0 ** (integer - 1))), 2.0 ** (integer - 1) * 0.9
            high = high * 2 if unsigned else high
        return np.clip(rng.normal(0, 1.5, shape), low, high).astype(np.float32)
    first = model.graph.node[0]
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    if first.op_type == "QuantizeLinear":
        scale, bits = float(init[first.input[1]]), 8
        signed = int(init[first.input[2]].dtype == np.int8)
    else:
        scale, bits = float(init[first.input[1]]), int(init[first.input[3]])
        signed = next(a.i for a in first.attribute if a.name == "signed")
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    span = high - low
    steps = rng.integers(low - span // 8, high + span // 8 + 1, size=shape)
    return (steps * scale).astype(np.float32)


# ---- references -------------------------------------------------------------------------------


class Quant(OpRun):  # the class name is the op type onnx.reference looks up
    op_domain = QONNX

    def _run(self, x, scale, zero_point, bitwidth, signed=1, narrow=0, rounding_mode="ROUND"):
        return (quant_reference.quant(x, scale, zero_point, bitwidth, signed, narrow, rounding_mode),)


def exact_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """The quantized network in float64 (exact for these dyadic values), one sample at a time."""
    double = onnx.ModelProto()
    double.CopyFrom(model)
    for tensor in double.graph.initializer:
        array = numpy_helper.to_array(tensor)
        if array.dtype == np.float32:
            tensor.CopyFrom(numpy_helper.from_array(array.astype(np.float64), tensor.name))
    for value in [*double.graph.input, *double.graph.output]:
        value.type.tensor_type.elem_type = TensorProto.DOUBLE
    evaluator = ReferenceEvaluator(double, new_ops=[Quant])
    outputs = [evaluator.run(None, {"x": sample.astype(np.float64)})[0] for sample in x]
    return np.stack(outputs).reshape(len(x), -1)


def onnxruntime_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(model.SerializeToString())
    return np.stack([session.run(None, {"x": sample})[0] for sample in x]).reshape(len(x), -1)


# ---- checking ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    spec: Spec
    #: "passed", "refused" (a clear one-line error) or "failed"
    status: str
    message: str = ""
    #: what was checked: "exact", "float", "emulator-float", "rtl"
    checked: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"seed {self.spec.seed} [{self.spec.family}] {self.status}: {self.message}"


class Mismatch(AssertionError):
    pass


def _compile(spec: Spec, model: onnx.ModelProto):
    options = dict(spec.options)
    return rtlflow.compile(model, part="xcvu13p", **options)


def check(
    spec: Spec, samples: int = 64, rtl_dir: Path | None = None, model: onnx.ModelProto | None = None
) -> Outcome:
    """Compile ``spec`` (or ``model``, its saved ONNX) and run the differential checks (the RTL
    check when ``rtl_dir``)."""
    outcome = Outcome(spec, "passed")
    try:
        model = build(spec) if model is None else model
        compiled = _compile(spec, model)
        x = inputs_for(model, spec, samples)
        _check_emulator(spec, model, compiled, x, outcome)
        if rtl_dir is not None:
            check_rtl(compiled, x, rtl_dir)
            outcome.checked.append("rtl")
    except RtlflowError as error:
        text = str(error)
        if "\n" in text or not text.strip():
            outcome.status, outcome.message = "failed", f"refusal not one line: {text!r}"
        else:
            outcome.status, outcome.message = "refused", text
    except Mismatch as error:
        outcome.status, outcome.message = "failed", str(error)
    except Exception as error:  # a crash of the compiler (or of the harness): a failure
        frames = traceback.format_exception(error)[-3:]
        outcome.status = "failed"
        outcome.message = f"{type(error).__name__}: {error} | {''.join(frames)[-600:]}"
    return outcome


def _check_emulator(spec, model, compiled, x, outcome: Outcome) -> None:
    from rtlflow.sim.nn_interpreter import run_nn

    emulated = np.asarray(compiled.predict({"x": x})).reshape(len(x), -1)
    if spec.family == "quantized":
        expected = exact_reference(model, x)
        wrong = np.flatnonzero(np.any(emulated != expected, axis=1))
        if wrong.size:
            i = wrong[0]
            j = int(np.flatnonzero(emulated[i] != expected[i])[0])
            raise Mismatch(
                f"emulator != exact reference in {wrong.size} of {len(x)} samples (first: sample "
                f"{i}, output {j}: {emulated[i, j]!r} vs {expected[i, j]!r})"
            )
        outcome.checked.append("exact")
        return
    reference = onnxruntime_reference(model, x)
    floats = np.asarray(run_nn(compiled.levels["nn"], [x])[0]).reshape(len(x), -1)
    bound = FLOAT_TOLERANCE * (1 + np.abs(reference))
    if np.any(np.abs(floats - reference) > bound):
        worst = float(np.max(np.abs(floats - reference)))
        raise Mismatch(f"float nn level differs from onnxruntime by up to {worst:.3g}")
    outcome.checked.append("float")
    if "precision" not in spec.options and not compiled.emulator.overflows:
        error = np.abs(emulated - reference)
        if np.any(error > ABSOLUTE + RELATIVE * np.abs(reference)):
            raise Mismatch(f"emulator differs from onnxruntime by up to {float(error.max()):.3g}")
        outcome.checked.append("emulator-float")


def check_rtl(compiled, x: np.ndarray, directory: Path) -> None:
    """Verilator: bit-exact with the emulator on ``x``, latency and interval as reported."""
    from rtlflow.sim.runner import run_testbench

    report = compiled.write(directory, inputs={"x": x}, force=True)
    result = run_testbench(directory, gaps=0.25)
    if result.mismatches or result.missing:
        raise Mismatch(
            f"RTL != emulator: {result.mismatches} mismatches, {result.missing} missing "
            f"({result.details.get('first_mismatches')})"
        )
    if result.latency_cycles != [report["latency_cycles"]]:
        raise Mismatch(f"latency {result.latency_cycles} measured, {report['latency_cycles']} reported")
    if result.initiation_interval != report["initiation_interval"]:
        raise Mismatch(
            f"interval {result.initiation_interval} measured, {report['initiation_interval']} reported"
        )


# ---- shrinking and regressions ----------------------------------------------------------------


def _signature(outcome: Outcome) -> str:
    """What kind of failure: the message up to its first number or quote."""
    head = outcome.message.split("|")[0]
    return head.split(" in ")[0].split("(")[0].split(":")[0].strip()


def shrink(outcome: Outcome, rtl_dir: Path | None = None, budget: int = 40) -> Outcome:
    """Delete layers and drop options while the same kind of failure persists."""
    best, tries = outcome, 0
    signature = _signature(outcome)

    def still_fails(spec: Spec) -> Outcome | None:
        nonlocal tries
        tries += 1
        result = check(spec, rtl_dir=rtl_dir)
        same = result.status == "failed" and _signature(result) == signature
        return result if same else None

    changed = True
    while changed and tries < budget:
        changed = False
        candidates = [
            replace(best.spec, layers=best.spec.layers[:i] + best.spec.layers[i + 1:])
            for i in range(len(best.spec.layers))
        ] + [
            replace(best.spec, options={k: v for k, v in best.spec.options.items() if k != key})
            for key in best.spec.options
        ]  # fmt: skip
        for candidate in candidates:
            if tries >= budget:
                break
            result = still_fails(candidate)
            if result is not None:
                best, changed = result, True
                break
    return best


def save_regression(outcome: Outcome, rtl: bool, directory: Path = REGRESSIONS) -> Path:
    """The failing case as tests/regressions/fuzz_<seed>.onnx + .json (spec, failure, RTL)."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"fuzz_{outcome.spec.seed}"
    onnx.save(build(outcome.spec), f"{stem}.onnx")
    record = {"spec": json.loads(outcome.spec.to_json()), "failure": outcome.message, "rtl": rtl}
    Path(f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")
    return Path(f"{stem}.onnx")

"""QKeras models as qonnx's converter writes them (QONNX ``Quant`` nodes), for the quantized tests.

Needs QKeras 0.9, qonnx 0.4.0, tf2onnx 1.16 and TensorFlow 2.15 (Keras 2), in an environment of
their own:

    python3.11 -m venv /tmp/qk && /tmp/qk/bin/pip install tensorflow-cpu==2.15.1 qkeras==0.9.0 \
        pyparsing qonnx==0.4.0 tf2onnx==1.16.1 onnx==1.16.2
    /tmp/qk/bin/python tests/data/make_qkeras_fixtures.py

Writes into ``tests/data/qonnx/``, each with a ``.npz`` of 64 seeded samples (``input``) and
QKeras' own outputs (``ref_<output>``, Keras' float32 forward of the quantized layers):

- ``qkeras_jet_mlp.onnx``: the hls4ml jet tagger in QKeras (16-64-32-32-5; 6-bit weights and
  biases, ``quantized_relu(6)``, softmax), as in hls4ml's QKeras tutorial; samples on the grid of
  8 bits with 4 fractional, and QKeras' logits (``logits``, before the softmax);
- ``qkeras_conv.onnx``: a small QKeras CNN on a 12x12x1 NHWC image (``QConv2D`` 4 and 8
  channels of 4-bit weights, ``quantized_relu(4, 1)``, 2x2 max pooling, ``QDense`` to 5 logits);
  samples on the grid of 8 bits with 5 fractional.

The converter writes the ``Quant`` nodes in the domain ``qonnx.custom_op.general`` without an
opset import for it (as the QONNX model zoo's files have); the files are saved as it writes them.
Weights are Keras' seeded initialization, biases random: every value is on its quantizer's grid,
so the reference is exact wherever the sums fit float32's 24 bits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
from qonnx.converters import from_keras
from tensorflow import keras
from tensorflow.keras import layers

OUT = Path(__file__).resolve().parent / "qonnx"


def export(
    model: keras.Model, name: str, shape: tuple[int, ...], fraction: int, logits: bool = False
) -> None:
    rng = np.random.default_rng(7)
    for layer in model.layers:
        weights = layer.get_weights()
        if len(weights) == 2:  # kernel and bias
            layer.set_weights([weights[0], rng.normal(0, 0.2, weights[1].shape).astype(np.float32)])
    proto, _ = from_keras(model, name, opset=13)
    proto.ir_version = min(proto.ir_version, 8)
    OUT.mkdir(exist_ok=True)
    onnx.save(proto, OUT / f"{name}.onnx")
    # samples on an 8-bit grid of ``fraction`` fractional bits (what a quantized input link
    # carries: qonnx's converter drops an input QActivation, so the files have none)
    x = np.random.default_rng(1).normal(0, 2 ** (7 - fraction) / 3, (64, 1, *shape))
    x = np.clip(np.round(x * 2**fraction), -128, 127).astype(np.float32) / 2**fraction
    reference = np.stack([model.predict(sample, verbose=0) for sample in x])
    extra = {}
    if logits:  # the last layer's output before its softmax
        before = keras.Model(model.inputs, model.layers[-2].output)
        extra["logits"] = np.stack([before.predict(sample, verbose=0) for sample in x])
    np.savez(
        OUT / f"{name}.npz", input=x, **{f"ref_{proto.graph.output[0].name}": reference}, **extra
    )


def main() -> None:
    tf.random.set_seed(0)
    weights = {"kernel_quantizer": quantized_bits(6, 0, alpha=1),
               "bias_quantizer": quantized_bits(6, 0, alpha=1)}  # fmt: skip
    mlp = keras.Sequential([
        layers.Input((16,)),
        QDense(64, name="fc1", **weights), QActivation(quantized_relu(6), name="relu1"),
        QDense(32, name="fc2", **weights), QActivation(quantized_relu(6), name="relu2"),
        QDense(32, name="fc3", **weights), QActivation(quantized_relu(6), name="relu3"),
        QDense(5, name="output", **weights), layers.Activation("softmax", name="softmax"),
    ])  # fmt: skip
    export(mlp, "qkeras_jet_mlp", (16,), fraction=4, logits=True)
    conv = {"kernel_quantizer": quantized_bits(4, 0, alpha=1),
            "bias_quantizer": quantized_bits(6, 0, alpha=1)}  # fmt: skip
    cnn = keras.Sequential([
        layers.Input((12, 12, 1)),
        QConv2D(4, 3, name="conv1", **conv), QActivation(quantized_relu(4, 1), name="relu1"),
        layers.MaxPooling2D(2, name="pool1"),
        QConv2D(8, 3, name="conv2", **conv), QActivation(quantized_relu(4, 1), name="relu2"),
        layers.Flatten(name="flatten"), QDense(5, name="output", **weights),
    ])  # fmt: skip
    export(cnn, "qkeras_conv", (12, 12, 1), fraction=5)


if __name__ == "__main__":
    main()

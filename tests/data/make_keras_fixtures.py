"""Keras models as tf2onnx exports them, for the importer and streaming tests.

Needs tensorflow-cpu 2.15 and tf2onnx 1.16 (Keras 2; onnx 1.15, protobuf 3.20), in an
environment of their own:

    python3.11 -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.16.1 \
        onnx==1.15.0 protobuf==3.20.3
    /tmp/tf/bin/python tests/data/make_keras_fixtures.py

Writes ``tests/data/onnx/keras_mnist_cnn.onnx`` (a 28x28x1 MNIST CNN: tf2onnx views the NHWC
input channels-first with a Reshape, one channel) and ``keras_conv1d.onnx`` (Conv1D layers,
which tf2onnx writes as 2-D convolutions between Unsqueeze and Squeeze, a bias Add after each),
each with a ``.npz`` of 64 seeded samples and Keras' float outputs (``ref_<output>``). Weights
are Keras' seeded initialization with random biases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import tensorflow as tf
import tf2onnx
from tensorflow import keras
from tensorflow.keras import layers

OUT = Path(__file__).resolve().parent / "onnx"


def export(model: keras.Model, name: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(7)
    for layer in model.layers:
        weights = layer.get_weights()
        if len(weights) == 2:  # kernel and bias
            layer.set_weights([weights[0], rng.normal(0, 0.1, weights[1].shape).astype(np.float32)])
    spec = (tf.TensorSpec((1, *shape), tf.float32, name="input"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=13)
    proto.ir_version = min(proto.ir_version, 8)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, OUT / f"{name}.onnx")
    x = np.clip(np.random.default_rng(1).normal(0, 1.5, (64, 1, *shape)), -7, 7).astype(np.float32)
    reference = np.stack([model.predict(sample, verbose=0) for sample in x])
    np.savez(OUT / f"{name}.npz", input=x, **{f"ref_{proto.graph.output[0].name}": reference})


def main() -> None:
    tf.random.set_seed(0)
    mnist = keras.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(8, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(10), layers.Softmax(),
    ])  # fmt: skip
    export(mnist, "keras_mnist_cnn", (28, 28, 1))
    conv1d = keras.Sequential([
        layers.Input((32, 3)),
        layers.Conv1D(8, 5, activation="relu"), layers.MaxPooling1D(2),
        layers.Conv1D(8, 3, padding="same", activation="tanh"),
        layers.Flatten(), layers.Dense(4, activation="sigmoid"),
    ])  # fmt: skip
    export(conv1d, "keras_conv1d", (32, 3))


if __name__ == "__main__":
    main()

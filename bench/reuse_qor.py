"""Yosys on a dense layer over tokens, or a parallel convolution, folded by the reuse factor: what
R buys.

    python bench/reuse_qor.py [--layer dense|conv] [--reuse 1,4,16] [--tokens 16]
                              [--precision fixed<8,3>]

``dense``: one MatMul over ``--tokens`` rows of 16 features to 32. ``conv``: one 3x3 convolution
of an 8x8 image, 4 channels to 8, padded ("same": 64 output positions). Weights on a 1/32 grid,
30 % zero, a fixed seed; compiled at each reuse factor with defaults otherwise (the conv
parallel), synthesized with Yosys (``synth_xilinx -family xcup -flatten``). Prints latency, II,
the estimate and Yosys' LUT, FF and DSP counts. Yosys takes tens of seconds to minutes a point.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rtlflow  # noqa: E402
from rtlflow.synthesis import synthesize  # noqa: E402


def grid_weights(shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(3)
    weights = np.round(rng.normal(0, 0.5, shape) * 32) / 32
    weights[rng.random(weights.shape) < 0.3] = 0
    return weights


def token_dense(tokens: int):
    weights = grid_weights((16, 32))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="dense")],
        "token_dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, tokens, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, tokens, 32])],
        [numpy_helper.from_array(weights.astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def padded_conv():
    weights = grid_weights((8, 4, 3, 3))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])],
        "padded_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
        [numpy_helper.from_array(weights.astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", choices=["dense", "conv"], default="dense")
    parser.add_argument("--reuse", default="1,4,16")
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--precision", default="fixed<8,3>")
    args = parser.parse_args()
    model = token_dense(args.tokens) if args.layer == "dense" else padded_conv()
    for reuse in (int(r) for r in args.reuse.split(",")):
        compiled = rtlflow.compile(
            model, precision=args.precision, reuse_factor=reuse, conv_style="parallel"
        )
        with tempfile.TemporaryDirectory() as directory:
            report = compiled.write(directory, vectors=4)
            start = time.perf_counter()
            measured = synthesize(directory, report["sources"], report["top"], "ultrascale+")
            estimate = report["resources"]
            print(
                f"R={reuse}: latency {report['latency_cycles']}, II "
                f"{report['initiation_interval']}; estimate {estimate['lut']:,} LUT "
                f"{estimate['ff']:,} FF {estimate['dsp']} DSP; Yosys {measured.lut:,} LUT "
                f"{measured.ff:,} FF {measured.dsp} DSP ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Inputs of MNIST size and attention over many tokens: does the compile finish, how fast, how big.

    python bench/large_inputs.py [--cases mnist_valid mnist_same mnist_same8 attention64
                                  residual200]
                                 [--reuse 64] [--sim] [--vectors 100]

Models built in code, compiled with defaults (the automatic conv style on the xcvu13p):

- ``mnist_valid`` / ``mnist_same``: a 28x28x1 CNN as MNIST examples write it (conv 3x3 to 8 and to
  16 channels, each with ReLU and 2x2 max pooling, dense to 10; random weights, half of them
  zero), with unpadded or "same" (pads 1) convolutions;
- ``mnist_same8``: the "same" CNN at fixed<8,3> with reuse factor 16 (its convolutions fold
  their positions; at 8 bits the first one's result fits a port);
- ``residual200``: a residual block on a 200x200 image of one channel ("same" 3x3 conv, ReLU,
  "same" 3x3 conv, the input added back, ReLU), three 2x2 max poolings and a dense head;
- ``attention64``: one post-norm transformer encoder layer over 64 tokens of 16 features (2
  heads, feed-forward 32), as PyTorch's exporter writes it (``tests/e2e/transformer_models``),
  folded by ``--reuse`` (default 64: one query row of each head a phase; the attention is one
  unit, its score matrix never a port).

Prints the compile time (ONNX -> Verilog, testbench and report), latency, II, the resource
estimate and the warnings, or the one-line refusal; with --sim the Verilator build and run of
``--vectors`` random vectors (bit-exact, latency measured against reported).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import rtlflow  # noqa: E402
from cnn_models import pruned_cnn  # noqa: E402
from rtlflow.errors import RtlflowError  # noqa: E402
from rtlflow.sim.runner import run_testbench  # noqa: E402


def case(name: str, reuse: int):
    """(model, compile options) of a case."""
    if name == "residual200":
        from tests.e2e.models import residual_block

        return residual_block(200, 1, pools=3), {}
    if name.startswith("mnist"):
        pads = 0 if name == "mnist_valid" else 1
        options = {"precision": "fixed<8,3>", "reuse_factor": 16} if name == "mnist_same8" else {}
        return pruned_cnn("mnist_cnn", (1, 28, 28), (8, 16), (10,), pads=pads), options
    from tests.e2e.transformer_models import transformer_encoder

    return transformer_encoder(tokens=64, d=16, heads=2, feedforward=32, layers=1), {
        "reuse_factor": reuse
    }


def bench(name: str, reuse: int, simulate: bool, vectors: int) -> None:
    model, options = case(name, reuse)
    print(f"\n== {name} {options or ''}")
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        try:
            report = rtlflow.compile(model, **options).write(directory, vectors=vectors)
        except RtlflowError as error:
            print(f"  refused after {time.perf_counter() - start:.1f} s: {error}")
            return
        r = report["resources"]
        print(f"  compile {time.perf_counter() - start:.1f} s: latency {report['latency_cycles']} "
              f"cycles, II {report['initiation_interval']}; estimate LUT {r['lut']:,}, "
              f"FF {r['ff']:,}, DSP {r['dsp']:,}")
        for warning in report["warnings"]:
            print(f"  warning: {warning}")
        if simulate:
            result = run_testbench(directory)
            print(f"  Verilator build {result.build_seconds:.1f} s, run of {result.samples} "
                  f"{result.run_seconds:.1f} s: {'bit-exact' if result.passed else 'FAILED'}, "
                  f"latency measured {sorted(set(result.latency_cycles))} "
                  f"(reported {result.reported_latency_cycles})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", nargs="+",
        choices=["mnist_valid", "mnist_same", "mnist_same8", "attention64", "residual200"],
        default=["mnist_valid", "mnist_same", "mnist_same8", "attention64", "residual200"],
    )  # fmt: skip
    parser.add_argument("--reuse", type=int, default=64, help="attention64's reuse factor")
    parser.add_argument("--sim", action="store_true", help="Verilator build and run")
    parser.add_argument("--vectors", type=int, default=100)
    args = parser.parse_args()
    for name in args.cases:
        bench(name, args.reuse, args.sim, args.vectors)


if __name__ == "__main__":
    main()

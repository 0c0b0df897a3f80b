"""``rtlflow opt``: passes run on printed IR reproduce the pipeline, and bad input is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

import rtlflow
from rtlflow.cli import main
from rtlflow.errors import RtlflowError
from rtlflow.opt import run_opt
from rtlflow.pipeline import Options

MODELS = Path(__file__).resolve().parents[1] / "data" / "models"


@pytest.mark.parametrize(
    "model, options",
    [
        ("etx4velo_mlp.onnx", {}),
        ("muon_cnn_w4a4.qonnx.onnx", {"conv_style": "stream", "reuse_factor": 2}),
        ("jet_transformer_hlf.onnx", {}),
    ],
    ids=["mlp", "quantized_cnn_stream", "transformer"],
)
def test_every_pass_replays_its_dump(tmp_path, model, options):
    """Each dumped level, run through the next pass by name, is the pipeline's next dump, byte
    for byte: the printed IR holds everything the passes need."""
    compiled = rtlflow.compile(MODELS / model, stop_at="circuit", dump_ir=tmp_path, **options)
    dumps = sorted(tmp_path.glob("*.mlir"))
    assert len(dumps) == 16  # the import and 15 passes
    for before, after in zip(dumps, dumps[1:]):
        name = after.stem.split("-", 1)[1]
        module = run_opt(before.read_text(), name, compiled.options, str(before))
        assert str(module) + "\n" == after.read_text(), name


def test_pass_options_override_the_configured_ones(tmp_path):
    rtlflow.compile(MODELS / "etx4velo_mlp.onnx", stop_at="circuit", dump_ir=tmp_path)
    text = (tmp_path / "13-circuit-build-adder-graphs.mlir").read_text()
    slow = run_opt(text, "circuit-insert-registers{clock-mhz=50}", Options())
    fast = run_opt(text, "circuit-insert-registers", Options(clock_mhz=800.0))
    latency = [
        max(op.latency.value.data for op in m.walk() if op.name == "circuit.unit")
        for m in (slow, fast)
    ]
    assert latency[0] < latency[1]


@pytest.mark.parametrize(
    "text, passes, message",
    [
        ("builtin.module {}", "no-such-pass", "no pass named 'no-such-pass'"),
        ("builtin.module {}", "dce{depth=1}", "dce: "),
        ("builtin.module { nn.bogus }", "dce", "cannot parse the IR"),
        ("builtin.module {}", "dce{", "cannot read the pass list"),
    ],
)
def test_bad_input_is_named(text, passes, message):
    with pytest.raises(RtlflowError, match=message.replace("{", r"\{")):
        run_opt(text, passes, Options())


def test_cli_writes_the_result_and_exits_2_on_errors(tmp_path, capsys):
    source = tmp_path / "in.mlir"
    source.write_text(
        'builtin.module {\n  func.func @f(%x: tensor<1x2xf32>) -> tensor<1x2xf32> attributes '
        '{onnx.inputs = ["x"], onnx.outputs = ["y"]} {\n'
        '    %dead = nn.sigmoid %x {node = "s"} : tensor<1x2xf32> -> tensor<1x2xf32>\n'
        "    func.return %x : tensor<1x2xf32>\n  }\n}\n"
    )
    out = tmp_path / "out.mlir"
    assert main(["opt", str(source), "-p", "dce", "-o", str(out)]) == 0
    assert "nn.sigmoid" not in out.read_text() and "func.return %x" in out.read_text()
    assert main(["opt", str(tmp_path / "missing.mlir"), "-p", "dce"]) == 2
    assert main(["opt", str(source), "-p", "dce", "--precision", "fixed<0,3>"]) == 2
    assert "rtlflow: error:" in capsys.readouterr().err

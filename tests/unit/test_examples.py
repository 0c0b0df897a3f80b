"""The example models shipped in the package: each loads and compiles, and the command line
compiles one with its data (the README's first run)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import rtlflow
from rtlflow.cli import main
from rtlflow.examples import EXAMPLES, find_example
from rtlflow.errors import RtlflowError


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_is_shipped_with_data_and_compiles(name):
    example = find_example(name)
    model = onnx.load(example.model)
    constants = {t.name for t in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in constants]
    with np.load(example.data) as data:
        assert set(inputs) <= set(data.files) and "labels" in data.files
        assert len(data["labels"]) == len(data[inputs[0]]) == 500
    compiled = rtlflow.compile(example.model, stop_at="fxp")
    assert compiled.input_names == inputs


def test_examples_are_listed(capsys):
    assert main(["examples"]) == 0
    printed = capsys.readouterr().out
    for name, example in EXAMPLES.items():
        assert f"{name}" in printed and example.description in printed


def test_compile_an_example_with_its_data(tmp_path, capsys):
    assert main(["compile", "--example", "etx4velo", "-o", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["test_vectors"] == {"samples": 500, "source": "user data"}
    assert "fidelity" in report
    assert "etx4velo" in capsys.readouterr().out


def test_unknown_example_and_model_with_example():
    with pytest.raises(RtlflowError, match="no example named 'nope' \\(examples: jet_tagger"):
        find_example("nope")
    assert main(["compile", "model.onnx", "--example", "etx4velo", "-o", "x"]) == 2

"""Random networks, checked differentially (tests/e2e/random_networks.py): the emulator equals
the exact ONNX semantics of quantized networks, the float nn level equals onnxruntime, a compile
either succeeds or refuses in one line, and the Verilog equals the emulator under Verilator with
the reported latency and interval. ``bench/fuzz.py`` runs thousands; the cases it found stay
here as files under tests/regressions/."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from tests.e2e import random_networks as rn

BATCH = 10
#: the default suite: 60 networks without Verilator, four with it (more with --run-slow)
BATCHES = range(6)
RTL_SEEDS = [1, 3, 4, 8]
SLOW_RTL_SEEDS = [0, 2, 5, 7, 10, 11]


@pytest.mark.parametrize("batch", BATCHES)
def test_random_networks(batch):
    outcomes = [rn.check(rn.draw(seed)) for seed in range(batch * BATCH, (batch + 1) * BATCH)]
    failed = [o.line() for o in outcomes if o.status == "failed"]
    assert not failed, "\n".join(failed)
    assert sum(o.status == "passed" for o in outcomes) >= BATCH // 2  # the draws mostly compile
    assert any({"exact", "float"} & set(o.checked) for o in outcomes)


def _rtl(seed: int, directory: Path) -> None:
    outcome = rn.check(rn.draw(seed), rtl_dir=directory)
    assert outcome.status == "passed" and "rtl" in outcome.checked, outcome.line()


@pytest.mark.parametrize("seed", RTL_SEEDS)
def test_random_network_rtl(seed, tmp_path):
    _rtl(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_RTL_SEEDS)
def test_random_network_rtl_more(seed, tmp_path):
    _rtl(seed, tmp_path)


REGRESSIONS = sorted(rn.REGRESSIONS.glob("*.json"))


@pytest.mark.parametrize("record", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regression(record, tmp_path):
    """A case the fuzz found, from its saved ONNX file (independent of later generator changes)."""
    data = json.loads(record.read_text())
    spec = rn.Spec.from_json(json.dumps(data["spec"]))
    model = onnx.load(record.with_suffix(".onnx"))
    outcome = rn.check(spec, model=model, rtl_dir=tmp_path if data["rtl"] else None)
    assert outcome.status == "passed", f"{outcome.line()} (found as: {data['failure']})"

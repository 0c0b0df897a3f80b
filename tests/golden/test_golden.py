"""The IR of a seed model at every level, as committed: a refactor that claims to change nothing
shows it here. After an intended change, run tests/golden/update.py and review the diff."""

from __future__ import annotations

import pytest

from tests.golden.update import GOLDEN_MODELS, HERE, LEVELS, render


@pytest.mark.parametrize("name", GOLDEN_MODELS)
def test_ir_matches_golden_files(name):
    rendered = render(name)
    for level in LEVELS:
        golden = (HERE / f"{name}.{level}.mlir").read_text()
        assert rendered[level] == golden, f"{name} at the {level} level differs from its golden file"

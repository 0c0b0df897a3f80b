"""Example models shipped with rtlflow, for a first run that needs nothing else:
``rtlflow compile --example jet_tagger -o out/`` (``rtlflow examples`` lists them).

Each is an ONNX file with 500 samples of data beside it (``x``, and ``labels``: the compile
reports the hardware's accuracy, AUC or R² next to the float model's). They are small networks
standing in for trigger systems, trained on synthetic versions of their tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rtlflow.errors import RtlflowError


@dataclass(frozen=True)
class Example:
    name: str
    #: the file stem of its .onnx and .npz
    stem: str
    description: str

    @property
    def model(self) -> Path:
        return Path(str(resources.files(__name__) / f"{self.stem}.onnx"))

    @property
    def data(self) -> Path:
        return Path(str(resources.files(__name__) / f"{self.stem}.npz"))


EXAMPLES = {
    e.name: e
    for e in (
        Example(
            "jet_tagger", "jet_tagger_mlp",
            "hls4ml's jet tagger, MLP 16-64-32-32-5 with softmax (float; classes: accuracy, AUC)",
        ),
        Example(
            "jet_tagger_w6a6", "jet_tagger_w6a6",
            "the jet tagger trained quantization-aware at 6 bits (QONNX, Brevitas export)",
        ),
        Example(
            "muon_cnn", "muon_cnn",
            "a muon trigger CNN on 9x16 hit maps: Conv, MaxPool, Dense (regression: R2)",
        ),
        Example(
            "etx4velo", "etx4velo_mlp",
            "a track-finding hit-embedding MLP 3-8-8-8-3 (float; regression)",
        ),
    )
}  # fmt: skip


def find_example(name: str) -> Example:
    if name not in EXAMPLES:
        raise RtlflowError(f"no example named '{name}' (examples: {', '.join(EXAMPLES)})")
    return EXAMPLES[name]

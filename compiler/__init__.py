"""rtlflow: compile ONNX neural networks to pipelined, bit-exact verified Verilog.

    import rtlflow
    m = rtlflow.compile("model.onnx", part="xcvu13p")
    m.predict(x)        # bit-exact emulation
    m.write("out/")     # Verilog, testbench, report
    config = rtlflow.config_from_onnx("model.onnx")   # every layer's settings, to edit
    rtlflow.compile("model.onnx", config=config)

The compiler (onnx, xDSL, Amaranth) is imported on first use of ``compile`` or
``CompiledModel``, so ``rtlflow --help`` and the commands that do not compile start at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rtlflow.errors import RtlflowError

if TYPE_CHECKING:
    from rtlflow.api import CompiledModel, __version__, compile  # noqa: F401
    from rtlflow.configure import config_from_onnx  # noqa: F401

__all__ = ["CompiledModel", "RtlflowError", "__version__", "compile", "config_from_onnx"]


def __getattr__(name: str):
    if name in ("CompiledModel", "__version__", "compile"):
        from rtlflow import api

        return getattr(api, name)
    if name == "config_from_onnx":
        from rtlflow.configure import config_from_onnx

        return config_from_onnx
    raise AttributeError(f"module 'rtlflow' has no attribute {name!r}")

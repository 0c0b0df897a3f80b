"""rtlflow: compile ONNX neural networks to pipelined, bit-exact verified Verilog.

    import rtlflow
    m = rtlflow.compile("model.onnx", part="xcvu13p")
    m.predict(x)        # bit-exact emulation
    m.write("out/")     # Verilog, testbench, report
"""

from rtlflow.api import CompiledModel, __version__, compile
from rtlflow.errors import RtlflowError

__all__ = ["CompiledModel", "RtlflowError", "__version__", "compile"]

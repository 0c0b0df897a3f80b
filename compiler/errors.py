"""The one error type users see: a problem with their model, options or data."""

from __future__ import annotations


class RtlflowError(Exception):
    """A user-facing error, reported as one line and exit status 2 by the command line.

    ``node`` and ``op`` name the ONNX node and operator the problem belongs to, when there is one.
    """

    def __init__(self, message: str, *, node: str | None = None, op: str | None = None):
        super().__init__(message)
        self.message = message
        self.node = node
        self.op = op

    def __str__(self) -> str:
        if self.node is not None:
            return f"node '{self.node}' ({self.op}): {self.message}"
        if self.op is not None:
            return f"{self.op}: {self.message}"
        return self.message

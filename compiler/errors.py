"""The one error type users see (a problem with their model, options or data), and warnings."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


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


class RtlflowWarning(UserWarning):
    """Something the user should know that does not stop the compile (an assumption made about
    the model, a result that can overflow its format)."""


#: the warnings of the compile in progress (``collect_warnings``), or None
_collected: list[str] | None = None


def warn(message: str, *, node: str | None = None, op: str | None = None) -> None:
    """Report ``message`` (about ``node`` / ``op`` when given): to the compile in progress,
    which lists it in the report and on the command line, else as a Python warning."""
    text = str(RtlflowError(message, node=node, op=op))
    if _collected is not None:
        if text not in _collected:
            _collected.append(text)
    else:
        warnings.warn(text, RtlflowWarning, stacklevel=2)


@contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """Gather the ``warn`` calls made inside the block into the list it yields."""
    global _collected
    outer, _collected = _collected, []
    try:
        yield _collected
    finally:
        _collected = outer

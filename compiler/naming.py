"""Names in the generated hardware."""

from __future__ import annotations

import re


def verilog_identifier(text: str) -> str:
    """A Verilog-safe identifier built from ``text``."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "model"
    return ident if not ident[0].isdigit() else f"m_{ident}"

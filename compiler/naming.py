"""Names in the generated hardware."""

from __future__ import annotations

import re

from rtlflow.rtl.keywords import KEYWORDS


def verilog_identifier(text: str) -> str:
    """A Verilog-safe identifier built from ``text`` (a keyword gets a trailing ``_``)."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "model"
    ident = ident if not ident[0].isdigit() else f"m_{ident}"
    return f"{ident}_" if ident in KEYWORDS else ident

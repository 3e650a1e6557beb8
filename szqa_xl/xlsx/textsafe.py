"""Text hygiene for examiner-written text that leaves the tool."""

from __future__ import annotations

import re

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""Characters XML 1.0 cannot hold (and CR, which XML parsers turn into LF): shown as visible escapes."""
EXCEL_CELL_MAX = 32767


def csv_safe(text: str) -> str:
    """Neutralise a CSV cell that a spreadsheet would run as a formula (OWASP: prefix with ')."""
    if text.startswith(FORMULA_LEADS):
        return "'" + text
    return text


def cell_text(text: str) -> str:
    """Text safe to store in an xlsx cell: control characters (and CR) shown as visible \\xNN escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def split_for_cells(text: str, limit: int = EXCEL_CELL_MAX) -> list[str]:
    """Split text longer than Excel's cell limit into pieces, so nothing is silently cut."""
    if len(text) <= limit:
        return [text]
    return [text[i : i + limit] for i in range(0, len(text), limit)]

"""Values written to CSV files people open in a spreadsheet."""

from __future__ import annotations

from typing import Any

#: What a spreadsheet would run as a formula at the start of a cell.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A value as a CSV cell; text a spreadsheet would run as a formula is quoted with a
    leading apostrophe (text that came from a caller or an agency: ``=HYPERLINK(...)``)."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = " ".join(value)
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value

"""CSV cells for spreadsheets: every export goes through here so no cell runs as a formula."""

from __future__ import annotations

__all__ = ["safe_cell"]

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (CSV injection, OWASP): prefixing a quote keeps it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text that a spreadsheet shows rather than evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text

"""Spreadsheet-safe cells: the one writer (``server.reports.table.csv_text``) passes every cell
through here so no cell runs as a formula."""

from __future__ import annotations

import re

__all__ = ["safe_cell"]

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (OWASP, "CSV Injection"): prefixing a quote keeps it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet may split a cell at any of these when it guesses the separator (Excel uses the
# locale's list separator, often ";"): what follows one is neutralised as if it started a cell.
_AFTER_SEPARATOR = re.compile(r"([,;\t|\r\n]\s*)([=+\-@])")


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text that a spreadsheet shows rather than evaluates, whichever
    separator it splits on."""
    text = "" if value is None else str(value)
    text = _AFTER_SEPARATOR.sub(r"\1'\2", text)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


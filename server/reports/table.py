"""The one CSV writer: a header, rows of cells, each cell made safe for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from ..spreadsheet import safe_cell

__all__ = ["csv_text"]


def csv_text(header: Iterable[str], rows: Iterable[Iterable[object]], *, line_end: str = "\r\n") -> str:
    """CSV text of ``header`` then ``rows``: every cell quoted (no separator inside a cell splits
    it, whichever one the spreadsheet guesses) and through ``safe_cell`` (no formulas).

    ``line_end`` is RFC 4180's CRLF unless an export's consumers were given LF (the credit files).
    """
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator=line_end)
    writer.writerow([safe_cell(v) for v in header])
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue()

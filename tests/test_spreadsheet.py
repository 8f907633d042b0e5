from __future__ import annotations

import pytest

from server.spreadsheet import safe_cell


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("Ana Okafor", "Ana Okafor"), (None, ""), (1.5, "1.5"), ("", ""),
])
def test_cells_that_a_spreadsheet_would_evaluate_are_kept_as_text(value: object, cell: str) -> None:
    assert safe_cell(value) == cell

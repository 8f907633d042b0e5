"""Reports: the CSV files organizers download and ``rounds export KIND`` prints.

Every CSV goes through one writer (``server.reports.table.csv_text``), which neutralises
spreadsheet formulas with ``server.spreadsheet.safe_cell``. Each kind's builder lives in its own
module and is imported only when that kind is asked for, so ``rounds --help`` loads none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import BadRequest

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ..catalogue import Catalogue

__all__ = ["EXPORT_KINDS", "export"]

# `rounds export KIND`: the kinds, in the order `--help` lists them.
EXPORT_KINDS = ("attendance", "credits")


async def export(kind: str, engine: AsyncEngine, catalogue: Catalogue, *, session_id: str | None,
                 fmt: str) -> str:
    """The text of export ``kind`` (``--session`` and ``--format`` as given); raises ``BadRequest``."""
    if kind == "attendance":
        from .attendance import export_attendance

        return await export_attendance(engine, catalogue, session_id=session_id, fmt=fmt)
    if kind == "credits":
        from .credit import export_credits

        return await export_credits(engine, catalogue, fmt=fmt)
    raise BadRequest(f"unknown export {kind!r}: use one of {', '.join(EXPORT_KINDS)}", field="kind")

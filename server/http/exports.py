"""Downloads of personal data: audited, never cached."""

from __future__ import annotations

import csv
import io

from aiohttp import web
from aiohttp.helpers import content_disposition_header

from ..accounts import User
from ..state import CLOCK, ENGINE
from ..store.audit import record_audit

__all__ = ["EXPORT_HEADERS", "csv_download"]

# RFC 9111 section 5.2.2.5: no-store keeps the export out of browser and proxy caches.
EXPORT_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache", "X-Content-Type-Options": "nosniff"}


async def csv_download(request: web.Request, user: User, action: str, subject: str, text: str,
                       filename: str) -> web.Response:
    """``text`` as a CSV attachment, after recording who exported what in the audit log."""
    rows = max(0, sum(1 for _ in csv.reader(io.StringIO(text))) - 1)
    await record_audit(request.app[ENGINE], request.app[CLOCK].now(), user.email, action, subject,
                       {"rows": rows, "filename": filename})
    headers = {**EXPORT_HEADERS, "Content-Disposition": content_disposition_header("attachment", filename=filename)}
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers=headers)

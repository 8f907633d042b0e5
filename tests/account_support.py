"""A registration form that passes every check, and a form's CSRF token, for tests of accounts
and sign-in."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

REGISTRATION = {
    "name": "Grace Hopper, MD",
    "email": "Grace@Example.org",
    "password": "correct horse battery",
    "profession": "physician",
    "npi": "1234567893",
    "dob_month": "12",
    "dob_day": "9",
    "report_permission": "on",
}


async def csrf_of(client: TestClient, path: str = "/login") -> str:
    page = await (await client.get(path)).text()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the form carries a CSRF token"
    return match.group(1)

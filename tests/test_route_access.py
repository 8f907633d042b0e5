"""Every route checks who is asking: anonymous requests reach only the public ones."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

PUBLIC = {
    ("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("GET", "/register"), ("POST", "/register"),
    ("POST", "/logout"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    ("GET", "/api/conference"), ("GET", "/api/sessions"), ("GET", "/api/sessions/{id}"),
    ("GET", "/verify/{code}"),
    # Links from mail: the signed token in the path is the credential (tests/test_email.py).
    ("GET", "/account/verify/{token}"), ("GET", "/forgot-password"), ("POST", "/forgot-password"),
    ("GET", "/reset-password/{token}"), ("POST", "/reset-password/{token}"),
}
VALUES = {"id": "heart-failure-2026", "session_id": "heart-failure-2026", "code": "ABCD-EFGH-JKLM",
          "credit_type": "ama_pra_1", "resource": "r1", "name": "x.mkv", "file_id": "f1", "n": "0"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: VALUES.get(m.group(1), "x"), path)


async def test_anonymous_requests_never_reach_private_routes(client: TestClient) -> None:
    checked = 0
    for route in client.server.app.router.routes():
        info = route.resource.canonical if route.resource else ""
        method = route.method
        if method == "HEAD" or info.startswith(("/static", "/socket.io")) or (method, info) in PUBLIC:
            continue
        path = concrete(info)
        if path.startswith("/hall/meridian") or info.startswith("/hall/{id}"):
            path = concrete(info.replace("{id}", "meridian"))
        response = await client.request(method, path, allow_redirects=False, data=b"",
                                        headers={"Accept": "application/json"})
        location = response.headers.get("Location", "")
        refused = response.status in (401, 403, 404) or (response.status in (302, 303) and location.startswith("/login"))
        assert refused, f"{method} {path} answered {response.status} to an anonymous request"
        checked += 1
    assert checked > 40

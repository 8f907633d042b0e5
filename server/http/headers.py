"""Security headers on every response (pages, API, static files, errors)."""

from __future__ import annotations

from aiohttp import web

from ..state import SETTINGS

__all__ = ["CONTENT_SECURITY_POLICY", "setup"]

# Pages load only their own scripts, styles and media; nothing may frame them (clickjacking):
# CSP Level 3 (W3C) `frame-ancestors`, with X-Frame-Options for older browsers (RFC 7034).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# RFC 6797 section 6.1: HSTS is sent only over secure transport; a year, as commonly deployed.
HSTS = "max-age=31536000; includeSubDomains"


def served_over_https(request: web.Request) -> bool:
    """Whether this answer travels over https: TLS here, or the public URL is https (a proxy
    terminates TLS in front of us)."""
    return request.secure or request.app[SETTINGS].public_url.lower().startswith("https://")


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Server"] = "Rounds"  # no version: it only helps someone matching known bugs
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if served_over_https(request):
        headers.setdefault("Strict-Transport-Security", HSTS)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(_add_headers)

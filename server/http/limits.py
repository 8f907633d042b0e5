"""Limits applied before a handler runs: body sizes per route, and who the client really is."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from ..errors import TooLarge
from ..state import SETTINGS
from .middleware import error_response

__all__ = ["BODY_LIMITS", "body_limit_middleware", "client_address", "parse_networks"]

log = logging.getLogger("rounds.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Canonical route path -> the largest body it accepts; every other route gets ``body_max_bytes``.
BODY_LIMITS = web.AppKey("body_limits", dict[str, int])
_NETWORKS = web.AppKey("trusted_proxies", tuple)


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (or single addresses) -> networks; raises ValueError for a bad one."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: web.Request) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the nearest
    untrusted address of ``X-Forwarded-For`` read from the right (each proxy appends the peer
    it saw; only the entries our own proxies added can be believed).
    """
    peer = request.remote or "unknown"
    networks: tuple[Network, ...] = request.app.get(_NETWORKS, ())
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop.strip("[]")))
            except ValueError:
                return peer  # garbage from beyond our proxies: the proxy itself is all we know
    return hops[0] if hops else peer


def setup(app: web.Application) -> None:
    app[_NETWORKS] = parse_networks(app[SETTINGS].trusted_proxies)
    app[BODY_LIMITS] = {}


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuses a body larger than its route allows before anything reads it (413, connection
    closed, so an anonymous 10 MB POST never reaches memory); chunked bodies are capped while read.
    """
    if not request.body_exists:
        return await handler(request)
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else ""
    limit = request.app[BODY_LIMITS].get(canonical, request.app[SETTINGS].body_max_bytes)
    length = request.content_length
    if length is not None and length > limit:
        response = error_response(request, TooLarge(f"the body may be up to {limit} bytes", limit=limit))
        response.force_close()
        return response
    timeout = request.app[SETTINGS].body_timeout_s
    if limit != request.client_max_size:
        timeout *= 10  # uploads: up to 10 MB from a slow hotel connection
    # A body trickled in a byte at a time would hold the connection and the handler as long as
    # the client likes: when the deadline passes before the whole body has arrived, the
    # connection is closed (the handler's read then fails and is counted as 499, not an error).
    deadline = asyncio.get_running_loop().call_later(timeout, _cut_off_slow_body, request)
    try:
        if limit == request.client_max_size:
            return await handler(request)  # aiohttp caps what it reads at the app's client_max_size
        larger = request.clone(client_max_size=limit)
        try:
            return await handler(larger)
        finally:
            # aiohttp releases the temp files of a multipart body only for the request it made.
            larger._finish()
    finally:
        deadline.cancel()


def _cut_off_slow_body(request: web.Request) -> None:
    transport = request.transport
    if not request.content.is_eof() and transport is not None and not transport.is_closing():
        log.info("closing %s %s: its body did not arrive in time", request.method, request.path)
        transport.abort()

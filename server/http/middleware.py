"""Middlewares: request ids, the one translation of errors to responses, metrics, CSRF."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import ClientConnectionResetError, ClientPayloadError, web
from aiohttp_session import get_session

from ..accounts import User
from ..errors import BadRequest, CsrfFailed, RoundsError, error_body
from ..state import CATALOGUE, METRICS
from .identity import bearer, check_csrf, current_user

__all__ = ["csrf_middleware", "error_middleware", "metrics_middleware", "translations"]

log = logging.getLogger("rounds.http")
REQUEST_ID = web.RequestKey("request_id", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Errors of other layers (media/) that map onto the Rounds tree; filled by feature setup.
translations: dict[type[Exception], type[RoundsError]] = {}

_MACHINE_PREFIXES = ("/api/", "/whip/", "/whep/", "/healthz", "/readyz", "/metrics")


def wants_json(request: web.Request) -> bool:
    """API and media clients get JSON errors; browsers get the error page."""
    if request.path.startswith(_MACHINE_PREFIXES):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: web.Request, exc: RoundsError, user: User | None = None) -> web.StreamResponse:
    headers = {}
    retry = exc.extra.get("retry_after")
    if retry is not None:
        headers["Retry-After"] = str(int(retry))
    if exc.status == 401 and request.path.startswith(("/whip/", "/whep/", "/api/")):
        headers["WWW-Authenticate"] = 'Bearer realm="rounds"'
    if wants_json(request):
        return web.json_response(error_body(exc), status=exc.status, headers=headers)
    # The page context is given in full: the error may have come before the context processor ran.
    context = {"error": exc, "status": exc.status, "user": user, "csrf": "",
               "conference": request.app[CATALOGUE].conference if CATALOGUE in request.app else None}
    try:
        response = aiohttp_jinja2.render_template("error.html", request, context, status=exc.status)
    except Exception:
        log.exception("cannot render the error page")
        response = web.Response(text=exc.reason, status=exc.status)
    response.headers.update(headers)
    return response


async def _viewer(request: web.Request) -> User | None:
    """Who sees the error page (so its header offers "Sign in" only to anonymous users)."""
    if wants_json(request):
        return None
    try:
        return await current_user(request)
    except Exception:  # noqa: BLE001 - an error page must render even when the user cannot be resolved
        return None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turns every RoundsError into a response, and anything unexpected into a logged 500."""
    request[REQUEST_ID] = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
    try:
        return await handler(request)
    except RoundsError as exc:
        return error_response(request, exc, await _viewer(request))
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.status != 405 and not exc.headers.get("Location"):
            error = RoundsError(exc.reason)
            error.status, error.code = exc.status, exc.reason.lower().replace(" ", "_")
            return error_response(request, error, await _viewer(request))
        raise
    except UnicodeDecodeError:
        # A form or body whose bytes are not UTF-8 (a lone surrogate encoded, say).
        return error_response(request, BadRequest("the request holds text that is not valid UTF-8"))
    except (ConnectionResetError, ClientConnectionResetError, ClientPayloadError) as exc:
        if request.transport is None or request.transport.is_closing():
            # The client went away mid-body: nothing to answer and nothing went wrong here.
            log.debug("%s %s: the client went away (%s) [request %s]", request.method, request.path,
                      exc.__class__.__name__, request[REQUEST_ID])
            raise ClientClosedRequest() from None
        return error_response(request, BadRequest("the request body was cut short"))
    except Exception as exc:
        mapped = next((cls for base, cls in translations.items() if isinstance(exc, base)), None)
        if mapped is not None:
            return error_response(request, mapped(str(exc)))
        log.exception("unexpected error in %s %s [request %s]", request.method, request.path, request[REQUEST_ID])
        internal = RoundsError(f"something went wrong on our side (request {request[REQUEST_ID]})")
        return error_response(request, internal)


class ClientClosedRequest(web.HTTPClientError):
    """The client went away before its request was read (nginx's 499): not a server error."""

    status_code = 499


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # aiohttp cancels the handler of a connection that closed
        raise
    finally:
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        if not route.startswith("/socket.io"):
            request.app[METRICS].requests.labels(route, str(status)).inc()


_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unsafe requests that rely on the session cookie must carry this session's CSRF token.

    Forms send it as the ``csrf`` field, scripts as the ``X-CSRF-Token`` header. Requests with a
    bearer token carry no ambient authority and are exempt; so is Socket.IO, which checks the
    Origin itself.
    """
    if request.method in _UNSAFE and bearer(request) is None and not request.path.startswith("/socket.io"):
        if request.path.startswith(_MACHINE_PREFIXES) and "uid" not in await get_session(request):
            # No ambient authority to abuse: the handler answers 401 (RFC 9725 for WHIP/WHEP).
            return await handler(request)
        presented = request.headers.get("X-CSRF-Token")
        if presented is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            presented = str((await request.post()).get("csrf", ""))
        if not await check_csrf(request, presented):
            raise CsrfFailed("the form expired or did not come from this site; reload the page and try again")
    return await handler(request)

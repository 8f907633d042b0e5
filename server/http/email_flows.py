"""Mail-backed account flows: address verification and password reset by signed, expiring links."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..accounts import User, valid_email
from ..errors import BadRequest, RateLimited, RoundsError
from ..mail import mail_configured, send_mail
from ..state import ACCOUNTS, CLOCK, COORD, ENGINE, SESSIONS, SETTINGS
from ..store.verified import VerifiedEmails
from .identity import signed_in
from .limits import client_address

__all__ = ["routes", "schedule_verification", "setup"]

log = logging.getLogger("rounds.mail")
routes = web.RouteTableDef()
_VERIFY_SALT = "rounds.verify-email.v1"
_RESET_SALT = "rounds.reset-password.v1"
_TASKS = web.AppKey("mail_tasks", set[asyncio.Task[None]])


def _signer(app: web.Application, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app[SETTINGS].secret_key, salt=salt)


def _base(request: web.Request) -> str:
    return request.app[SETTINGS].public_url.rstrip("/") or str(request.url.origin())


def _fingerprint(password_hash: str) -> str:
    # In the reset link: once the password changes, the link no longer matches and is dead.
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


async def _send_verification(app: web.Application, base: str, user: User) -> None:
    token = _signer(app, _VERIFY_SALT).dumps([user.id, user.email])
    hours = app[SETTINGS].verify_link_ttl_s // 3600
    await send_mail(app[SETTINGS], user.email, "Confirm your email address for Rounds",
                    f"Hello {user.name},\n\nTo confirm that {user.email} is your address, open this link "
                    f"within {hours} hours:\n\n{base}/account/verify/{token}\n\n"
                    "If you did not register, ignore this message.\n")


def schedule_verification(request: web.Request, user: User) -> None:
    """Send the verification mail in the background (registration does not wait for SMTP)."""
    app = request.app
    if not mail_configured(app[SETTINGS]):
        return

    async def send() -> None:
        try:
            await _send_verification(app, _base(request), user)
        except RoundsError:
            pass  # logged by send_mail; the user can ask again

    task = asyncio.get_running_loop().create_task(send())
    tasks = app[_TASKS]
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def setup(app: web.Application) -> None:
    app[_TASKS] = set()


@routes.post("/account/verify")
async def ask_verification(request: web.Request) -> web.StreamResponse:
    user = await signed_in(request)
    if not mail_configured(request.app[SETTINGS]):
        raise BadRequest("this server sends no mail, so addresses cannot be verified here")
    if not await request.app[COORD].hit(f"verify:{user.id}", 5, 3600):
        raise RateLimited("we sent several links already; look for them or wait an hour", retry_after=3600)
    await _send_verification(request.app, _base(request), user)
    return _page(request, "verify_email.html", {"sent": user.email})


@routes.get("/account/verify/{token}", name="verify_email")
async def verify_email(request: web.Request) -> web.StreamResponse:
    try:
        user_id, email = _signer(request.app, _VERIFY_SALT).loads(
            request.match_info["token"], max_age=request.app[SETTINGS].verify_link_ttl_s)
    except SignatureExpired:
        return _page(request, "verify_email.html", {"error": "this link has expired; ask for a new one"}, 400)
    except (BadSignature, ValueError, TypeError):
        return _page(request, "verify_email.html", {"error": "this link is not valid"}, 400)
    user = await request.app[ACCOUNTS].by_id(int(user_id))
    if user is None or user.email != email:
        return _page(request, "verify_email.html", {"error": "this link is for an address no longer in use"}, 400)
    await VerifiedEmails(request.app[ENGINE]).mark(user.id, user.email, request.app[CLOCK].now())
    return _page(request, "verify_email.html", {"verified": user.email})


@routes.get("/forgot-password", name="forgot_password")
async def forgot_page(request: web.Request) -> web.StreamResponse:
    return _page(request, "forgot_password.html", {})


@routes.post("/forgot-password")
async def forgot(request: web.Request) -> web.StreamResponse:
    """Mail a reset link; the answer is the same whether or not the address has an account."""
    form = await request.post()
    settings, coord = request.app[SETTINGS], request.app[COORD]
    try:
        email = valid_email(str(form.get("email", "")))
        for key in (f"reset:ip:{client_address(request)}", f"reset:email:{email}"):
            if not await coord.hit(key, settings.reset_attempts, 3600):
                raise RateLimited("too many reset requests; wait an hour", retry_after=3600)
    except RoundsError as exc:
        return _page(request, "forgot_password.html", {"error": exc.reason}, exc.status)
    found = await request.app[ACCOUNTS].password_hash(email)
    if found is not None and found[1] and mail_configured(settings):
        user = await request.app[ACCOUNTS].by_id(found[0])
        assert user is not None
        token = _signer(request.app, _RESET_SALT).dumps([user.id, _fingerprint(found[1])])
        minutes = settings.reset_link_ttl_s // 60
        try:
            await send_mail(settings, user.email, "Reset your Rounds password",
                            f"Hello {user.name},\n\nSomeone asked to reset the password of {user.email}. "
                            f"To choose a new one, open this link within {minutes} minutes:\n\n"
                            f"{_base(request)}/reset-password/{token}\n\n"
                            "If it was not you, ignore this message: your password stays as it is.\n")
        except RoundsError:
            pass  # same answer either way (logged by send_mail)
    return _page(request, "forgot_password.html", {"sent": True})


async def _reset_user(request: web.Request) -> User:
    try:
        user_id, fingerprint = _signer(request.app, _RESET_SALT).loads(
            request.match_info["token"], max_age=request.app[SETTINGS].reset_link_ttl_s)
    except SignatureExpired:
        raise BadRequest("this reset link has expired; ask for a new one") from None
    except (BadSignature, ValueError, TypeError):
        raise BadRequest("this reset link is not valid") from None
    user = await request.app[ACCOUNTS].by_id(int(user_id))
    found = await request.app[ACCOUNTS].password_hash(user.email) if user is not None else None
    if user is None or found is None or _fingerprint(found[1]) != fingerprint:
        raise BadRequest("this reset link was already used; ask for a new one")
    return user


@routes.get("/reset-password/{token}", name="reset_password")
async def reset_page(request: web.Request) -> web.StreamResponse:
    try:
        await _reset_user(request)
    except RoundsError as exc:
        return _page(request, "reset_password.html", {"error": exc.reason, "dead": True}, exc.status)
    return _page(request, "reset_password.html", {"token": request.match_info["token"]})


@routes.post("/reset-password/{token}")
async def reset(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    new = str(form.get("new", ""))
    try:
        user = await _reset_user(request)
        if len(new) < 10:
            raise BadRequest("the new password must have at least 10 characters", field="new")
    except RoundsError as exc:
        return _page(request, "reset_password.html", {"error": exc.reason, "token": request.match_info["token"]},
                     exc.status)
    await request.app[ACCOUNTS].set_password(user.id, new)
    await request.app[SESSIONS].end_all(user.id, datetime.now(UTC))
    # Receiving the link proves the address too.
    await VerifiedEmails(request.app[ENGINE]).mark(user.id, user.email, request.app[CLOCK].now())
    raise web.HTTPSeeOther("/login?reset=1")


def _page(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, context, status=status)

"""Whether an account's email address was proved: certificates and shared leads need it when the
server sends mail (``ROUNDS_SMTP_HOST``)."""

from __future__ import annotations

from aiohttp import web

from .accounts import User
from .errors import EmailUnverified
from .mail import mail_configured
from .state import ENGINE, SETTINGS
from .store.verified import VerifiedEmails

__all__ = ["require_verified"]


async def require_verified(app: web.Application, user: User) -> None:
    """Raise EmailUnverified when mail is set up and ``user`` has not verified their address:
    a certificate or a lead must not carry an identity nobody proved."""
    if mail_configured(app[SETTINGS]) and not await VerifiedEmails(app[ENGINE]).is_verified(user.id, user.email):
        raise EmailUnverified(f"verify your email address {user.email} first: open the link we sent you "
                              "when you registered (POST /account/verify sends a new one)")

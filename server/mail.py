"""Outgoing mail through the configured SMTP server (aiosmtplib)."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from .errors import Unavailable
from .settings import Settings

__all__ = ["mail_configured", "send_mail"]

log = logging.getLogger("rounds.mail")


def mail_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


async def send_mail(settings: Settings, to: str, subject: str, body: str) -> None:
    """Send a plain-text message; raises :class:`Unavailable` if the SMTP server refuses it."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        await aiosmtplib.send(
            message, hostname=settings.smtp_host, port=settings.smtp_port,
            username=settings.smtp_username or None, password=settings.smtp_password or None,
            start_tls=settings.smtp_starttls, timeout=15,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        log.warning("mail to %s not sent: %s", to, exc)
        raise Unavailable("mail cannot be sent right now; try again later", retry_after=60) from None

"""The ``rounds`` command for organizers: serve, users, token, import, export."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalogue import Role
from .conference_file import PROFESSIONS
from .reports import EXPORT_KINDS

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from sqlalchemy.ext.asyncio import AsyncEngine

    from .settings import Settings

    Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]

__all__ = ["main"]

# Only what `--help` needs is imported above; each command imports its own dependencies, so
# `rounds --help` does not load aiohttp, socketio or the storage layer.


class CliError(Exception):
    """A one-line reason to exit non-zero."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rounds", description="Rounds: virtual CME conferences.")
    parser.add_argument("--config", type=Path, help="a TOML settings file (overrides config/default.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the conference over HTTP")
    serve.add_argument("--host", help="address to listen on (default: setting host)")
    serve.add_argument("--port", type=int, help="port to listen on (default: setting port / $PORT)")
    serve.set_defaults(run=_serve)

    users = sub.add_parser("users", help="add and list accounts").add_subparsers(
        dest="users_command", required=True, metavar="ACTION")
    add = users.add_parser("add", help="create an account")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--name", help="display name (default: from the email)")
    add.add_argument("--password", help="password (default: prompt when interactive; none means token-only)")
    add.add_argument("--profession", default="other", choices=PROFESSIONS)
    add.set_defaults(run=_users_add)
    lst = users.add_parser("list", help="print one email per line")
    lst.add_argument("--role", choices=[r.value for r in Role])
    lst.add_argument("--session", help="only people assigned to this session (faculty/moderators)")
    lst.add_argument("--booth", help="only staff of this booth")
    lst.set_defaults(run=_users_list)

    token = sub.add_parser("token", help="print a signed bearer token for an account")
    token.add_argument("email", nargs="?", help="the account (not needed with --revoke)")
    token.add_argument("--ttl", type=int, help="lifetime in seconds (default: setting token_ttl_s)")
    token.add_argument("--revoke", metavar="TOKEN", help="revoke this token instead of printing a new one")
    token.add_argument("--revoke-all", action="store_true",
                       help="end every token and browser session of EMAIL instead of printing a new one")
    token.set_defaults(run=_token)

    imp = sub.add_parser("import", help="load or update a conference file (TOML or YAML)")
    imp.add_argument("conference_file", type=Path)
    imp.add_argument("--amend", action="store_true",
                     help="allow changes to sessions that have records: they get a new version")
    imp.set_defaults(run=_import)

    export = sub.add_parser("export", help="print a report (CSV) to standard output")
    export.add_argument("kind", choices=sorted(EXPORT_KINDS), help="what to export")
    export.add_argument("--session", help="one session's records")
    export.add_argument("--conference", help="conference id (default: the imported one)")
    export.add_argument("--format", default="csv", help="csv (default), or a kind's other formats (cpe)")
    export.set_defaults(run=_export)
    return parser


async def _engine(settings: Settings) -> AsyncEngine:
    from .store.db import connect, migrate

    engine = connect(settings.db_url)
    await migrate(engine)
    return engine


async def _users_add(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from .accounts import valid_email
    from .store.accounts import AccountStore

    email = valid_email(args.email)
    password = args.password
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("Password (empty for token-only): ")
    if password and len(password) < 10:
        raise CliError("password must have at least 10 characters")
    engine = await _engine(settings)
    try:
        user = await AccountStore(engine).create(
            email, args.name or email.split("@")[0], Role(args.role), password or "", args.profession)
    finally:
        await engine.dispose()
    print(f"created {user.email} ({user.role.value})")
    return 0


async def _users_list(args: argparse.Namespace, settings: Settings) -> int:
    from .store.accounts import AccountStore

    engine = await _engine(settings)
    try:
        emails = await AccountStore(engine).emails(
            Role(args.role) if args.role else None, session=args.session, booth=args.booth)
    finally:
        await engine.dispose()
    for email in emails:
        print(email)
    return 0


async def _token(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from .store.accounts import AccountStore
    from .store.sessions import SessionStore
    from .tokens import mint_token

    if args.revoke:
        return await _revoke(args.revoke, settings)
    if not args.email:
        raise CliError("name the account: rounds token EMAIL")
    ttl = settings.token_ttl_s if args.ttl is None else args.ttl
    if ttl <= 0:
        raise CliError("--ttl must be a positive number of seconds")
    engine = await _engine(settings)
    try:
        user = await AccountStore(engine).by_email(args.email)
    finally:
        await engine.dispose()
    if user is None:
        raise CliError(f"no account {args.email!r}; create it with `rounds users add`")
    if args.revoke_all:
        engine = await _engine(settings)
        try:
            await SessionStore(engine).end_all(user.id, datetime.now(UTC))
        finally:
            await engine.dispose()
        print(f"every token and browser session of {user.email} has ended")
        return 0
    print(mint_token(settings.secret_key, user.id, ttl))
    return 0


async def _revoke(token: str, settings: Settings) -> int:
    from datetime import UTC, datetime

    from .errors import RoundsError
    from .store.sessions import SessionStore
    from .tokens import read_claims

    try:
        claims = read_claims(settings.secret_key, token.strip())
    except RoundsError as exc:
        raise CliError(f"not a token of this deployment: {exc.reason}") from None
    engine = await _engine(settings)
    try:
        await SessionStore(engine).revoke_token(claims.jti, claims.user_id,
                                                datetime.fromtimestamp(claims.expires_at, UTC), datetime.now(UTC))
    finally:
        await engine.dispose()
    print("revoked")
    return 0


async def _import(args: argparse.Namespace, settings: Settings) -> int:
    from .store.load import import_file

    engine = await _engine(settings)
    try:
        summary = await import_file(engine, args.conference_file, amend=args.amend)
    finally:
        await engine.dispose()
    print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in summary.items()))
    return 0


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    from .reports import export
    from .store.catalogue import load_catalogue

    engine = await _engine(settings)
    try:
        catalogue = await load_catalogue(engine, args.conference)
        if args.session and catalogue.session(args.session) is None:
            raise CliError(f"no session {args.session!r} in {catalogue.conference.id}")
        sys.stdout.write(await export(args.kind, engine, catalogue, session_id=args.session, fmt=args.format))
    finally:
        await engine.dispose()
    return 0


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from .app import create_app
    from .http.connections import listen
    from .logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    listening = await listen(create_app(settings), settings, host, port)
    print(f"Rounds is serving on http://{host}:{port}/", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await listening.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rounds`` console script."""
    args = _parser().parse_args(argv)
    from .conference_file import ConferenceFileError
    from .errors import RoundsError
    from .settings import SettingsError, load_settings

    try:
        settings = load_settings(config_file=args.config)
        run: Command = args.run
        return asyncio.run(run(args, settings))
    except (CliError, SettingsError, ConferenceFileError, RoundsError, OSError) as exc:
        print(f"rounds: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

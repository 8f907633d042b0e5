"""Helpers shared by the credit tests: a steppable conference clock and recorded watching.

The clock is the one part faked (STYLE: fake only the outside world): tests move conference
time forward instead of sleeping. Evidence goes through the watch-time feature's own interfaces
(``EVIDENCE`` for media, the ``LEDGER`` heartbeat path that ``/watch`` uses).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.evidence import EVIDENCE, LEDGER
from server.state import CATALOGUE, CLOCK, ENGINE
from server.store.schema import users
from tests.conftest import Person

HF = "heart-failure-2026"  # accredited, live, 09:00-10:30 with a 09:45-09:50 break; now is 09:10


def advance(app: web.Application, seconds: float) -> None:
    """Move the conference clock forward (every reader of ``app[CLOCK]`` sees it at once)."""
    app[CLOCK].advance(seconds)


def after_the_session(app: web.Application, session_id: str = HF) -> None:
    """Move the conference clock past the session's end, when claiming opens (if not there yet)."""
    session = app[CATALOGUE].session(session_id)
    assert session is not None
    left = (session.end - app[CLOCK].now()).total_seconds()
    if left >= 0:
        advance(app, left + 1)


async def watch(app: web.Application, person: Person, session_id: str, minutes: float, tab: str = "tab") -> None:
    """The person's player receives media and their page reports visible+playing for ``minutes``.

    Two heartbeats bound the stretch: the test settings make the heartbeat tolerance long enough.
    """
    session = app[CATALOGUE].session(session_id)
    assert session is not None
    uid = person.user.id
    await app[EVIDENCE].viewer_started(session_id, f"viewer-{uid}-{tab}", uid)
    await app[LEDGER].heartbeat(uid, session, tab, True, True)
    advance(app, minutes * 60)
    await app[LEDGER].heartbeat(uid, session, tab, False, True)
    await app[EVIDENCE].viewer_stopped(session_id, f"viewer-{uid}-{tab}", uid)


async def watch_together(app: web.Application, persons: list[Person], session_id: str, minutes: float) -> None:
    """Like ``watch``, for several people side by side over the same ``minutes``."""
    session = app[CATALOGUE].session(session_id)
    assert session is not None
    for p in persons:
        await app[EVIDENCE].viewer_started(session_id, f"viewer-{p.user.id}-together", p.user.id)
        await app[LEDGER].heartbeat(p.user.id, session, "together", True, True)
    advance(app, minutes * 60)
    for p in persons:
        await app[LEDGER].heartbeat(p.user.id, session, "together", False, True)
        await app[EVIDENCE].viewer_stopped(session_id, f"viewer-{p.user.id}-together", p.user.id)


async def set_profile(app: web.Application, person: Person, **values: Any) -> None:
    """Fill the reporting columns a registration would (NPI, NABP e-Profile ID, birth day, permission)."""
    async with app[ENGINE].begin() as conn:
        await conn.execute(users.update().where(users.c.id == person.user.id).values(**values))


async def acknowledge(client: Any, person: Person, session_id: str) -> None:
    """Pass the disclosure gate through the API, as a non-browser client would."""
    info = await (await client.get(f"/api/sessions/{session_id}", headers=person.auth)).json()
    resp = await client.post(f"/api/sessions/{session_id}/disclosure", json={"version": info["disclosure"]["version"]},
                             headers=person.auth)
    assert resp.status == 200, await resp.text()


async def evaluate(client: Any, person: Person, session_id: str, minutes_spent: float = 0.0,
                   app: web.Application | None = None) -> dict[str, Any]:
    """Answer the session's evaluation through the API (optionally spending conference time on it)."""
    form = await (await client.get(f"/api/sessions/{session_id}/evaluation", headers=person.auth)).json()
    answers = {q["id"]: (4 if q["kind"] == "scale" else "yes" if q["kind"] == "yesno" else "Titrate GDMT sooner")
               for q in form["questions"]}
    if minutes_spent and app is not None:
        advance(app, minutes_spent * 60)
    resp = await client.post(f"/api/sessions/{session_id}/evaluation", json={"answers": answers, "token": form["token"]},
                             headers=person.auth)
    assert resp.status == 201, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def audit_rows(app: web.Application) -> list[Any]:
    """Every audit-log row, oldest first."""
    from server.store.schema import audit_log

    async with app[ENGINE].connect() as conn:
        return list(await conn.execute(sa.select(audit_log).order_by(audit_log.c.id)))


async def claim(client: TestClient, person: Person, amount: Any, credit_type: str = "ama_pra_1",
                attest: Any = True, session: str = HF) -> Any:
    """Claim once the session has ended (claiming opens then)."""
    if client.app[CATALOGUE].session(session) is not None:
        after_the_session(client.app, session)
    return await client.post(f"/api/sessions/{session}/claim", headers=person.auth,
                             json={"credit_type": credit_type, "amount": amount, "attest": attest})


async def transcript(client: TestClient, person: Person) -> dict[str, Any]:
    resp = await client.get("/api/me/transcript", headers=person.auth)
    assert resp.status == 200
    body = await resp.json()
    return {s["id"]: s for s in body["sessions"]} | {"_total": body["total"]}


async def ready(client: TestClient, person: Person, minutes: float = 75) -> None:
    """Disclosure acknowledged, watched ``minutes`` from 09:10, evaluation done."""
    await acknowledge(client, person, HF)
    await watch(client.app, person, HF, minutes)
    await evaluate(client, person, HF)

"""The learner's own agenda as an iCalendar file: ``GET /agenda.ics?sessions=a,b,c``.

The choice of sessions is the learner's (kept in their browser by the agenda page); the file is
made on request from the catalogue (rules in ``server/ical.py``).
"""

from __future__ import annotations

from aiohttp import web

from ..errors import BadRequest
from ..ical import Event, calendar
from ..state import CATALOGUE, CLOCK
from .identity import signed_in

__all__ = ["routes", "setup"]

routes = web.RouteTableDef()
MAX_SESSIONS = 200


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)


@routes.get("/agenda.ics")
async def agenda_ics(request: web.Request) -> web.Response:
    """The chosen sessions (all of them without ``sessions``) as VEVENTs, times in UTC."""
    await signed_in(request)
    catalogue = request.app[CATALOGUE]
    raw = request.query.get("sessions")
    if raw is None:
        chosen = list(catalogue.sessions)
    else:
        ids = [part for part in raw.split(",") if part]
        if len(ids) > MAX_SESSIONS:
            raise BadRequest(f"at most {MAX_SESSIONS} sessions", field="sessions")
        unknown = [i for i in ids if catalogue.session(i) is None]
        if unknown:
            raise BadRequest(f"no such session: {', '.join(unknown[:5])}", field="sessions")
        chosen = [s for s in catalogue.sessions if s.id in set(ids)]
    conference = catalogue.conference
    origin = f"{request.scheme}://{request.host}"
    events = [Event(uid=f"{s.id}@{conference.id}.rounds", start=s.start, end=s.end, summary=s.title,
                    description="\n".join(x for x in [", ".join(s.faculty_names), s.description] if x),
                    location=conference.location, url=f"{origin}/sessions/{s.id}") for s in chosen]
    body = calendar(events, conference.name, request.app[CLOCK].now())
    return web.Response(body=body.encode("utf-8"), content_type="text/calendar", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{conference.id}-agenda.ics"'})

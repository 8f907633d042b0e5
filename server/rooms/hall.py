"""``/hall``: booth chat, private threads, contact sharing, presence for booth staff.

Every event checks the booth exists and what the caller may do there (``server.authz``);
records are stored before anything is broadcast. Presence goes through ``app[COORD]`` (Redis
across processes), counted per user so that several tabs, and a reconnect that arrives before
the old connection is noticed gone, leave the count right.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import Counter

from ..accounts import User
from ..authz import Action, require
from ..catalogue import Booth
from ..errors import BadRequest, NotAllowed, NotFound
from ..hall import (
    MAX_TEXT,
    Lead,
    Thread,
    hall_key,
    is_staff,
    lead_json,
    message_json,
    parse_fields,
    pseudonym,
    visitor_hash,
    visitor_label,
)
from ..state import ACCOUNTS, CATALOGUE, CLOCK, COORD, METRICS, SETTINGS, SIO
from ..store.hall import HallStore
from ..verification import require_verified
from .base import RoundsNamespace, get_int, get_str

__all__ = ["HALL", "HallNamespace", "booth_state", "staff_online"]

HALL = web.AppKey("hall_store", HallStore)
ACTIONS_PER_MINUTE = 60  # enter, private, share, withdraw: generous, but not a flood


def visitors_room(booth: str) -> str:
    return f"booth:{booth}"


def staff_room(booth: str) -> str:
    return f"booth:{booth}:staff"


def user_room(booth: str, user_id: int) -> str:
    """Every connection of one visitor in one booth (their private thread, a ban)."""
    return f"booth:{booth}:user:{user_id}"


def _presence_key(booth: str, kind: str) -> str:
    return f"hall:{booth}:{kind}"


async def staff_online(app: web.Application, booth: str) -> list[str]:
    """Names of the booth's own staff connected to it now (on any process)."""
    names = []
    for member in await app[COORD].presence(_presence_key(booth, "staff")):
        user = await app[ACCOUNTS].by_id(int(member))
        if user is not None:
            names.append(user.name)
    return sorted(names)


async def booth_state(app: web.Application, booth: str) -> dict[str, Any]:
    """Presence as the booth's staff see it: a count, and names only of visitors who shared."""
    present = [int(m) for m in await app[COORD].presence(_presence_key(booth, "visitors"))]
    leads = await app[HALL].leads(booth, present) if present else []
    key = hall_key(app[SETTINGS].secret_key)
    return {
        "booth": booth,
        "visitors": len(present),
        "shared": sorted(visitor_label(key, booth, lead.user_id, lead) for lead in leads),
        "staff": await staff_online(app, booth),
    }


class HallNamespace(RoundsNamespace):
    """The exhibit hall's events; see docs/realtime.md ``## /hall``."""

    def __init__(self, namespace: str, app: web.Application) -> None:
        super().__init__(namespace, app)
        self.entered: dict[str, set[str]] = {}  # sid -> booths it is in (this process only)
        registry = app[METRICS].registry
        self.counted = Counter("rounds_hall_events", "Hall chat messages and consents stored, by kind", ["kind"],
                               registry=registry)

    @property
    def store(self) -> HallStore:
        return self.app[HALL]

    @property
    def key(self) -> bytes:
        return hall_key(self.app[SETTINGS].secret_key)

    def _booth(self, data: dict[str, Any]) -> Booth:
        booth = self.app[CATALOGUE].booth(get_str(data, "booth", 64))
        if booth is None:
            raise NotFound("there is no such booth")
        return booth

    def _inside(self, sid: str, data: dict[str, Any]) -> tuple[User, Booth, bool]:
        """The caller, the booth they are in, and whether they are its staff."""
        user, booth = self.user(sid), self._booth(data)
        require(user, Action.VISIT_BOOTH, booth.id)
        if booth.id not in self.entered.get(sid, set()):
            raise BadRequest("enter the booth first")
        return user, booth, is_staff(user, booth.id)

    async def _not_banned(self, user: User, booth: Booth) -> None:
        if await self.store.is_banned(booth.id, user.id):
            raise NotAllowed("the organizers have removed you from this booth")

    async def _leads(self, booth: str, user_ids: list[int] | None = None) -> dict[int, Lead]:
        return {lead.user_id: lead for lead in await self.store.leads(booth, user_ids)}

    async def _announce(self, booth: str, staff_changed: bool = False) -> None:
        await self.emit("presence", await booth_state(self.app, booth), room=staff_room(booth))
        if staff_changed:
            online = await staff_online(self.app, booth)
            await self.emit("staff", {"booth": booth, "online": online}, room=visitors_room(booth))

    # ------------------------------------------------------------------ entering and leaving
    async def on_enter(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user, booth = self.user(sid), self._booth(data)
        require(user, Action.VISIT_BOOTH, booth.id)
        staff = is_staff(user, booth.id)
        if not staff:
            await self._not_banned(user, booth)
        await self.limit(user, "hall_actions", ACTIONS_PER_MINUTE)
        if booth.id in self.entered.get(sid, set()) and not staff:
            # Entering again changes nothing, and the visitor already has the history: answering
            # it again (200 messages) would let a client that never reads grow our queues.
            return {"role": "visitor", "booth": {"id": booth.id, "org": booth.org}, "already": True}
        if booth.id not in self.entered.get(sid, set()):
            self.entered.setdefault(sid, set()).add(booth.id)
            coord, now = self.app[COORD], self.app[CLOCK].now()
            await coord.presence_add(_presence_key(booth.id, f"sids:{user.id}"), sid)
            if staff:
                await self.enter_room(sid, staff_room(booth.id))
                if booth.id in user.staffs:  # organizers look in without showing as staff
                    await coord.presence_add(_presence_key(booth.id, "staff"), str(user.id))
            else:
                await self.enter_room(sid, visitors_room(booth.id))
                await self.enter_room(sid, user_room(booth.id, user.id))
                if await coord.presence_add(_presence_key(booth.id, "visitors"), str(user.id)) == 1:
                    await self.store.visit_start(booth.id, visitor_hash(self.key, booth.id, user.id), now)
            await self._announce(booth.id, staff_changed=booth.id in user.staffs)
        return await (self._staff_view(user, booth) if staff else self._visitor_view(user, booth))

    async def _visitor_view(self, user: User, booth: Booth) -> dict[str, Any]:
        messages = await self.store.messages(booth.id, None)
        thread = await self.store.thread_of(booth.id, user.id)
        lead = await self.store.lead(booth.id, user.id)
        return {
            "role": "visitor",
            "booth": {"id": booth.id, "org": booth.org, "staff_online": await staff_online(self.app, booth.id)},
            "me": {"pseudonym": pseudonym(self.key, booth.id, user.id),
                   "shared": lead_json(lead) if lead is not None else None},
            "messages": [message_json(self.key, m, for_staff=False) for m in messages],
            "thread": await self._thread_json(thread, for_staff=False) if thread is not None else None,
        }

    async def _staff_view(self, user: User, booth: Booth) -> dict[str, Any]:
        leads = await self._leads(booth.id)
        messages = await self.store.messages(booth.id, None)
        return {
            "role": "staff",
            "booth": {"id": booth.id, "org": booth.org},
            "messages": [message_json(self.key, m, for_staff=True, leads=leads) for m in messages],
            "threads": await self._threads(booth.id, user, leads),
            "presence": await booth_state(self.app, booth.id),
        }

    async def _threads(self, booth: str, user: User, leads: dict[int, Lead]) -> list[dict[str, Any]]:
        return [
            {"id": t.id, "visitor": visitor_label(self.key, booth, t.visitor_id, leads.get(t.visitor_id)),
             "unread": unread, "last_at": last.isoformat() if last else None}
            for t, unread, last in await self.store.threads(booth, user.id)
        ]

    async def _thread_json(self, thread: Thread, *, for_staff: bool) -> dict[str, Any]:
        leads = await self._leads(thread.booth, [thread.visitor_id]) if for_staff else {}
        messages = await self.store.messages(thread.booth, thread.id)
        return {"id": thread.id, "messages": [message_json(self.key, m, for_staff=for_staff, leads=leads)
                                              for m in messages]}

    async def on_leave(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user, booth = self.user(sid), self._booth(data)
        if booth.id in self.entered.get(sid, set()):
            await self._leave(sid, user, booth.id)
        return {}

    async def _leave(self, sid: str, user: User, booth: str) -> None:
        self.entered.get(sid, set()).discard(booth)
        coord = self.app[COORD]
        await coord.presence_remove(_presence_key(booth, f"sids:{user.id}"), sid)
        for room in (visitors_room(booth), staff_room(booth), user_room(booth, user.id)):
            await self.leave_room(sid, room)
        if is_staff(user, booth):
            if booth in user.staffs:
                await coord.presence_remove(_presence_key(booth, "staff"), str(user.id))
        elif await coord.presence_remove(_presence_key(booth, "visitors"), str(user.id)) == 0:
            await self.store.visit_end(booth, visitor_hash(self.key, booth, user.id), self.app[CLOCK].now())
        await self._announce(booth, staff_changed=booth in user.staffs)

    async def disconnected(self, sid: str, user: User) -> None:
        for booth in sorted(self.entered.get(sid, set())):
            await self._leave(sid, user, booth)
        self.entered.pop(sid, None)

    # ------------------------------------------------------------------ chat
    async def on_chat(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user, booth, staff = self._inside(sid, data)
        text = get_str(data, "text", MAX_TEXT)
        if not staff:
            await self._not_banned(user, booth)
        await self.limit(user, "hall_messages", self.app[SETTINGS].hall_messages_per_minute)
        thread: Thread | None = None
        if data.get("thread") is not None:
            thread = await self.store.thread(booth.id, get_int(data, "thread", minimum=1))
            if not staff and thread.visitor_id != user.id:
                raise NotAllowed("that is not your conversation")
        msg = await self.store.add_message(booth.id, thread.id if thread else None, user.id,
                                           user.name if staff else None, text, self.app[CLOCK].now())
        self.counted.labels("private_message" if thread else "public_message").inc()
        leads = {} if staff else await self._leads(booth.id, [user.id])
        to_staff = message_json(self.key, msg, for_staff=True, leads=leads)
        to_visitors = message_json(self.key, msg, for_staff=False)
        visitor_side = user_room(booth.id, thread.visitor_id) if thread else visitors_room(booth.id)
        await self.emit("message", to_visitors, room=visitor_side, skip_sid=sid)
        await self.emit("message", to_staff, room=staff_room(booth.id), skip_sid=sid)
        return {"message": to_staff if staff else to_visitors}

    async def on_private(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user, booth, staff = self._inside(sid, data)
        if staff:
            raise BadRequest("staff answer in a visitor's thread; visitors open them")
        await self._not_banned(user, booth)
        await self.limit(user, "hall_actions", ACTIONS_PER_MINUTE)
        thread, created = await self.store.open_thread(booth.id, user.id, self.app[CLOCK].now())
        if created:
            lead = await self.store.lead(booth.id, user.id)
            summary = {"id": thread.id, "visitor": visitor_label(self.key, booth.id, user.id, lead), "unread": 0,
                       "last_at": None}
            await self.emit("thread", {"booth": booth.id, "thread": summary}, room=staff_room(booth.id))
        return {"thread": await self._thread_json(thread, for_staff=False)}

    async def on_threads(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user, booth, _ = self._inside(sid, data)
        require(user, Action.STAFF_BOOTH, booth.id)
        return {"threads": await self._threads(booth.id, user, await self._leads(booth.id))}

    async def on_thread(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Staff open a thread: its messages, and it counts as read."""
        user, booth, _ = self._inside(sid, data)
        require(user, Action.STAFF_BOOTH, booth.id)
        thread = await self.store.thread(booth.id, get_int(data, "thread", minimum=1))
        await self.store.mark_read(thread.id, user.id)
        return {"thread": await self._thread_json(thread, for_staff=True)}

    async def on_read(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user, booth, _ = self._inside(sid, data)
        require(user, Action.STAFF_BOOTH, booth.id)
        thread = await self.store.thread(booth.id, get_int(data, "thread", minimum=1))
        await self.store.mark_read(thread.id, user.id)
        return {}

    # ------------------------------------------------------------------ consent
    async def on_share(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user, booth, staff = self._inside(sid, data)
        if staff:
            raise BadRequest("staff do not share contact details with their own booth")
        await self._not_banned(user, booth)
        await require_verified(self.app, user)
        fields = parse_fields(data.get("fields"))
        await self.limit(user, "hall_actions", ACTIONS_PER_MINUTE)
        lead = await self.store.share(booth.id, user.id, fields, user.email, self.app[CLOCK].now())
        self.counted.labels("share").inc()
        await self.emit("lead", {"booth": booth.id, "lead": lead_json(lead)}, room=staff_room(booth.id))
        await self._announce(booth.id)
        return {"shared": lead_json(lead)}

    async def on_withdraw(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user, booth = self.user(sid), self._booth(data)
        require(user, Action.VISIT_BOOTH, booth.id)
        await self.limit(user, "hall_actions", ACTIONS_PER_MINUTE)
        lead = await self.store.withdraw(booth.id, user.id, user.email, self.app[CLOCK].now())
        if lead is not None:
            await self.emit("lead", {"booth": booth.id, "withdrawn": lead.id}, room=staff_room(booth.id))
            await self._announce(booth.id)
        return {"withdrawn": lead is not None}

    async def on_visitor(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Staff ask who wrote a message or opened a thread: only what that visitor shared."""
        user, booth, _ = self._inside(sid, data)
        require(user, Action.READ_LEADS, booth.id)
        if data.get("thread") is not None:
            visitor_id = (await self.store.thread(booth.id, get_int(data, "thread", minimum=1))).visitor_id
        else:
            msg = await self.store.message(get_int(data, "message", minimum=1))
            if msg is None or msg.booth != booth.id:
                raise NotFound("no such message in this booth")
            if msg.from_staff:
                return {"visitor": None, "staff": msg.staff_name}
            visitor_id = msg.author_id
        lead = await self.store.lead(booth.id, visitor_id)
        if lead is None:
            raise NotAllowed("this visitor has not shared contact details with your booth")
        return {"visitor": lead_json(lead)}

    # ------------------------------------------------------------------ moderation
    async def on_delete(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user, booth = self.user(sid), self._booth(data)
        require(user, Action.MODERATE_BOOTH, booth.id)
        msg = await self.store.message(get_int(data, "message", minimum=1))
        if msg is None or msg.booth != booth.id:
            raise NotFound("no such message in this booth")
        await self.store.delete_message(msg, user.email, user.id, self.app[CLOCK].now())
        gone = {"booth": booth.id, "message": msg.id, "thread": msg.thread}
        if msg.thread is None:
            await self.emit("deleted", gone, room=visitors_room(booth.id))
        else:
            visitor_id = (await self.store.thread(booth.id, msg.thread)).visitor_id
            await self.emit("deleted", gone, room=user_room(booth.id, visitor_id))
        await self.emit("deleted", gone, room=staff_room(booth.id))
        return {"deleted": msg.id}

    async def on_ban(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user, booth = self.user(sid), self._booth(data)
        require(user, Action.BAN_FROM_BOOTH, booth.id)
        reason = get_str(data, "reason", 500, required=False)
        if data.get("message") is not None:
            msg = await self.store.message(get_int(data, "message", minimum=1))
            if msg is None or msg.booth != booth.id:
                raise NotFound("no such message in this booth")
            target = await self.app[ACCOUNTS].by_id(msg.author_id)
        else:
            target = await self.app[ACCOUNTS].by_email(get_str(data, "email", 254))
        if target is None:
            raise NotFound("no such user")
        if is_staff(target, booth.id):
            raise BadRequest("booth staff and organizers cannot be banned from a booth")
        await self.store.ban(booth.id, target.id, user.email, user.id, reason, self.app[CLOCK].now())
        await self.emit("banned", {"booth": booth.id, "reason": reason}, room=user_room(booth.id, target.id))
        # Their connections to this booth end, on whichever process holds them.
        for target_sid in await self.app[COORD].presence(_presence_key(booth.id, f"sids:{target.id}")):
            await self.app[SIO].disconnect(target_sid, namespace=self.namespace)
        return {"banned": True}

"""``/polls``: a session's polls: the presenter's side opens, closes and releases; everyone answers.

Rooms: ``polls:<session>`` (everyone who joined: poll changes, released results) and
``polls-run:<session>`` (those who may run polls there: live results after every answer).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..accounts import User
from ..authz import Action, allowed, require
from ..catalogue import Session
from ..errors import BadRequest, Conflict, NotAllowed, NotFound
from ..evidence import LEDGER
from ..polls import (
    Poll,
    PollStatus,
    PreparedPoll,
    attention_prompt_id,
    attention_prompt_prefix,
    check_answer,
    draft,
    results,
    tally,
)
from ..state import CATALOGUE, CLOCK
from ..store.polls import PollStore
from .base import RoundsNamespace, get_bool, get_int, get_str

__all__ = ["NAMESPACE", "POLLS", "PREPARED", "PollsNamespace", "can_run"]

NAMESPACE = "/polls"
POLLS = web.AppKey("polls", PollStore)
PREPARED = web.AppKey("prepared_polls", list[PreparedPoll])


def audience(session_id: str) -> str:
    return f"polls:{session_id}"


def runners(session_id: str) -> str:
    return f"polls-run:{session_id}"


def can_run(user: User, session_id: str) -> bool:
    """The session's moderators and faculty, and organizers, run its polls."""
    return allowed(user, Action.MODERATE, session_id) or allowed(user, Action.PUBLISH, session_id)


class PollsNamespace(RoundsNamespace):
    """``join``, ``open``, ``answer``, ``close``, ``release``; emits ``poll`` and ``results``."""

    def _session(self, data: dict[str, Any]) -> Session:
        session = self.app[CATALOGUE].session(get_str(data, "session", 200))
        if session is None:
            raise NotFound("there is no such session")
        return session

    async def _poll(self, data: dict[str, Any]) -> Poll:
        return await self.app[POLLS].get(get_int(data, "poll", minimum=1))

    def _runner(self, user: User, session_id: str) -> None:
        if not can_run(user, session_id):
            raise NotAllowed("only the session's moderators, faculty and organizers run its polls")

    async def _results(self, poll: Poll) -> dict[str, Any]:
        return results(poll, tally(poll, await self.app[POLLS].options_chosen(poll.id)))

    def _prepared(self, session_id: str) -> list[PreparedPoll]:
        return [p for p in self.app.get(PREPARED, []) if p.session == session_id]

    async def on_join(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user = self.user(sid)
        session = self._session(data)
        require(user, Action.WATCH, session.id)
        for joined in [r for r in self.rooms(sid) if r.startswith("polls")]:
            await self.leave_room(sid, joined)
        await self.enter_room(sid, audience(session.id))
        run = can_run(user, session.id)
        if run:
            await self.enter_room(sid, runners(session.id))
        polls = await self.app[POLLS].for_session(session.id)
        shown = [p for p in polls if run or p.released]
        return {
            "polls": [p.json() for p in polls],
            "mine": {str(k): v for k, v in (await self.app[POLLS].mine(session.id, user.id)).items()},
            "results": {str(p.id): await self._results(p) for p in shown},
            "can_run": run,
            "can_answer": allowed(user, Action.ASK, session.id),
            "prepared": [p.json() for p in self._prepared(session.id)] if run else [],
        }

    async def on_open(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user = self.user(sid)
        session = self._session(data)
        self._runner(user, session.id)
        await self.limit(user, "polls", 30)
        if "prepared" in data:
            prepared = self._prepared(session.id)
            if not prepared:
                raise BadRequest("this session has no prepared polls", field="prepared")
            chosen = prepared[get_int(data, "prepared", maximum=len(prepared) - 1)]
            question, options, attention = chosen.question, chosen.options, chosen.attention
        else:
            question, options = draft(data.get("question"), data.get("options"))
            attention = get_bool(data, "attention", False)
        poll = await self.app[POLLS].open(session.id, question, options, attention, user.id, self.app[CLOCK].now())
        await self._prompt_watchers(poll, session)
        await self.emit("poll", poll.json(), room=audience(session.id))
        await self.emit("results", await self._results(poll), room=runners(session.id))
        return {"poll": poll.json()}

    async def on_answer(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user = self.user(sid)
        poll = await self._poll(data)
        require(user, Action.ASK, poll.session)
        store = self.app[POLLS]
        option = check_answer(poll, data.get("option"), await store.answer_of(poll.id, user.id))
        await store.answer(poll.id, user.id, option, self.app[CLOCK].now())
        if poll.attention:
            await self._settle_prompt(poll, user.id)
        tallied = await self._results(poll)
        await self.emit("results", tallied, room=runners(poll.session))
        if poll.released:
            await self.emit("results", tallied, room=audience(poll.session))
        return {"poll": poll.id, "option": option}

    async def _change(self, sid: str, data: dict[str, Any], **change: Any) -> dict[str, Any]:
        user = self.user(sid)
        poll = await self._poll(data)
        self._runner(user, poll.session)
        poll = await self.app[POLLS].update(poll.id, now=self.app[CLOCK].now(), **change)
        ledger, session = self.app.get(LEDGER), self.app[CATALOGUE].session(poll.session)
        if poll.attention and poll.status is PollStatus.CLOSED and ledger is not None and session is not None:
            await ledger.close_prompts(session, attention_prompt_prefix(poll.id))
        tallied = await self._results(poll)
        await self.emit("poll", poll.json(), room=audience(poll.session))
        await self.emit("results", tallied, room=runners(poll.session) if not poll.released else audience(poll.session))
        return {"poll": poll.json(), "results": tallied}

    # -- a poll as the session's attention check --------------------------------------------

    async def _prompt_watchers(self, poll: Poll, session: Session) -> None:
        """An attention poll stops the clock of everyone watching the accredited session (on this
        process) until they answer it."""
        ledger = self.app.get(LEDGER)
        if not poll.attention or not session.accredited or ledger is None:
            return
        for user_id in ledger.watching_now(session.id):
            await ledger.show_prompt(user_id, session, attention_prompt_id(poll.id, user_id))

    async def _settle_prompt(self, poll: Poll, user_id: int) -> None:
        ledger, session = self.app.get(LEDGER), self.app[CATALOGUE].session(poll.session)
        if ledger is None or session is None:
            return
        try:
            await ledger.answer_prompt(user_id, session, attention_prompt_id(poll.id, user_id))
        except (NotFound, Conflict):  # not watching when it opened, or already settled
            pass

    async def on_close(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self._change(sid, data, status=PollStatus.CLOSED)

    async def on_release(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self._change(sid, data, released=get_bool(data, "on", True))

"""The ``/qa`` namespace: join a session's Q&A, ask, vote, moderate; ``question`` broadcasts.

Rooms per session: ``<session>:mod`` (moderators and organizers: every question, full detail),
``<session>:all`` (everyone else: approved and answered questions, anonymous authors hidden) and
``<session>:u:<user id>`` (an author's own questions while the audience may not see them).
Every change is stored, then broadcast; vote counts are coalesced per room by a
:class:`~server.qna.Throttle`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from .. import disclosure_gate
from ..accounts import User
from ..authz import Action, allowed, require
from ..catalogue import Session, SessionState
from ..errors import Conflict, NotFound, RoundsError, Unavailable
from ..qna import (
    Move,
    Question,
    Throttle,
    Viewer,
    apply,
    audience_order,
    author_view,
    check_text,
    initial_status,
    moderator_view,
    public_view,
    publicly_visible,
    view,
)
from ..state import CATALOGUE, CLOCK, COORD, ENGINE, SETTINGS, SIO
from ..store.qa import Ballot, QaStore
from .base import RoundsNamespace, get_bool, get_int, get_str
from .qa_fanout import Fanout

__all__ = ["QA_STORE", "QNA", "QnaNamespace", "qa_context"]

log = logging.getLogger("rounds.qa")
QA_STORE = web.AppKey("qa_store", QaStore)
VOTE_INTERVAL_S = 0.5  # a room gets at most two vote updates a second from each process
_FLUSH = "\x00flush"  # an outbox marker: everything before it has been handed to the manager
RESYNC_GRACE_S = 3.0  # after Redis comes back, time for the Socket.IO manager to resubscribe


class QnaNamespace(RoundsNamespace):
    """Moderated questions of live sessions."""

    def __init__(self, namespace: str, app: web.Application) -> None:
        super().__init__(namespace, app)
        self.fanout = Fanout(app[SIO], namespace)
        self.sessions: dict[str, str] = {}  # sid -> joined session id
        self.throttles: dict[str, Throttle] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.outbox: asyncio.Queue[tuple[str, Any, str | list[str] | None]] = asyncio.Queue()
        self.ballots: asyncio.Queue[tuple[Ballot, asyncio.Future[Question]]] = asyncio.Queue()

    # -- connection ----------------------------------------------------------------------------

    async def disconnected(self, sid: str, user: User) -> None:
        self.sessions.pop(sid, None)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        result = await super().trigger_event(event, *args)
        if event not in ("connect", "disconnect"):
            # The broadcasts this call caused are queued to their sockets before its ack is, so
            # the caller's socket sees them in that order (both share the socket's queue).
            flushed = asyncio.get_running_loop().create_future()
            self.outbox.put_nowait((_FLUSH, flushed, None))
            try:
                await asyncio.wait_for(asyncio.shield(flushed), 10)
            except TimeoutError:
                log.warning("Q&A broadcasts are more than 10 s behind")
        return result

    # -- events --------------------------------------------------------------------------------

    async def on_join(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Enter a session's Q&A; answers with everything this user may see now."""
        user = self.user(sid)
        session = self._session(get_str(data, "session", 64))
        require(user, Action.READ_QUEUE, session.id)
        viewer = self._viewer(user, session.id)
        previous = self.sessions.get(sid)
        if previous is not None:
            for room in self.rooms(previous, user.id):
                await self.leave_room(sid, room)
        for room in self._rooms_for(session.id, viewer):
            await self.enter_room(sid, room)
        self.sessions[sid] = session.id
        return {"state": await self.state(session, viewer)}

    async def on_ask(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Ask a question (pending until approved when the session is pre-moderated)."""
        user = self.user(sid)
        session = self._session(get_str(data, "session", 64))
        require(user, Action.ASK, session.id)
        await disclosure_gate.require(self.app, user, session)
        text = check_text(get_str(data, "text", self.settings.qa_max_text), self.settings.qa_max_text)
        anonymous = get_bool(data, "anonymous", False)
        if session.state(self.app[CLOCK].now()) is SessionState.ENDED:
            raise Conflict("the session has ended; its Q&A is closed")
        await self.limit(user, "questions", self.settings.qa_questions_per_minute)
        question = await self.store.ask(session.id, user.id, text, anonymous,
                                        initial_status(session.premoderation), self.app[CLOCK].now())
        self._broadcast_change(None, question)
        return {"question": view(question, self._viewer(user, session.id))}

    async def on_vote(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Upvote a question (``up: false`` takes the vote back); once per person."""
        user = self.user(sid)
        question_id = get_int(data, "question", minimum=1)
        up = get_bool(data, "up", True)

        def may_vote(question: Question) -> None:
            require(user, Action.ASK, question.session)
            disclosure_gate.check(self.app, user, question.session)
            if not publicly_visible(question):
                raise NotFound("there is no such question")

        await self.limit(user, "votes", self.settings.qa_votes_per_minute)
        await disclosure_gate.load(self.app, user)
        done: asyncio.Future[Question] = asyncio.get_running_loop().create_future()
        self.ballots.put_nowait((Ballot(question_id, user.id, up, self.app[CLOCK].now(), may_vote), done))
        stored = await done  # stored (with the votes that arrived alongside) before the answer
        self._votes_changed(stored)
        return {"question": stored.id, "votes": stored.votes, "voted": up}

    async def on_moderate(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Approve, dismiss, edit, merge, pin, stage or mark answered (moderators of the session)."""
        user = self.user(sid)
        question = await self.store.get(get_int(data, "question", minimum=1))
        require(user, Action.MODERATE, question.session)
        action = get_str(data, "action", 20)
        move = await self._move(action, question, data)
        detail = _detail(action, move)
        stored = await self.store.save(move, user.id, action, detail, self.app[CLOCK].now())
        befores = {move.before.id: move.before, **{b.id: b for b, _ in move.others}}
        # Stage changes: what leaves the stage goes out before what enters it.
        for after in sorted(stored, key=lambda q: q.on_stage):
            self._broadcast_change(befores[after.id], after)
        return {"question": moderator_view(stored[0]), "others": [moderator_view(q) for q in stored[1:]]}

    # -- state and rules -----------------------------------------------------------------------

    @property
    def settings(self) -> Any:
        return self.app[SETTINGS]

    @property
    def store(self) -> QaStore:
        return self.app[QA_STORE]

    def _session(self, session_id: str) -> Session:
        session = self.app[CATALOGUE].session(session_id)
        if session is None:
            raise NotFound("there is no such session")
        return session

    def _viewer(self, user: User, session_id: str) -> Viewer:
        return Viewer(user.id, allowed(user, Action.MODERATE, session_id))

    @staticmethod
    def rooms(session_id: str, user_id: int) -> list[str]:
        return [f"{session_id}:mod", f"{session_id}:all", f"{session_id}:u:{user_id}"]

    @staticmethod
    def _rooms_for(session_id: str, viewer: Viewer) -> list[str]:
        main = f"{session_id}:mod" if viewer.moderator else f"{session_id}:all"
        return [main, f"{session_id}:u:{viewer.user_id}"]

    async def state(self, session: Session, viewer: Viewer) -> dict[str, Any]:
        """What ``viewer`` may see of a session's Q&A right now."""
        everything = await self.store.for_session(session.id)
        if viewer.moderator:
            shown = [moderator_view(q) for q in audience_order(everything)]
        else:
            shown = [public_view(q) for q in audience_order(everything) if publicly_visible(q)]
        staged = next((q for q in everything if q.on_stage), None)
        return {
            "session": session.id,
            "premoderation": session.premoderation,
            "moderator": viewer.moderator,
            "questions": shown,
            "on_stage": None if staged is None else (view(staged, viewer)),
            "mine": [author_view(q) for q in everything if q.author_id == viewer.user_id],
            "voted": sorted(await self.store.voted(session.id, viewer.user_id)),
        }

    async def _move(self, action: str, question: Question, data: dict[str, Any]) -> Move:
        if action == "dismiss":
            return apply(action, question, reason=get_str(data, "reason", 200, required=False))
        if action == "edit":
            text = check_text(get_str(data, "text", self.settings.qa_max_text), self.settings.qa_max_text)
            return apply(action, question, text=text)
        if action == "merge":
            into = await self.store.get(get_int(data, "into", minimum=1))
            return apply(action, question, into=into)
        if action in ("pin", "stage"):
            on = get_bool(data, "on", True)
            staged = await self.store.on_stage(question.session) if action == "stage" else None
            return apply(action, question, on=on, staged=staged)
        return apply(action, question)

    # -- broadcasting --------------------------------------------------------------------------

    def _send(self, event: str, data: Any, room: str | list[str]) -> None:
        self.outbox.put_nowait((event, data, room))

    def _broadcast_change(self, before: Question | None, after: Question) -> None:
        session = after.session
        self._send("question", moderator_view(after), f"{session}:mod")
        if publicly_visible(after):
            self._send("question", public_view(after), f"{session}:all")
        else:
            if before is not None and publicly_visible(before):
                self._send("retract", {"id": after.id, "session": session}, f"{session}:all")
            self._send("question", author_view(after), f"{session}:u:{after.author_id}")
        if before is None or before.on_stage != after.on_stage:
            staged = public_view(after) if after.on_stage else None
            if after.on_stage or (before is not None and before.on_stage):
                self._send("stage", {"session": session, "question": staged},
                           [f"{session}:mod", f"{session}:all"])

    def _votes_changed(self, question: Question) -> None:
        throttle = self.throttles.setdefault(question.session, Throttle(VOTE_INTERVAL_S))
        delay = throttle.mark(question.id, time.monotonic())
        if delay is not None:
            self._spawn(self._flush_votes(question.session, delay))

    async def _flush_votes(self, session: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)  # the throttle's slot, not a wait for an event
        throttle = self.throttles[session]
        ids = throttle.take(time.monotonic())
        # Big rooms take long to write to: keep vote updates under ~a quarter of the loop's time.
        throttle.interval = max(VOTE_INTERVAL_S, 4 * self.fanout.recent.get(f"{session}:all", 0.0))
        try:
            changed = await self.store.many(ids)
        except Exception:
            log.exception("reading %d voted questions failed; their counts go out with the next vote", len(ids))
            return
        for question in changed:
            self._send("question", moderator_view(question), f"{session}:mod")
            if publicly_visible(question):
                self._send("question", public_view(question), f"{session}:all")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _vote_writer(self) -> None:
        # Group commit: the votes that arrived while the last batch was being written go together.
        while True:
            batch = [await self.ballots.get()]
            while not self.ballots.empty() and len(batch) < 500:
                batch.append(self.ballots.get_nowait())
            try:
                results: list[Question | RoundsError] = await self.store.vote_many([b for b, _ in batch])
            except Exception:
                log.exception("writing %d votes failed", len(batch))
                results = [Unavailable("votes cannot be stored right now; try again")] * len(batch)
            for (_, done), result in zip(batch, results, strict=True):
                if done.done():
                    continue  # the caller went away
                if isinstance(result, RoundsError):
                    done.set_exception(result)
                else:
                    done.set_result(result)

    async def _sender(self) -> None:
        # One sender keeps broadcasts in the order their changes were stored.
        while True:
            event, data, room = await self.outbox.get()
            if event == _FLUSH:
                if not data.done():
                    data.set_result(None)
                continue
            try:
                await self.fanout.emit(event, data, room)
            except Exception:
                log.exception("broadcast of %s to %s failed", event, room)

    async def _watch_redis(self) -> None:
        """Tell local clients to rejoin after a Redis restart: emits in between may be lost."""
        redis = getattr(self.app[COORD], "redis", None)
        if redis is None:
            return
        run_id: str | None = None
        while True:
            try:
                current = str((await redis.info("server")).get("run_id"))
            except (RedisError, OSError):
                current = None
            if run_id is not None and current != run_id:
                # Down or restarted: after it is back and the manager resubscribed, resync.
                while current is None:
                    await asyncio.sleep(0.5)
                    try:
                        current = str((await redis.info("server")).get("run_id"))
                    except (RedisError, OSError):
                        current = None
                await asyncio.sleep(RESYNC_GRACE_S)
                await self.fanout.deliver("resync", {"reason": "coordination restarted"}, None)
            run_id = current if current is not None else run_id
            await asyncio.sleep(1.0)

    async def run(self) -> AsyncIterator[None]:
        """Background tasks for the app's lifetime (a ``cleanup_ctx``)."""
        self._spawn(self._sender())
        self._spawn(self._vote_writer())
        self._spawn(self._watch_redis())
        yield
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _detail(action: str, move: Move) -> dict[str, Any]:
    """What the moderation log keeps of a move, from validated values only."""
    before, after = move.before, move.after
    if action == "dismiss":
        return {"reason": after.dismiss_reason}
    if action == "edit":
        return {"before": before.text, "text": after.text}
    if action == "merge":
        return {"into": after.merged_into}
    if action in ("pin", "stage"):
        return {"on": after.pinned if action == "pin" else after.on_stage}
    return {}


QNA = web.AppKey("qna", QnaNamespace)


def qa_context(app: web.Application) -> None:
    """Create the store once storage is open; register the namespace and its tasks."""
    namespace = QnaNamespace("/qa", app)
    app[QNA] = namespace
    app[SIO].register_namespace(namespace)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        app[QA_STORE] = QaStore(app[ENGINE])
        async for _ in namespace.run():
            yield

    app.cleanup_ctx.append(lifetime)

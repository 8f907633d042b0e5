"""MediaHub: sessions, their publishers and viewers, liveness and evidence."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiortc import RTCPeerConnection, RTCSessionDescription

from . import internals
from .errors import Full, InvalidOffer, MediaError, SessionEnded, TooManyResources, UnknownResource
from .feed import Feed
from .ice import configuration, remote_address_filter, restrict
from .outlet import Repair
from .peers import Publisher, Viewer
from .recorder import Recorder, recording_path
from .sdp import Offer, announce, opus_fec, read_offer
from .session import Evidence, Resource, ResourceInfo, Session, StageListener
from .settings import MediaSettings
from .stage import HubStats, SessionStats, StageState

logger = logging.getLogger(__name__)


class MediaHub:
    """Publishing (WHIP), watching (WHEP) and the relay between them, for one process.

    A stream published here is fanned out here; the seam for serving it from
    another process is a Publisher whose feeds come from an origin's WHEP resource.
    """

    def __init__(self, settings: MediaSettings, evidence: Evidence) -> None:
        # Stop here, with the names, if the installed aiortc/aioice/pylibsrtp changed.
        internals.verify()
        self.settings = settings
        self._allow_remote = remote_address_filter(
            settings.ice_addresses, settings.ice_remote_networks
        )
        self._evidence = evidence
        self._sessions: dict[str, Session] = {}
        self._publishers: dict[str, Publisher] = {}
        self._viewers: dict[str, Viewer] = {}
        self._listeners: list[StageListener] = []
        self._events: asyncio.Queue[Callable[[], Awaitable[None]] | None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Future[None]] = set()
        self._repair = Repair(settings.retransmit_history_s, settings.retransmit_budget_bytes_s)
        self._answering: dict[tuple[str, int], int] = {}
        self._dropped_closed = 0
        self._closed = False

    # -- public interface -------------------------------------------------------------

    async def publish(self, session_id: str, user_id: int, offer_sdp: str) -> Resource:
        """Start publishing into a session; raises InvalidOffer or SessionEnded."""
        session = self._open_session(session_id)
        offer = read_offer(offer_sdp, "publish", self._allow_remote)
        publisher = Publisher(self._new_id(), session_id, user_id, self._peer())
        try:
            await publisher.pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
            self._prepare_dtls(publisher.pc, offer, session, f"publisher {publisher.id}")
            self._add_feeds(publisher, offer)
            answer = await self._answer(publisher.pc)
        except Exception as exc:
            await self._discard(publisher.pc, publisher.feeds)
            raise _as_invalid(exc) from exc
        if session.ended or self._closed:
            await self._discard(publisher.pc, publisher.feeds)
            raise SessionEnded("the session has ended")
        session.publishers[publisher.id] = publisher
        self._publishers[publisher.id] = publisher
        publisher.pc.on("connectionstatechange", lambda: self._publisher_changed(publisher))
        return Resource(publisher.id, answer)

    async def subscribe(self, session_id: str, user_id: int, offer_sdp: str) -> Resource:
        """Start watching a session; raises InvalidOffer, Full or SessionEnded."""
        session = self._open_session(session_id)
        self._check_room(session, user_id)
        offer = read_offer(offer_sdp, "subscribe", self._allow_remote)
        key = (session_id, user_id)
        self._answering[key] = self._answering.get(key, 0) + 1
        try:
            return await self._subscribe(session, user_id, offer)
        finally:
            self._answering[key] -= 1
            if not self._answering[key]:
                del self._answering[key]

    async def _subscribe(self, session: Session, user_id: int, offer: Offer) -> Resource:
        session_id = session.id
        viewer = Viewer(self._new_id(), session_id, user_id, self._peer())
        try:
            await viewer.pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
            self._prepare_dtls(viewer.pc, offer, session, f"viewer {viewer.id}")
            for transceiver in viewer.pc.getTransceivers():
                viewer.add_outlet(transceiver, self.settings.viewer_queue_bytes, self._repair)
            answer = await self._answer(viewer.pc)
        except Exception as exc:
            await self._discard(viewer.pc, [])
            raise _as_invalid(exc) from exc
        if session.ended or self._closed:
            await self._discard(viewer.pc, [])
            raise SessionEnded("the session has ended")
        try:
            self._check_room(session, user_id, answering=1)
        except MediaError:
            await self._discard(viewer.pc, [])
            raise
        viewer.on_report = self._viewer_report
        session.viewers[viewer.id] = viewer
        self._viewers[viewer.id] = viewer
        for kind, slots in session.slots.items():
            outlets = viewer.outlets["audio" if kind == "audio" else "video"]
            for slot, (feed, _) in slots.items():
                if slot < len(outlets):
                    outlets[slot].attach(feed)
        viewer.pc.on("connectionstatechange", lambda: self._viewer_changed(viewer))
        return Resource(viewer.id, answer)

    def describe(self, resource_id: str) -> ResourceInfo:
        """Session and owner of a live resource; raises UnknownResource."""
        if resource_id in self._publishers:
            p = self._publishers[resource_id]
            return ResourceInfo(p.id, p.session_id, p.user_id, "publisher")
        if resource_id in self._viewers:
            v = self._viewers[resource_id]
            return ResourceInfo(v.id, v.session_id, v.user_id, "viewer")
        raise UnknownResource("no such resource")

    async def stop(self, resource_id: str) -> None:
        """End a WHIP or WHEP resource (its DELETE); raises UnknownResource."""
        if resource_id in self._publishers:
            await self._drop_publisher(self._publishers[resource_id])
        elif resource_id in self._viewers:
            await self._drop_viewer(self._viewers[resource_id])
        else:
            raise UnknownResource("no such resource")

    async def end_session(self, session_id: str) -> None:
        """The session is over: viewers see "ended", everyone is disconnected."""
        session = self._sessions.setdefault(session_id, Session(session_id))
        if session.ended:
            return
        session.ended = True
        self._stage_changed(session)
        await asyncio.gather(
            *(self._drop_publisher(p) for p in list(session.publishers.values())),
            *(self._drop_viewer(v) for v in list(session.viewers.values())),
        )

    def stage(self, session_id: str) -> StageState:
        """The stage of a session as viewers see it."""
        session = self._sessions.get(session_id)
        return session.state() if session is not None else StageState(session_id, "idle")

    def on_stage_change(self, listener: StageListener) -> None:
        """Call ``listener`` (in order, one at a time) whenever a session's stage changes."""
        self._listeners.append(listener)

    def stats(self) -> HubStats:
        """Viewers and publishers per session, and packets dropped for slow viewers."""
        sessions = tuple(
            SessionStats(
                s.id,
                sum(1 for p in s.publishers.values() if p.live),
                len(s.viewers),
                sum(1 for v in s.viewers.values() if v.receiving),
            )
            for s in self._sessions.values()
            if s.publishers or s.viewers
        )
        dropped = self._dropped_closed + sum(v.dropped_packets() for v in self._viewers.values())
        live = sum(1 for p in self._publishers.values() if p.live)
        return HubStats(sessions, len(self._viewers), live, dropped)

    async def close(self) -> None:
        """Disconnect everyone, report the evidence, and stop the hub's tasks."""
        self._closed = True
        while self._spawned:
            await asyncio.gather(*self._spawned, return_exceptions=True)
        await asyncio.gather(
            *(self._drop_publisher(p) for p in list(self._publishers.values())),
            *(self._drop_viewer(v) for v in list(self._viewers.values())),
        )
        if self._events is not None:
            await self._events.put(None)
        if self._tasks:
            self._tasks[1].cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()

    # -- setting up -------------------------------------------------------------------

    def _open_session(self, session_id: str) -> Session:
        if self._closed:
            raise SessionEnded("the media hub is shutting down")
        if not self._tasks:
            self._events = asyncio.Queue()
            self._tasks = [
                asyncio.create_task(self._run_events(), name="media-events"),
                asyncio.create_task(self._run_watchdog(), name="media-watchdog"),
            ]
        session = self._sessions.setdefault(session_id, Session(session_id))
        if session.ended:
            raise SessionEnded("the session has ended")
        return session

    def _check_room(self, session: Session, user_id: int, answering: int = 0) -> None:
        """Refuse a viewer over the user's per-session limit or the server's capacity.

        Viewers still connecting do not hold capacity (they are reclaimed after
        ``pending_timeout_s``), so one account's unconnected offers lock nobody else out.
        """
        s = self.settings
        held = sum(1 for v in session.viewers.values() if v.user_id == user_id)
        # Offers of this user still being answered count too (less this one, when answered).
        held += self._answering.get((session.id, user_id), 0) - answering
        if held >= s.max_viewers_per_user:
            raise TooManyResources(
                f"you already watch this session {held} times; "
                "stop one (DELETE its resource) before starting another"
            )
        connected = sum(1 for v in self._viewers.values() if v.connected)
        if connected >= s.max_viewers or len(self._viewers) >= 2 * s.max_viewers:
            raise Full("this server is at its viewer limit", s.retry_after_s)

    def _prepare_dtls(
        self, pc: RTCPeerConnection, offer: Offer, session: Session, who: str
    ) -> None:
        """Answer as DTLS server to an ``actpass`` offer; log and show failed handshakes."""
        if offer.dtls_actpass:
            internals.answer_as_dtls_server(pc)

        def failed(reason: str) -> None:
            logger.warning("%s in session %s: %s", who, session.id, reason)
            if who.startswith("publisher"):
                session.last_error = reason
                self._stage_changed(session)

        for dtls in internals.dtls_transports(pc):
            internals.record_dtls_failures(dtls, failed, pc)

    def _new_id(self) -> str:
        return secrets.token_urlsafe(12)

    def _peer(self) -> RTCPeerConnection:
        return RTCPeerConnection(configuration(self.settings.ice_servers))

    async def _answer(self, pc: RTCPeerConnection) -> str:
        restrict(pc, self.settings.ice_addresses, self._allow_remote)
        await pc.setLocalDescription(await pc.createAnswer())
        sdp = opus_fec(pc.localDescription.sdp)
        if self.settings.ice_announce:
            sdp = announce(sdp, self.settings.ice_announce)
        return sdp

    def _add_feeds(self, publisher: Publisher, offer: Offer) -> None:
        now = datetime.now(UTC)
        for number, (transceiver, track) in enumerate(
            zip(publisher.pc.getTransceivers(), offer.tracks)
        ):
            recorder = None
            if self.settings.recordings_dir is not None:
                path = recording_path(
                    self.settings.recordings_dir,
                    publisher.session_id,
                    publisher.id,
                    number,
                    track.kind,
                    now,
                )
                codec = internals.codecs(transceiver)[0]
                recorder = Recorder(path, codec.name, codec.clockRate)
            feed = Feed(
                f"{publisher.id}-{number}",
                track.kind,
                track.screen,
                transceiver.receiver,
                self.settings.keyframe_min_interval_s,
                recorder,
            )
            publisher.feeds.append(feed)

    async def _discard(self, pc: RTCPeerConnection, feeds: list[Feed]) -> None:
        await pc.close()
        for feed in feeds:
            await feed.close()

    # -- state changes ----------------------------------------------------------------

    def _publisher_changed(self, publisher: Publisher) -> None:
        state = publisher.pc.connectionState
        if state == "connected" and not publisher.live and not publisher.closing:
            self._go_live(publisher)
        elif state in ("failed", "closed"):
            self._spawn(self._drop_publisher(publisher))

    def _never_connected(self, publisher: Publisher, timeout: float) -> None:
        reason = f"{_waiting_for(publisher.pc)} within {timeout:g} s"
        logger.warning("publisher %s in session %s: %s", publisher.id, publisher.session_id, reason)
        session = self._sessions[publisher.session_id]
        session.last_error = reason
        self._stage_changed(session)

    def _viewer_changed(self, viewer: Viewer) -> None:
        state = viewer.pc.connectionState
        viewer.connected = state == "connected"
        if state in ("failed", "closed"):
            self._spawn(self._drop_viewer(viewer))

    def _go_live(self, publisher: Publisher) -> None:
        session = self._sessions[publisher.session_id]
        publisher.live = True
        session.was_live = True
        session.last_error = None
        now = time.monotonic()
        for feed in publisher.feeds:
            feed.last_frame_at = now
            slots = session.slots[feed.kind]
            feed.slot = next(i for i in range(len(slots) + 1) if i not in slots)
            slots[feed.slot] = (feed, publisher)
            for viewer in session.viewers.values():
                outlets = viewer.outlets[feed.kind]
                if feed.slot < len(outlets):
                    outlets[feed.slot].attach(feed)
        self._report(
            self._evidence.publisher_started, publisher.session_id, publisher.id, publisher.user_id
        )
        self._stage_changed(session)

    async def _drop_publisher(self, publisher: Publisher) -> None:
        if publisher.closing:
            return
        publisher.closing = True
        session = self._sessions[publisher.session_id]
        for feed in publisher.feeds:
            if session.slots[feed.kind].get(feed.slot, (None,))[0] is feed:
                del session.slots[feed.kind][feed.slot]
        session.publishers.pop(publisher.id, None)
        self._publishers.pop(publisher.id, None)
        await self._discard(publisher.pc, publisher.feeds)
        if publisher.live:
            publisher.live = False
            self._report(
                self._evidence.publisher_stopped,
                publisher.session_id,
                publisher.id,
                publisher.user_id,
            )
            self._stage_changed(session)

    async def _drop_viewer(self, viewer: Viewer) -> None:
        if viewer.closing:
            return
        viewer.closing = True
        session = self._sessions[viewer.session_id]
        for outlet in viewer.all_outlets():
            outlet.attach(None)
        session.viewers.pop(viewer.id, None)
        self._viewers.pop(viewer.id, None)
        self._dropped_closed += viewer.dropped_packets()
        self._set_receiving(viewer, False)
        await viewer.pc.close()

    def _viewer_report(self, viewer: Viewer, ssrc: int, highest_sequence: int) -> None:
        progressed = viewer.note_report(ssrc, highest_sequence)
        if progressed and not viewer.closing and viewer.pc.connectionState == "connected":
            self._set_receiving(viewer, True)

    def _set_receiving(self, viewer: Viewer, receiving: bool) -> None:
        if viewer.receiving == receiving:
            return
        viewer.receiving = receiving
        report = self._evidence.viewer_started if receiving else self._evidence.viewer_stopped
        self._report(report, viewer.session_id, viewer.id, viewer.user_id)

    def _stage_changed(self, session: Session) -> None:
        state = session.state()
        for listener in self._listeners:
            self._enqueue(functools.partial(listener, state))

    def _report(
        self, call: Callable[[str, str, int], Awaitable[None]], session_id: str, rid: str, uid: int
    ) -> None:
        self._enqueue(functools.partial(call, session_id, rid, uid))

    def _enqueue(self, job: Callable[[], Awaitable[None]]) -> None:
        if self._events is not None:
            self._events.put_nowait(job)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)
        task.add_done_callback(_log_failure)

    # -- background tasks -------------------------------------------------------------

    async def _run_events(self) -> None:
        # One worker, so evidence and stage messages keep their order.
        assert self._events is not None
        while (job := await self._events.get()) is not None:
            try:
                await job()
            except Exception:
                logger.exception("media event listener failed")

    async def _run_watchdog(self) -> None:
        while True:
            await asyncio.sleep(self.settings.watchdog_interval_s)
            try:
                self._check_liveness(time.monotonic())
            except Exception:
                logger.exception("media watchdog failed")

    def _check_liveness(self, now: float) -> None:
        s = self.settings
        connect_timeout = s.pending_timeout_s
        for publisher in list(self._publishers.values()):
            if publisher.live and now - publisher.last_media_at() > s.publisher_timeout_s:
                self._spawn(self._drop_publisher(publisher))
            elif not publisher.live and now - publisher.created_at > connect_timeout:
                if not publisher.closing:
                    self._never_connected(publisher, connect_timeout)
                self._spawn(self._drop_publisher(publisher))
        for viewer in list(self._viewers.values()):
            progress = viewer.last_progress_at
            if viewer.receiving and (
                progress is None or now - progress > s.receiver_report_timeout_s
            ):
                self._set_receiving(viewer, False)
            heard = viewer.last_report_at
            if (
                heard is not None
                and now - heard > s.viewer_gone_timeout_s
                or viewer.pc.connectionState != "connected"
                and now - viewer.created_at > connect_timeout
            ):
                self._spawn(self._drop_viewer(viewer))


def _waiting_for(pc: RTCPeerConnection) -> str:
    """What a peer connection that never connected was stuck on."""
    states = {dtls.state for dtls in internals.dtls_transports(pc)}
    if "connecting" in states:
        return "DTLS handshake failed: no answer to it"
    return "ICE failed: no candidate pair worked"


def _as_invalid(exc: BaseException) -> MediaError:
    if isinstance(exc, MediaError):
        return exc
    logger.debug("offer rejected by aiortc: %r", exc)
    return InvalidOffer(f"the offer cannot be answered: {exc or type(exc).__name__}")


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("media task failed", exc_info=task.exception())

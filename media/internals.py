"""Every private name of aiortc, aioice and pylibsrtp the relay relies on, in one place.

The relay forwards packets past aiortc's per-viewer coroutines, so it needs a few
of the libraries' internals. Nothing else in ``media`` touches a private name: it
calls the functions here. :func:`verify` checks, when the hub starts, that every
name below still exists in the installed versions (pinned in ``pyproject.toml``:
aiortc 1.16, aioice 0.13, pylibsrtp 1.0); a missing one stops the server with a
message naming it, instead of an assignment that silently creates a new attribute.

Where the libraries allow it this module subclasses (the audio pass-through
jitter buffer, the DTLS failure recorder reads only public state); where they do
not (aiortc builds its senders, receivers and transports itself, with no factory
hook) it replaces a method on the one instance, and says so.
"""

from __future__ import annotations

import dataclasses
import inspect
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aioice
import pylibsrtp
from aiortc import (
    RTCDtlsTransport,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    rtcdtlstransport,
)
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters
from aiortc.rtp import AnyRtcpPacket, RtpPacket
from OpenSSL import SSL
from pylibsrtp import _binding

__all__ = [
    "Incompatible",
    "SrtpProtector",
    "verify",
]

_lib: Any = _binding.lib
_ffi: Any = _binding.ffi


class Incompatible(RuntimeError):
    """The installed aiortc/aioice/pylibsrtp lack a private name the relay relies on."""


# (owner, name, how it is used). Instance attributes are looked for in the names the
# owner's methods assign; methods and class attributes on the class itself.
_METHODS: tuple[tuple[Any, str], ...] = (
    (RTCRtpSender, "_handle_rtcp_packet"),
    (RTCRtpReceiver, "_send_rtcp_pli"),
    (RTCRtpReceiver, "_send_rtcp_nack"),
    (RTCDtlsTransport, "_do_handshake"),
    (RTCDtlsTransport, "_write_ssl"),
    (RTCDtlsTransport, "_recv_next"),
    (RTCDtlsTransport, "_set_state"),
    (RTCDtlsTransport, "_set_role"),
    (aioice.Connection, "get_component_candidates"),
    (aioice.Connection, "_add_remote_candidate"),
    (H264Encoder, "_split_bitstream"),
    (H264Encoder, "_packetize"),
    (Vp8Encoder, "_packetize"),
    (JitterBuffer, "add"),
)
_ATTRIBUTES: tuple[tuple[type, str], ...] = (
    (RTCRtpSender, "_ssrc"),
    (RTCRtpSender, "_rtx_ssrc"),
    (RTCRtpSender, "_RTCRtpSender__ntp_timestamp"),
    (RTCRtpSender, "_RTCRtpSender__rtp_timestamp"),
    (RTCRtpSender, "_RTCRtpSender__packet_count"),
    (RTCRtpSender, "_RTCRtpSender__octet_count"),
    (RTCRtpReceiver, "_RTCRtpReceiver__decoder_queue"),
    (RTCRtpReceiver, "_RTCRtpReceiver__jitter_buffer"),
    (RTCRtpReceiver, "_RTCRtpReceiver__rtx_ssrc"),
    (RTCRtpReceiver, "_RTCRtpReceiver__nack_generator"),
    (RTCRtpTransceiver, "_codecs"),
    (RTCRtpTransceiver, "_headerExtensions"),
    (RTCPeerConnection, "_RTCPeerConnection__isClosed"),
    (RTCDtlsTransport, "_ssl"),
    (RTCDtlsTransport, "_role"),
    (RTCDtlsTransport, "_tx_srtp"),
    (RTCDtlsTransport, "encrypted"),
    (aioice.Connection, "_nominated"),
    (aioice.Connection, "_remote_candidates"),
    (pylibsrtp.Session, "_srtp"),
    (pylibsrtp.Session, "_cdata"),
    (pylibsrtp.Session, "_buffer"),
)
_MODULE_NAMES: tuple[tuple[Any, str], ...] = (
    (_lib, "srtp_protect"),
    (_ffi, "new"),
    (pylibsrtp, "SRTP_MAX_TRAILER_LEN"),
    (rtcdtlstransport, "State"),
)


def _assigned_names(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        for member in vars(klass).values():
            function = getattr(member, "fget", member)
            code = getattr(function, "__code__", None)
            if code is not None:
                names.update(code.co_names)
    return names


def missing() -> list[str]:
    """Names :func:`verify` would complain about (empty when everything is there)."""
    gone = [f"{_name(owner)}.{name}" for owner, name in _METHODS if not hasattr(owner, name)]
    cache: dict[type, set[str]] = {}
    for cls, name in _ATTRIBUTES:
        names = cache.setdefault(cls, _assigned_names(cls))
        if name not in names and not hasattr(cls, name):
            gone.append(f"{_name(cls)}.{name}")
    gone += [f"{_name(owner)}.{name}" for owner, name in _MODULE_NAMES if not hasattr(owner, name)]
    return gone


def verify() -> None:
    """Stop with a clear message when an internal the relay relies on is gone."""
    gone = missing()
    if gone:
        raise Incompatible(
            "the media relay was written for aiortc 1.16, aioice 0.13 and pylibsrtp 1.0 "
            "(see pyproject.toml); the installed versions lack " + ", ".join(gone)
        )


def _name(owner: Any) -> str:
    if inspect.ismodule(owner):
        return str(owner.__name__)
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}"
    return type(owner).__name__


# -- transceivers and senders ------------------------------------------------------------


def codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The negotiated codecs of a transceiver, preferred first."""
    return list(transceiver._codecs)


def header_extensions(transceiver: RTCRtpTransceiver) -> list[RTCRtpHeaderExtensionParameters]:
    """The negotiated RTP header extensions of a transceiver."""
    return list(transceiver._headerExtensions)


def sender_ssrcs(sender: RTCRtpSender) -> tuple[int, int]:
    """The SSRC of a sender's stream and of its RTX stream (as announced in the SDP)."""
    return sender._ssrc, sender._rtx_ssrc


def note_sent(
    sender: RTCRtpSender, ntp: int, rtp_timestamp: int, packets: int, octets: int
) -> None:
    """Feed the sender's RTCP sender reports with what the relay sent in its place."""
    target: Any = sender
    target._RTCRtpSender__ntp_timestamp = ntp
    target._RTCRtpSender__rtp_timestamp = rtp_timestamp
    target._RTCRtpSender__packet_count += packets
    target._RTCRtpSender__octet_count += octets


RtcpHandler = Callable[[AnyRtcpPacket], bool]


def intercept_rtcp(sender: RTCRtpSender, handler: RtcpHandler) -> None:
    """Show each RTCP packet for ``sender`` to ``handler`` first; True means it was handled.

    Unhandled ones (receiver reports, REMB) go on to aiortc for its statistics.
    aiortc routes RTCP to ``sender._handle_rtcp_packet`` and has no hook for it, so
    this replaces that method on this one instance.
    """
    original: Callable[[AnyRtcpPacket], Awaitable[None]] = sender._handle_rtcp_packet

    async def handle(packet: AnyRtcpPacket) -> None:
        if not handler(packet):
            await original(packet)

    target: Any = sender
    target._handle_rtcp_packet = handle


# -- receivers ---------------------------------------------------------------------------


class FrameSink:
    """What a receiver's decoder queue must offer: ``put`` from the loop, ``get`` from its thread."""

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        raise NotImplementedError

    def get(self) -> None:
        raise NotImplementedError


def tap_frames(receiver: RTCRtpReceiver, sink: FrameSink) -> None:
    """Route ``receiver``'s reassembled frames to ``sink`` instead of its decoder (before start).

    aiortc 1.16 hands every frame to ``decoder_queue.put((codec, frame))`` on the event
    loop; swapping this one receiver's queue avoids patching the module-level
    ``get_decoder`` for the whole process.
    """
    target: Any = receiver
    target._RTCRtpReceiver__decoder_queue = sink


class PassThrough(JitterBuffer):
    """An audio "jitter buffer" that hands each packet on as it arrives, in order.

    aiortc's audio buffer (capacity 16, prefetch 4) throws away the frames queued
    ahead of a gap; a relay forwards what it gets and leaves concealment (and Opus
    in-band FEC, which rides inside the payload untouched) to the viewer.
    Packets older than the last one passed on (late reordering, duplicates) are dropped.
    """

    def __init__(self) -> None:
        super().__init__(capacity=16)
        self._last: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        sequence = packet.sequence_number
        last = self._last
        if last is not None and (sequence - last) & 0xFFFF >= 0x8000 or sequence == last:
            return False, None
        self._last = sequence
        data: bytes = getattr(packet, "_data", packet.payload)
        return False, JitterFrame(data=data, timestamp=packet.timestamp)


def forward_audio_unbuffered(receiver: RTCRtpReceiver) -> None:
    """Give an audio receiver the :class:`PassThrough` buffer (before it starts)."""
    target: Any = receiver
    target._RTCRtpReceiver__jitter_buffer = PassThrough()


def rtx_ssrcs(receiver: RTCRtpReceiver) -> set[int]:
    """SSRCs of the publisher's RTX streams (never asked for keyframes)."""
    return set(getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", {}))


def missing_packets(receiver: RTCRtpReceiver) -> set[int]:
    """Sequence numbers the receiver's NACK generator still misses (video only)."""
    generator: Any = getattr(receiver, "_RTCRtpReceiver__nack_generator", None)
    return set(generator.missing) if generator is not None else set()


def send_nack(receiver: RTCRtpReceiver, ssrc: int, lost: list[int]) -> Awaitable[None]:
    """Send a generic NACK (RFC 4585 section 6.2.1) for ``lost`` packets of ``ssrc``."""
    result: Awaitable[None] = receiver._send_rtcp_nack(ssrc, lost)
    return result


def send_pli(receiver: RTCRtpReceiver, ssrc: int) -> Awaitable[None]:
    """Send a Picture Loss Indication for ``ssrc`` to the publisher."""
    result: Awaitable[None] = receiver._send_rtcp_pli(ssrc)
    return result


# -- DTLS --------------------------------------------------------------------------------


def dtls_transports(pc: RTCPeerConnection) -> list[RTCDtlsTransport]:
    """The distinct DTLS transports of a peer connection (one when bundled)."""
    found: list[RTCDtlsTransport] = []
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        if dtls is not None and all(dtls is not f for f in found):
            found.append(dtls)
    return found


def answer_as_dtls_server(pc: RTCPeerConnection) -> None:
    """Make the answer ``a=setup:passive`` (call after setRemoteDescription of an actpass offer).

    aiortc answers ``active`` and, as DTLS client, offers only ECDHE-ECDSA ciphers,
    which GStreamer's RSA certificate cannot use (aiortc PR #1392). As the server it
    works with either certificate type.
    """
    for dtls in dtls_transports(pc):
        dtls._set_role("server")


def dtls_role(dtls: RTCDtlsTransport) -> str:
    """``client``, ``server`` or ``auto``."""
    return str(dtls._role)


def closing(pc: RTCPeerConnection) -> bool:
    """Whether ``close()`` was called on this peer connection (aiortc has no public flag)."""
    return bool(getattr(pc, "_RTCPeerConnection__isClosed", None))


def record_dtls_failures(
    dtls: RTCDtlsTransport, on_failure: Callable[[str], None], pc: RTCPeerConnection
) -> None:
    """Call ``on_failure(reason)`` when this transport's handshake fails (not when ``pc`` closes).

    aiortc logs the OpenSSL reason at debug level only, so this transport's
    ``_do_handshake`` is replaced by the same loop that also reports the reason.
    Failures after the handshake (fingerprint, SRTP profile) are reported from the
    public state change.
    """
    reported: list[str] = []

    def fail(reason: str) -> None:
        if not reported:
            reported.append(reason)
            on_failure(reason)

    async def handshake() -> None:
        try:
            while not dtls.encrypted:
                try:
                    ssl: Any = dtls._ssl
                    ssl.do_handshake()
                except SSL.WantReadError:
                    await dtls._write_ssl()
                    await dtls._recv_next()
                except SSL.Error as exc:
                    fail(f"DTLS handshake failed: {_ssl_reason(exc)}")
                    dtls._set_state(State.FAILED)
                    return
                else:
                    dtls.encrypted = True
        except ConnectionError as exc:
            if closing(pc) or dtls.transport.state == "closed":
                reported.append("closed")  # we closed it meanwhile: nothing to say
            else:
                fail(f"DTLS handshake failed: {exc or 'the ICE connection was lost'}")
            dtls._set_state(State.FAILED)

    def changed() -> None:
        if dtls.state == "failed" and not closing(pc):
            fail(
                "DTLS failed after the handshake "
                "(certificate fingerprint mismatch or no common SRTP profile)"
                if dtls.encrypted
                else "DTLS failed before the handshake completed"
            )

    target: Any = dtls
    target._do_handshake = handshake
    dtls.on("statechange", changed)


def _ssl_reason(exc: SSL.Error) -> str:
    parts = []
    for entry in exc.args[0] if exc.args and isinstance(exc.args[0], list) else []:
        if isinstance(entry, tuple) and entry:
            parts.append(str(entry[-1]))
    if parts:
        return ", ".join(parts)
    # OpenSSL queued nothing: the peer sent a fatal alert (typically no shared cipher or
    # certificate type, when Rounds is DTLS client against an RSA certificate).
    return "the peer aborted it with an alert (no cipher or certificate type in common?)"


# -- the send path -----------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Route:
    """Where a viewer's datagrams go: the nominated pair's socket and address."""

    udp: Any
    sock: socket.socket
    addr: tuple[str, int]


def nominated_route(dtls: RTCDtlsTransport) -> Route | None:
    """The viewer's nominated candidate pair once DTLS is connected, else None."""
    if dtls.state != "connected":
        return None
    connection: Any = dtls.transport._connection
    pair = connection._nominated.get(1)
    if pair is None:
        return None
    udp: Any = pair.protocol.transport
    if udp is None:
        return None
    return Route(udp, udp._sock, pair.remote_addr)


class SrtpProtector:
    """Protects RTP with a transport's outbound SRTP session, reusing pylibsrtp's buffer.

    ``pylibsrtp.Session.protect`` allocates per call; this calls ``srtp_protect`` on
    the session's own buffer, with the same size guard: a packet longer than the
    buffer less the largest SRTP trailer is refused, never written past the buffer.
    """

    __slots__ = ("_buffer", "_cdata", "_length", "_limit", "_session", "refused")

    def __init__(self, session: pylibsrtp.Session) -> None:
        target: Any = session
        self._session = target._srtp[0]
        self._cdata = target._cdata
        self._buffer = target._buffer
        self._length: Any = _ffi.new("int *")
        self._limit = len(self._cdata) - pylibsrtp.SRTP_MAX_TRAILER_LEN
        self.refused = 0

    @classmethod
    def of(cls, dtls: RTCDtlsTransport) -> SrtpProtector:
        """The protector of a connected transport's outbound stream."""
        return cls(dtls._tx_srtp)

    @property
    def limit(self) -> int:
        """The longest RTP packet that can be protected."""
        return self._limit

    def protect(self, packets: Iterable[bytes]) -> list[bytes]:
        """The protected packets; oversized or refused ones are left out (and counted)."""
        protect = _lib.srtp_protect
        session, cdata, buffer, length, limit = (
            self._session,
            self._cdata,
            self._buffer,
            self._length,
            self._limit,
        )
        out = []
        for packet in packets:
            size = len(packet)
            if size > limit:
                self.refused += 1
                continue
            buffer[0:size] = packet
            length[0] = size
            if protect(session, cdata, length) != 0:
                self.refused += 1  # e.g. a replayed index: skip, as aiortc would raise
                continue
            out.append(buffer[0 : length[0]])
        return out


# -- ICE ---------------------------------------------------------------------------------


def ice_connections(pc: RTCPeerConnection) -> list[Any]:
    """The aioice connections of a peer connection (one when bundled)."""
    return [dtls.transport.iceGatherer._connection for dtls in dtls_transports(pc)]


def gather_only_on(connection: Any, allowed: list[str]) -> None:
    """Gather host candidates on ``allowed`` only (aioice has no per-connection option)."""
    original = connection.get_component_candidates

    async def gather(component: int, addresses: list[str], timeout: int = 5) -> Any:
        return await original(component=component, addresses=list(allowed), timeout=timeout)

    connection.get_component_candidates = gather


def filter_remote_candidates(connection: Any, allowed: Callable[[str], bool]) -> None:
    """Pair and check only remote candidates whose (resolved) address ``allowed`` accepts.

    Applies to candidates already added and to those added later (mDNS names once resolved).
    """
    connection._remote_candidates[:] = [c for c in connection._remote_candidates if allowed(c.host)]
    original = connection._add_remote_candidate

    def add(candidate: Any, network_host: str) -> None:
        if allowed(network_host):
            original(candidate, network_host)

    connection._add_remote_candidate = add


# -- packetizing (aiortc's codecs, used once per frame) ------------------------------------


def h264_split(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B bitstream."""
    units: list[bytes] = list(H264Encoder._split_bitstream(data))
    return units


def h264_packetize(units: list[bytes]) -> list[bytes]:
    """RFC 6184 payloads (single NAL, STAP-A, FU-A) for one frame's NAL units."""
    payloads: list[bytes] = H264Encoder._packetize(units)
    return payloads


def vp8_packetize(data: bytes, picture_id: int) -> list[bytes]:
    """RFC 7741 payloads of one VP8 frame."""
    payloads: list[bytes] = Vp8Encoder._packetize(data, picture_id)
    return payloads

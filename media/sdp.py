"""Check WHIP/WHEP offers before aiortc sees them, and touch up answers."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiortc import sdp as aiortc_sdp
from aiortc.codecs import CODECS, is_rtx
from aiortc.rtcpeerconnection import find_common_codecs

from .errors import InvalidOffer

Role = Literal["publish", "subscribe"]

MAX_OFFER_BYTES = 64 * 1024
MAX_MEDIA = 16
# Remote ICE candidates kept per m= line; the rest are ignored (each one costs checks).
MAX_CANDIDATES = 8
_CANDIDATE_TYPES = frozenset({"host", "srflx", "prflx", "relay"})
# What the offerer must be willing to do for each role (RFC 9725 section 4.2).
_DIRECTIONS: dict[Role, frozenset[str]] = {
    "publish": frozenset({"sendonly", "sendrecv"}),
    "subscribe": frozenset({"recvonly", "sendrecv"}),
}


@dataclass(frozen=True, slots=True)
class OfferedTrack:
    """One audio or video m-line of an offer."""

    index: int
    kind: Literal["audio", "video"]
    # RFC 4796 ``a=content:slides``: the studio marks its screen share this way.
    screen: bool


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer that passed the checks."""

    sdp: str
    tracks: tuple[OfferedTrack, ...]
    # a=setup:actpass: the offerer lets the answerer pick its DTLS role.
    dtls_actpass: bool = False


def read_offer(
    text: object, role: Role, allow_address: Callable[[str], bool] | None = None
) -> Offer:
    """Validate an SDP offer for publishing or subscribing; raises InvalidOffer with a reason.

    The offer's ICE candidates are sifted (see :func:`sift_candidates`): the returned
    offer's SDP carries only the usable ones.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidOffer("the body must be an SDP offer")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_OFFER_BYTES:
        raise InvalidOffer(f"the offer is larger than {MAX_OFFER_BYTES} bytes")
    if not text.lstrip().startswith("v=0"):
        raise InvalidOffer("an SDP offer starts with 'v=0'")
    if "\x00" in text:
        raise InvalidOffer("the offer contains a NUL character")
    text = sift_candidates(text, allow_address or usable_address)
    try:
        parsed = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever it trips on
        raise InvalidOffer(f"the offer cannot be parsed ({type(exc).__name__})") from exc
    if not parsed.media:
        raise InvalidOffer("the offer has no m= line")
    if len(parsed.media) > MAX_MEDIA:
        raise InvalidOffer(f"the offer has more than {MAX_MEDIA} m= lines")
    _check_bundle(parsed)
    screens = _screen_flags(text)
    tracks: list[OfferedTrack] = []
    for index, media in enumerate(parsed.media):
        _check_media(media, index, role)
        kind: Literal["audio", "video"] = "audio" if media.kind == "audio" else "video"
        tracks.append(OfferedTrack(index, kind, index in screens))
    actpass = any(media.dtls is not None and media.dtls.role == "auto" for media in parsed.media)
    return Offer(text, tuple(tracks), actpass)


def _check_media(media: aiortc_sdp.MediaDescription, index: int, role: Role) -> None:
    where = f"m= line {index + 1}"
    if media.kind not in ("audio", "video"):
        raise InvalidOffer(f"{where}: only audio and video are supported, not {media.kind!r}")
    if media.direction not in _DIRECTIONS[role]:
        wanted = " or ".join(sorted(_DIRECTIONS[role]))
        raise InvalidOffer(f"{where}: direction must be {wanted} to {role}")
    if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
        raise InvalidOffer(f"{where}: missing a=ice-ufrag or a=ice-pwd")
    if media.dtls is None or not media.dtls.fingerprints:
        raise InvalidOffer(f"{where}: missing a=fingerprint")
    if not media.rtp.muxId:
        raise InvalidOffer(f"{where}: missing a=mid")
    common = find_common_codecs(CODECS[media.kind], media.rtp.codecs)
    if not any(not is_rtx(codec) for codec in common):
        wanted = "Opus" if media.kind == "audio" else "VP8 or H.264 (packetization-mode=1)"
        raise InvalidOffer(f"{where}: no supported codec, offer {wanted}")


def _check_bundle(parsed: aiortc_sdp.SessionDescription) -> None:
    mids = [media.rtp.muxId for media in parsed.media]
    if len(set(mids)) != len(mids):
        raise InvalidOffer("every m= line needs its own a=mid")
    for group in parsed.group:
        if group.semantic == "BUNDLE" and not set(group.items) <= set(mids):
            raise InvalidOffer("a=group:BUNDLE names a mid that no m= line has")


def _screen_flags(text: str) -> set[int]:
    flags: set[int] = set()
    index = -1
    for line in text.splitlines():
        if line.startswith("m="):
            index += 1
        elif index >= 0 and line.strip() == "a=content:slides":
            flags.add(index)
    return flags


def usable_address(host: str) -> bool:
    """A unicast IP literal that can be sent to, or an mDNS ``.local`` name (checked once resolved)."""
    if host.endswith(".local") and 6 < len(host) <= 255:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return False
    return not (
        address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or address == ipaddress.IPv4Address("255.255.255.255")
    )


def candidate_ok(value: str, allow_address: Callable[[str], bool]) -> bool:
    """Whether ``value`` (after ``a=candidate:``) is a well-formed UDP candidate worth checking.

    RFC 8839 section 5.1: foundation, component-id, transport, priority, address,
    port, ``typ`` and a candidate type, then name/value pairs. Only component 1
    (WebRTC multiplexes RTCP), UDP, ports 1..65535 and addresses ``allow_address`` accepts.
    """
    bits = value.split()
    if len(bits) < 8 or bits[6] != "typ" or bits[7] not in _CANDIDATE_TYPES:
        return False
    foundation, component, transport, priority, host, port = bits[:6]
    if not 0 < len(foundation) <= 32 or component != "1" or transport.lower() != "udp":
        return False
    if not (priority.isdigit() and int(priority) < 1 << 32):
        return False
    if not (port.isdigit() and 0 < int(port) <= 65535):
        return False
    for name, setting in zip(bits[8::2], bits[9::2]):
        if name == "rport" and not (setting.isdigit() and int(setting) <= 65535):
            return False
        if name == "generation" and not setting.isdigit():
            return False
    return allow_address(host)


def sift_candidates(text: str, allow_address: Callable[[str], bool]) -> str:
    """Drop malformed or disallowed ``a=candidate`` lines; keep at most MAX_CANDIDATES per m= line."""
    newline = "\r\n" if "\r\n" in text else "\n"
    out: list[str] = []
    kept = 0
    for line in text.split(newline):
        if line.startswith("m="):
            kept = 0
        elif line.startswith("a=candidate:"):
            if kept >= MAX_CANDIDATES or not candidate_ok(line[12:], allow_address):
                continue
            kept += 1
        out.append(line)
    return newline.join(out)


_OPUS = re.compile(r"^a=rtpmap:(\d+) opus/48000(/2)?$", re.IGNORECASE)


def opus_fec(answer_sdp: str) -> str:
    """Say ``useinbandfec=1`` for every Opus payload type of an answer.

    RFC 7587 section 6.1: ``useinbandfec=1`` tells the other side that this
    receiver can use Opus in-band FEC, and browsers only turn it on in their
    encoder when the remote description says so. aiortc's answer carries no Opus
    fmtp; the relay forwards Opus untouched, so FEC reaches every viewer.
    """
    lines = answer_sdp.split("\r\n")
    opus = {m.group(1) for line in lines if (m := _OPUS.match(line))}
    if not opus:
        return answer_sdp
    out: list[str] = []
    with_fmtp = set()
    for line in lines:
        if line.startswith("a=fmtp:"):
            pt, _, params = line[7:].partition(" ")
            if pt in opus:
                with_fmtp.add(pt)
                if "useinbandfec" not in params:
                    line = f"a=fmtp:{pt} {params};useinbandfec=1" if params else line
        out.append(line)
    result: list[str] = []
    for line in out:
        result.append(line)
        match = _OPUS.match(line)
        if match and match.group(1) not in with_fmtp:
            result.append(f"a=fmtp:{match.group(1)} minptime=10;useinbandfec=1")
    return "\r\n".join(result)


_CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host.*)$")
_CONNECTION = re.compile(r"^c=IN IP[46] \S+$")


def announce(answer_sdp: str, address: str) -> str:
    """Rewrite host candidates and c= lines to the announced address (server behind NAT)."""
    family = "IP6" if ":" in address else "IP4"
    lines = []
    for line in answer_sdp.split("\r\n"):
        match = _CANDIDATE.match(line)
        if match:
            line = f"{match.group(1)}{address}{match.group(3)}"
        elif _CONNECTION.match(line):
            line = f"c=IN {family} {address}"
        lines.append(line)
    return "\r\n".join(lines)

"""ICE settings applied to each server-side peer connection."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from .settings import IceServer
from .turn import turn_credentials

# Credentials the server itself uses with a use-auth-secret TURN server.
_SERVER_TURN_USER = "rounds-media"
_SERVER_TURN_TTL_S = 24 * 3600


def configuration(servers: tuple[IceServer, ...]) -> RTCConfiguration:
    """The RTCConfiguration for the server's own peer connections."""
    ice: list[RTCIceServer] = []
    for server in servers:
        username, credential = server.username, server.credential
        if server.secret is not None:
            username, credential = turn_credentials(
                server.secret, _SERVER_TURN_USER, _SERVER_TURN_TTL_S, time.time()
            )
        ice.append(RTCIceServer(urls=list(server.urls), username=username, credential=credential))
    return RTCConfiguration(iceServers=ice)


def restrict_host_addresses(pc: RTCPeerConnection, addresses: tuple[str, ...]) -> None:
    """Gather host candidates only on ``addresses`` (call between setRemote and setLocal).

    aioice gathers on every interface except loopback and has no per-connection
    option, so each gatherer's connection gets the address list passed in instead.
    """
    if not addresses:
        return
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        if dtls is None:
            continue
        connection: Any = dtls.transport.iceGatherer._connection
        if getattr(connection, "_rounds_restricted", False):
            continue
        connection.get_component_candidates = _gather_on(
            connection.get_component_candidates, list(addresses)
        )
        if all(_is_loopback(address) for address in addresses):
            # A loopback-only server cannot be reached from elsewhere, and checks towards the
            # peer's other interfaces would send traffic off loopback: keep loopback candidates.
            connection._remote_candidates[:] = [
                c for c in connection._remote_candidates if _is_loopback(c.host)
            ]
            connection._add_remote_candidate = _loopback_only(connection._add_remote_candidate)
        connection._rounds_restricted = True


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name (mDNS): not known to be loopback


def _loopback_only(original: Any) -> Any:
    def add(candidate: Any, network_host: str) -> None:
        if _is_loopback(network_host):
            original(candidate, network_host)

    return add


def _gather_on(original: Any, allowed: list[str]) -> Any:
    async def gather(component: int, addresses: list[str], timeout: int = 5) -> Any:
        return await original(component=component, addresses=allowed, timeout=timeout)

    return gather

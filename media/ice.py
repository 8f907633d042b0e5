"""ICE settings applied to each server-side peer connection."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from . import internals
from .sdp import usable_address
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


def remote_address_filter(
    server_addresses: tuple[str, ...], networks: tuple[str, ...]
) -> Callable[[str], bool]:
    """Which remote candidate addresses the server may send connectivity checks to.

    Always a usable unicast address (:func:`media.sdp.usable_address`); within
    ``networks`` when set; loopback only when the server gathers on loopback only
    (checks towards the peer's other interfaces would leave loopback).
    """
    allowed = tuple(ipaddress.ip_network(n, strict=False) for n in networks)
    loopback_only = bool(server_addresses) and all(_is_loopback(a) for a in server_addresses)

    def allow(host: str) -> bool:
        if not usable_address(host):
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return True  # an mDNS name: checked again once resolved
        if loopback_only and not address.is_loopback:
            return False
        return not allowed or any(address in network for network in allowed)

    return allow


def restrict(
    pc: RTCPeerConnection, addresses: tuple[str, ...], allow_remote: Callable[[str], bool]
) -> None:
    """Gather only on ``addresses``; check only remote addresses ``allow_remote`` accepts.

    Call between setRemoteDescription and setLocalDescription.
    """
    for connection in internals.ice_connections(pc):
        if addresses:
            internals.gather_only_on(connection, list(addresses))
        internals.filter_remote_candidates(connection, allow_remote)


def restrict_host_addresses(pc: RTCPeerConnection, addresses: tuple[str, ...]) -> None:
    """:func:`restrict` with the default remote filter for ``addresses``."""
    restrict(pc, addresses, remote_address_filter(addresses, ()))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name (mDNS): not known to be loopback

"""MPTCP as userspace sees it: subflows (``ss -tin``), connections
(``ss -Min``) and per-socket options.

In ``ss -tin`` an MPTCP subflow is a TCP socket whose info line ends with
``tcp-ulp-mptcp flags:... token:... seq:...``. Its flag letters (iproute2
``mptcp_subflow_info``): ``M``/``m`` MP_CAPABLE seen from the remote / sent
locally (the initial subflow), ``J``/``j`` MP_JOIN remote / local (an
additional subflow), ``B``/``b`` backup local / remote, ``e`` fully
established, ``c`` connected, ``v`` mapping valid.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from .ss import Address, SsSocket, parse_ss

IPPROTO_MPTCP = 262
SOL_MPTCP = 284
TCP_IS_MPTCP = 43  # getsockopt(IPPROTO_TCP): 1 on an MPTCP socket, 0 on TCP or after fallback


@dataclass(frozen=True)
class Subflow:
    local: Address
    peer: Address
    state: str
    flags: str  # the ULP flag letters, e.g. "Mmec" or "Jjec"
    token: str
    bytes_sent: int
    bytes_acked: int
    bytes_received: int

    @property
    def is_join(self) -> bool:
        """An additional subflow, opened with MP_JOIN."""
        return "J" in self.flags or "j" in self.flags

    @property
    def is_initial(self) -> bool:
        """The subflow that carried MP_CAPABLE."""
        return "M" in self.flags or "m" in self.flags

    @property
    def fully_established(self) -> bool:
        return "e" in self.flags


@dataclass(frozen=True)
class Connection:
    """An MPTCP-level socket from ``ss -Min``."""

    local: Address
    peer: Address
    state: str
    subflows: int  # additional subflows (the initial one is not counted)
    fallback: bool
    token: str | None


def subflow_from(sock: SsSocket) -> Subflow | None:
    if sock.ulp != "mptcp":
        return None
    return Subflow(
        local=sock.local,
        peer=sock.peer,
        state=sock.state,
        flags=sock.ulp_info.get("flags", ""),
        token=sock.ulp_info.get("token", ""),
        bytes_sent=sock.int("bytes_sent"),
        bytes_acked=sock.int("bytes_acked"),
        bytes_received=sock.int("bytes_received"),
    )


def parse_subflows(text: str, port: int | None = None) -> list[Subflow]:
    """Established MPTCP subflows in ``ss -tin`` output; ``port`` keeps those
    with that local or peer port (one service's connections)."""
    found = []
    for sock in parse_ss(text):
        sub = subflow_from(sock)
        if sub is None or sub.state != "ESTAB":
            continue
        if port is not None and port not in (sub.local.port, sub.peer.port):
            continue
        found.append(sub)
    return found


def parse_connections(text: str, port: int | None = None) -> list[Connection]:
    """Established MPTCP connections in ``ss -Min`` output."""
    found = []
    for sock in parse_ss(text):
        if sock.state != "ESTAB":
            continue
        if port is not None and port not in (sock.local.port, sock.peer.port):
            continue
        found.append(
            Connection(
                local=sock.local,
                peer=sock.peer,
                state=sock.state,
                subflows=sock.int("subflows"),
                fallback="fallback" in sock.flags,
                token=sock.info.get("token"),
            )
        )
    return found


def subflows(node: Any, port: int | None = None) -> list[Subflow]:
    """Established MPTCP subflows in ``node`` right now."""
    return parse_subflows(node.run(["ss", "-tinH"]).stdout, port)


def connections(node: Any, port: int | None = None) -> list[Connection]:
    """Established MPTCP connections in ``node`` right now."""
    return parse_connections(node.run(["ss", "-MinH"]).stdout, port)


def tcp_sockets(node: Any, port: int) -> list[SsSocket]:
    """Every established TCP socket of ``port`` in ``node``: MPTCP subflows and plain TCP alike."""
    return [
        s for s in parse_ss(node.run(["ss", "-tinH"]).stdout)
        if s.state == "ESTAB" and port in (s.local.port, s.peer.port)
    ]


def is_mptcp(sock: socket.socket) -> bool:
    """True while ``sock`` is an MPTCP connection that has not fallen back to TCP."""
    return sock.getsockopt(socket.IPPROTO_TCP, TCP_IS_MPTCP) == 1

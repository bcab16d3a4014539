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


# --- path manager state (``ip -j mptcp endpoint show``, ``ip mptcp limits show``) ---

ENDPOINT_FLAGS = ("signal", "subflow", "backup", "fullmesh")


@dataclass(frozen=True)
class Endpoint:
    """One in-kernel path manager endpoint as ``ip -j mptcp endpoint show`` lists it."""

    id: int
    address: str
    flags: frozenset[str]
    dev: str | None = None
    port: int | None = None


def parse_endpoints(data: Any) -> list[Endpoint]:
    """Endpoints from the parsed JSON of ``ip -j mptcp endpoint show``, sorted by id.

    iproute2 prints each flag as a boolean key (``"signal": true``); empty
    output (no endpoint) parses as ``None`` or ``[]``.
    """
    found = [
        Endpoint(
            id=int(e["id"]),
            address=e["address"],
            flags=frozenset(f for f in ENDPOINT_FLAGS if e.get(f)),
            dev=e.get("dev"),
            port=int(e["port"]) if "port" in e else None,
        )
        for e in data or []
    ]
    return sorted(found, key=lambda e: e.id)


def parse_limits(text: str) -> dict[str, int]:
    """``ip mptcp limits show`` ("add_addr_accepted 0 subflows 2") as a dict.

    iproute2 6.1 has no JSON output for limits, hence the word pairs.
    """
    words = text.split()
    if len(words) % 2:
        raise ValueError(f"odd number of words in limits output: {text!r}")
    return {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}


def endpoints(node: Any) -> list[Endpoint]:
    return parse_endpoints(node.json(["ip", "-j", "mptcp", "endpoint", "show"]))


def limits(node: Any) -> dict[str, int]:
    return parse_limits(node.run(["ip", "mptcp", "limits", "show"]).stdout)

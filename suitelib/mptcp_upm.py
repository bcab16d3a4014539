"""The userspace path manager's generic netlink commands and events.

pyroute2 0.9's MPTCP client knows only the in-kernel PM commands (ADD_ADDR
.. SET_FLAGS), and iproute2 6.1 has no ``ip mptcp endpoint ... token``, so
this module declares the rest of the ``mptcp_pm`` family (uapi
linux/mptcp_pm.h): ANNOUNCE, REMOVE, SUBFLOW_CREATE, SUBFLOW_DESTROY and
the ``mptcp_pm_events`` multicast group, on pyroute2's generic netlink
classes. Ports in commands are host order (as pm_nl_ctl sends them); in
events they are network order (``nla_put_be16``).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST, genlmsg, nla
from pyroute2.netlink.generic import GenericNetlinkSocket

from . import genl
from .genl import GroupListener

FAMILY = "mptcp_pm"
EVENTS_GROUP = "mptcp_pm_events"

CMD_ANNOUNCE = 8
CMD_REMOVE = 9
CMD_SUBFLOW_CREATE = 10
CMD_SUBFLOW_DESTROY = 11

EVENT_NAMES = {1: "CREATED", 2: "ESTABLISHED", 3: "CLOSED", 6: "ANNOUNCED", 7: "REMOVED",
               10: "SUB_ESTABLISHED", 11: "SUB_CLOSED", 13: "SUB_PRIORITY",
               15: "LISTENER_CREATED", 16: "LISTENER_CLOSED"}


class pm_addr(nla):
    prefix = "MPTCP_PM_ADDR_ATTR_"
    nla_map = (
        ("MPTCP_PM_ADDR_ATTR_UNSPEC", "none"),
        ("MPTCP_PM_ADDR_ATTR_FAMILY", "uint16"),
        ("MPTCP_PM_ADDR_ATTR_ID", "uint8"),
        ("MPTCP_PM_ADDR_ATTR_ADDR4", "ipaddr"),
        ("MPTCP_PM_ADDR_ATTR_ADDR6", "ipaddr"),
        ("MPTCP_PM_ADDR_ATTR_PORT", "uint16"),
        ("MPTCP_PM_ADDR_ATTR_FLAGS", "uint32"),
        ("MPTCP_PM_ADDR_ATTR_IF_IDX", "int32"),
    )


class pm_msg(genlmsg):
    """A command of the mptcp_pm family, with the userspace PM's attributes."""

    prefix = "MPTCP_PM_ATTR_"
    nla_map = (
        ("MPTCP_PM_ATTR_UNSPEC", "none"),
        ("MPTCP_PM_ATTR_ADDR", "pm_addr"),
        ("MPTCP_PM_ATTR_RCV_ADD_ADDRS", "uint32"),
        ("MPTCP_PM_ATTR_SUBFLOWS", "uint32"),
        ("MPTCP_PM_ATTR_TOKEN", "uint32"),
        ("MPTCP_PM_ATTR_LOC_ID", "uint8"),
        ("MPTCP_PM_ATTR_ADDR_REMOTE", "pm_addr"),
    )
    pm_addr = pm_addr


class event_msg(genlmsg):
    """A message of the mptcp_pm_events group."""

    prefix = "MPTCP_ATTR_"
    nla_map = (
        ("MPTCP_ATTR_UNSPEC", "none"),
        ("MPTCP_ATTR_TOKEN", "uint32"),
        ("MPTCP_ATTR_FAMILY", "uint16"),
        ("MPTCP_ATTR_LOC_ID", "uint8"),
        ("MPTCP_ATTR_REM_ID", "uint8"),
        ("MPTCP_ATTR_SADDR4", "ipaddr"),
        ("MPTCP_ATTR_SADDR6", "ipaddr"),
        ("MPTCP_ATTR_DADDR4", "ipaddr"),
        ("MPTCP_ATTR_DADDR6", "ipaddr"),
        ("MPTCP_ATTR_SPORT", "be16"),
        ("MPTCP_ATTR_DPORT", "be16"),
        ("MPTCP_ATTR_BACKUP", "uint8"),
        ("MPTCP_ATTR_ERROR", "uint8"),
        ("MPTCP_ATTR_FLAGS", "uint16"),
        ("MPTCP_ATTR_TIMEOUT", "uint32"),
        ("MPTCP_ATTR_IF_IDX", "int32"),
        ("MPTCP_ATTR_RESET_REASON", "uint32"),
        ("MPTCP_ATTR_RESET_FLAGS", "uint32"),
        ("MPTCP_ATTR_SERVER_SIDE", "uint8"),
    )


def addr_attrs(address: str, *, id: int | None = None, port: int | None = None, flags: int | None = None) -> dict:
    """The nested MPTCP_PM_ADDR_ATTR_* set for one address."""
    ip = ipaddress.ip_address(address)
    attrs: list[list[Any]] = [
        ["MPTCP_PM_ADDR_ATTR_FAMILY", socket.AF_INET if ip.version == 4 else socket.AF_INET6],
        ["MPTCP_PM_ADDR_ATTR_ADDR4" if ip.version == 4 else "MPTCP_PM_ADDR_ATTR_ADDR6", str(ip)],
    ]
    if id is not None:
        attrs.append(["MPTCP_PM_ADDR_ATTR_ID", id])
    if port is not None:
        attrs.append(["MPTCP_PM_ADDR_ATTR_PORT", port])
    if flags is not None:
        attrs.append(["MPTCP_PM_ADDR_ATTR_FLAGS", flags])
    return {"attrs": attrs}


def event_fields(msg: Any) -> dict[str, Any]:
    """An event as a flat dict: ``{"event": "CREATED", "token": ..., "saddr4": ...}``."""
    out: dict[str, Any] = {"event": EVENT_NAMES.get(msg["cmd"], str(msg["cmd"]))}
    for name, value in msg["attrs"]:
        out[name.removeprefix("MPTCP_ATTR_").lower()] = value
    return out


class UserspacePM:
    """Commands of the userspace PM on a generic netlink socket ``sock``
    (already living in the right namespace)."""

    def __init__(self, sock: socket.socket) -> None:
        self.nl = GenericNetlinkSocket(use_socket=sock)
        self.nl.bind(FAMILY, pm_msg)

    def close(self) -> None:
        self.nl.close()

    def _request(self, cmd: int, attrs: list[list[Any]]) -> None:
        msg = pm_msg()
        msg["cmd"] = cmd
        msg["version"] = 1
        msg["attrs"] = attrs
        self.nl.nlm_request(msg, msg_type=self.nl.prid, msg_flags=NLM_F_REQUEST | NLM_F_ACK)

    def announce(self, token: int, address: str, id: int, port: int | None = None) -> None:
        self._request(CMD_ANNOUNCE, [["MPTCP_PM_ATTR_TOKEN", token],
                                     ["MPTCP_PM_ATTR_ADDR", addr_attrs(address, id=id, port=port, flags=1)]])

    def remove(self, token: int, id: int) -> None:
        self._request(CMD_REMOVE, [["MPTCP_PM_ATTR_TOKEN", token], ["MPTCP_PM_ATTR_LOC_ID", id]])

    def subflow_create(self, token: int, local: str, local_id: int, remote: str, remote_port: int) -> None:
        self._request(CMD_SUBFLOW_CREATE, [
            ["MPTCP_PM_ATTR_TOKEN", token],
            ["MPTCP_PM_ATTR_ADDR", addr_attrs(local, id=local_id)],
            ["MPTCP_PM_ATTR_ADDR_REMOTE", addr_attrs(remote, port=remote_port)],
        ])

    def subflow_destroy(self, token: int, local: tuple[str, int], remote: tuple[str, int]) -> None:
        self._request(CMD_SUBFLOW_DESTROY, [
            ["MPTCP_PM_ATTR_TOKEN", token],
            ["MPTCP_PM_ATTR_ADDR", addr_attrs(local[0], port=local[1])],
            ["MPTCP_PM_ATTR_ADDR_REMOTE", addr_attrs(remote[0], port=remote[1])],
        ])


class EventListener(GroupListener[dict[str, Any]]):
    """A member of the mptcp_pm_events group on ``sock``; collects events
    (``lookup``: a second socket, for the family and group ids)."""

    def __init__(self, sock: socket.socket, lookup: socket.socket) -> None:
        super().__init__(sock, lookup, FAMILY, EVENTS_GROUP, event_msg, event_fields)

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.received

    def wait_for(self, event: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:  # type: ignore[override]
        """The first event named ``event`` whose fields include ``match``."""
        return super().wait_for(
            lambda ev: ev["event"] == event and all(ev.get(k) == v for k, v in match.items()),
            timeout, f"{event} {match}",
        )


def decode_events(data: bytes, prid: int) -> list[dict[str, Any]]:
    """The mptcp_pm events in one netlink datagram (several messages may share it)."""
    return [event_fields(msg) for msg in genl.decode(data, prid, event_msg)]

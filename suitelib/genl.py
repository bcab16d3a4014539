"""Reading a generic netlink multicast group with a deadline.

pyroute2 resolves family and group ids (its GenericNetlinkSocket, on a
separate "lookup" socket), but its asyncio reader drains the socket into its
own queue, which makes "wait at most N seconds for a message like this"
awkward. So messages are read from a plain netlink socket and decoded with
the family's pyroute2 message class. Used for the MPTCP PM events and the
psample packets group.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pyroute2.netlink import genlmsg
from pyroute2.netlink.generic import GenericNetlinkSocket

SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NLMSG_HDRLEN = 16

T = TypeVar("T")


def resolve(lookup: socket.socket, family: str, msg_class: type[genlmsg], group: str) -> tuple[int, int]:
    """(family id, multicast group id) of ``family``/``group``; closes ``lookup``.

    Raises KeyError naming the group when the family has no such group.
    """
    nl = GenericNetlinkSocket(use_socket=lookup)
    try:
        nl.bind(family, msg_class)
        groups = nl.mcast_groups
        if group not in groups:
            raise KeyError(f"generic netlink family {family!r} has no multicast group {group!r}: {sorted(groups)}")
        return nl.prid, groups[group]
    finally:
        nl.close()


def decode(data: bytes, prid: int, msg_class: type[genlmsg]) -> list[genlmsg]:
    """The messages of family ``prid`` in one netlink datagram (several may share it)."""
    out, offset = [], 0
    while offset + NLMSG_HDRLEN <= len(data):
        length, msg_type = struct.unpack_from("=IH", data, offset)
        if length < NLMSG_HDRLEN:
            break
        if msg_type == prid:
            msg = msg_class(data[offset:offset + length])
            msg.decode()
            out.append(msg)
        offset += (length + 3) & ~3
    return out


class GroupListener(Generic[T]):
    """A member of one multicast group on ``sock``; messages become ``T`` through ``convert``."""

    def __init__(self, sock: socket.socket, lookup: socket.socket, family: str, group: str,
                 msg_class: type[genlmsg], convert: Callable[[genlmsg], T]) -> None:
        self.prid, group_id = resolve(lookup, family, msg_class, group)
        self.msg_class = msg_class
        self.convert = convert
        self.sock = sock
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, 0))
        self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group_id)
        self.received: list[T] = []

    def close(self) -> None:
        self.sock.close()

    def poll(self, timeout: float) -> None:
        """Read what arrives within ``timeout`` seconds into ``received``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.sock], [], [], min(left, 0.2))
            if ready:
                self.received.extend(self.convert(m) for m in decode(self.sock.recv(1 << 16), self.prid, self.msg_class))

    def wait_for(self, accept: Callable[[T], bool], timeout: float, what: str) -> T:
        """The first received item ``accept`` takes, reading up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for item in self.received:
                if accept(item):
                    return item
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout} s; received: {self.received[-10:]}")
            self.poll(min(left, 0.2))

    def drain(self) -> None:
        """Forget what was received (and what is queued now)."""
        self.poll(0.05)
        self.received.clear()


def fields(msg: genlmsg, prefix: str) -> dict[str, Any]:
    """A message's attributes as a flat dict, names without ``prefix`` and lower-case."""
    return {name.removeprefix(prefix).lower(): value for name, value in msg["attrs"]}

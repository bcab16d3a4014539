"""Counting packets: interface counters and a tap for marked frames.

Interface counters (``ip -s -j link``) count everything, including the
background chatter of a fresh namespace (IPv6 router solicitations, MLD
reports), so they suit "at least N" and "far fewer than N" assertions. The
tap is exact: it counts only frames carrying a test's own random marker.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

ETH_P_ALL = 0x0003
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4  # sll_pkttype of frames the interface sent
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
_AUXDATA = struct.Struct("=IIIHHHH")  # struct tpacket_auxdata


@dataclass(frozen=True)
class LinkStats:
    rx_packets: int
    rx_bytes: int
    rx_dropped: int
    tx_packets: int
    tx_bytes: int
    tx_dropped: int

    def __sub__(self, other: "LinkStats") -> "LinkStats":
        return LinkStats(*(getattr(self, f) - getattr(other, f) for f in self.__dataclass_fields__))


def parse_link_stats(data: list[dict[str, Any]]) -> LinkStats:
    """Counters of the one link in parsed ``ip -s -j link show dev X`` JSON."""
    if len(data) != 1:
        raise ValueError(f"expected exactly one link, got {len(data)}")
    stats = data[0]["stats64"]
    rx, tx = stats["rx"], stats["tx"]
    return LinkStats(
        rx_packets=rx["packets"], rx_bytes=rx["bytes"], rx_dropped=rx["dropped"],
        tx_packets=tx["packets"], tx_bytes=tx["bytes"], tx_dropped=tx["dropped"],
    )


def link_stats(node: Any, ifname: str) -> LinkStats:
    return parse_link_stats(node.json(["ip", "-s", "-j", "link", "show", "dev", ifname]))


def inet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071); 0 when ``data`` already carries a correct one."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def new_marker() -> bytes:
    """16 random bytes that no other traffic carries."""
    return b"NHMARK" + os.urandom(10)


class Frame(NamedTuple):
    """A frame an interface received, with its outer VLAN tag as (VID, TPID), None when untagged."""

    data: bytes
    vlan: tuple[int, int] | None


def auxdata_vlan(data: bytes) -> tuple[int, int] | None:
    """(VLAN id, TPID) of a frame whose tag the kernel moved into metadata
    (``PACKET_AUXDATA`` control message), or None for an untagged frame."""
    status, _len, _snaplen, _mac, _net, tci, tpid = _AUXDATA.unpack_from(data)
    if not status & TP_STATUS_VLAN_VALID:
        return None
    return tci & 0x0FFF, tpid if status & TP_STATUS_VLAN_TPID_VALID else ETH_P_8021Q


def inline_vlan(frame: bytes) -> tuple[int, int] | None:
    """(VLAN id, TPID) of a tag still inside the frame's bytes (not moved to metadata)."""
    if len(frame) >= 18:
        tpid = struct.unpack_from("!H", frame, 12)[0]
        if tpid in (ETH_P_8021Q, ETH_P_8021AD):
            return struct.unpack_from("!H", frame, 14)[0] & 0x0FFF, tpid
    return None


def received_frame(data: bytes, pkttype: int, ancdata: Iterable[tuple[int, int, bytes]]) -> Frame | None:
    """The Frame a packet socket read stands for, or None for a frame the interface sent (pure).

    The kernel moves a received frame's outer tag into metadata before packet
    sockets see it; PACKET_AUXDATA hands it back, else the tag is in the bytes.
    """
    if pkttype == PACKET_OUTGOING:
        return None
    vlan = None
    for level, kind, cdata in ancdata:
        if level == SOL_PACKET and kind == PACKET_AUXDATA:
            vlan = auxdata_vlan(cdata)
    return Frame(data, vlan or inline_vlan(data))


class FrameTap:
    """A packet socket on one interface of a node, kept for the test's duration.

    Keeps every frame the interface receives (not those it sends), including
    frames for other MAC addresses (a veth does not filter), before any IP
    processing, each with its VLAN tag. The one tap every suite uses.
    """

    def __init__(self, node: Any, ifname: str) -> None:
        self.where = f"{node.name}:{ifname}"
        self.frames: list[Frame] = []
        self._sock: socket.socket = node.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            self._sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            self._sock.bind((ifname, ETH_P_ALL))
        except BaseException:
            self._sock.close()
            raise

    def _read_for(self, seconds: float) -> None:
        """Append the frames that arrive within ``seconds`` (at least one non-blocking pass)."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            self._sock.settimeout(remaining if remaining > 0 else 0.0)  # 0.0: non-blocking
            try:
                data, ancdata, _flags, addr = self._sock.recvmsg(65535, socket.CMSG_SPACE(32))
            except (BlockingIOError, TimeoutError):
                return
            frame = received_frame(data, addr[2], ancdata)
            if frame is not None:
                self.frames.append(frame)

    def matching(self, marker: bytes, *, settle: float = 0.0) -> list[tuple[int, int] | None]:
        """The VLAN tags of the marked frames received so far (None: untagged)."""
        self._read_for(settle)
        return [frame.vlan for frame in self.frames if marker in frame.data]

    def count(self, marker: bytes, *, settle: float = 0.0) -> int:
        """Marked frames received so far, after reading for ``settle`` seconds more."""
        return len(self.matching(marker, settle=settle))

    def wait_for(self, marker: bytes, n: int = 1, *, timeout: float = 5.0) -> int:
        """Read until ``n`` marked frames arrived or ``timeout`` passed; return the count."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.count(marker)
            remaining = deadline - time.monotonic()
            if got >= n or remaining <= 0:
                return got
            self._read_for(min(remaining, 0.05))

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "FrameTap":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

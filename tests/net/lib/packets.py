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
from typing import Any

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # sll_pkttype of frames the interface sent


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


def count_marked(frames: Iterable[tuple[bytes, int]], marker: bytes) -> int:
    """Received (not sent) frames whose bytes contain ``marker``.

    ``frames`` are (frame bytes, sll_pkttype) pairs as a packet socket gives them.
    """
    return sum(1 for data, pkttype in frames if pkttype != PACKET_OUTGOING and marker in data)


class FrameTap:
    """A packet socket on one interface of a node, kept for the test's duration.

    Sees every frame the interface receives, including frames for other MAC
    addresses (a veth does not filter), before any IP processing.
    """

    def __init__(self, node: Any, ifname: str) -> None:
        self.where = f"{node.name}:{ifname}"
        self.frames: list[tuple[bytes, int]] = []
        self._sock: socket.socket = node.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
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
                data, addr = self._sock.recvfrom(65535)
            except (BlockingIOError, TimeoutError):
                return
            self.frames.append((data, addr[2]))

    def count(self, marker: bytes, *, settle: float = 0.0) -> int:
        """Marked frames received so far, after reading for ``settle`` seconds more."""
        self._read_for(settle)
        return count_marked(self.frames, marker)

    def wait_for(self, marker: bytes, n: int, *, timeout: float) -> int:
        """Read until ``n`` marked frames arrived or ``timeout`` passed; return the count."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.count(marker, settle=0.0)
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

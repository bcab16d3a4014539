"""Pure helpers to read TCP segments out of captured Ethernet frames.

Offloads show on the wire: with TSO/GSO on, a veth hands its peer one
"super-segment" larger than the MTU; with both off the stack cuts segments
to the MSS before the device sees them. With tx-checksumming on, a frame
captured on a veth carries only the pseudo-header sum (CHECKSUM_PARTIAL);
off, the full checksum is computed in software.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from .packets import inet_checksum

ETH_HLEN = 14
ETH_P_IP = 0x0800
IPPROTO_TCP = 6


@dataclass(frozen=True)
class TcpSegment:
    frame_len: int
    payload_len: int
    sport: int
    dport: int
    checksum_ok: bool


def tcp_checksum_ok(src: bytes, dst: bytes, tcp: bytes) -> bool:
    """True if the TCP checksum over pseudo-header + segment verifies (sums to 0xffff)."""
    pseudo = src + dst + struct.pack("!BBH", 0, IPPROTO_TCP, len(tcp))
    return inet_checksum(pseudo + tcp) == 0


def tcp_segment(frame: bytes) -> TcpSegment | None:
    """The TCP segment in an Ethernet/IPv4 frame, or None for anything else."""
    if len(frame) < ETH_HLEN + 20 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return None
    ip = frame[ETH_HLEN:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != IPPROTO_TCP:
        return None
    total = struct.unpack("!H", ip[2:4])[0]
    # A GSO super-segment captured before segmentation may carry tot_len 0
    # (when > 64 KiB); fall back to the captured length.
    end = total if total else len(ip)
    tcp = ip[ihl:end]
    if len(tcp) < 20:
        return None
    sport, dport = struct.unpack("!HH", tcp[:4])
    doff = (tcp[12] >> 4) * 4
    return TcpSegment(
        frame_len=len(frame),
        payload_len=len(tcp) - doff,
        sport=sport,
        dport=dport,
        checksum_ok=tcp_checksum_ok(ip[12:16], ip[16:20], tcp),
    )


def data_segments(frames: Iterable[bytes], port: int) -> list[TcpSegment]:
    """Segments to or from ``port`` that carry payload."""
    out = []
    for frame in frames:
        seg = tcp_segment(frame)
        if seg is not None and port in (seg.sport, seg.dport) and seg.payload_len > 0:
            out.append(seg)
    return out

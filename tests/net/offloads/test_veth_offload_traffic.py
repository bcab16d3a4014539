"""Segmentation and checksum offloads seen in traffic across a veth pair.

What the sender's features do shows on the receiver's wire: a packet
socket on rx's end sees each skb as the stack delivers it (after GRO). With
TSO/GSO off on tx the stack cuts segments to the MSS before the device; on,
the veth hands its peer one super-segment larger than the MTU. With
tx-checksumming on, that skb carries only the pseudo-header sum
(CHECKSUM_PARTIAL); off, the full checksum is computed in software. With GRO
on rx, MSS-sized segments are merged again before delivery (and the merged
skb is CHECKSUM_PARTIAL again, ready to be re-segmented if forwarded). Every case
carries a checksummed transfer, so an offload that corrupted data fails it.

Topology offloads-veth: tx starts with tso, gso and tx-checksumming off,
rx with gro off (the builder sets them from the file). Runs on the host
kernel too (veth only).
"""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from harness.topology.live import LiveNode

from suitelib import segments as sg
from suitelib.offload_port import Port
from suitelib.transfer import exchange

pytestmark = pytest.mark.topology("offloads-veth")

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33  # not exported by Python's socket module
MTU_FRAME = sg.ETH_HLEN + 1500  # the largest frame a segment cut to the MSS makes
SIZE = 512 * 1024
SERVER = "198.51.100.2"
_ports = itertools.count(5400)


@contextmanager
def captured(node: LiveNode, ifname: str) -> Iterator[list[bytes]]:
    """Frames ``ifname`` in ``node`` receives while the block runs (not the ones it sends)."""
    sock = node.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    sock.bind((ifname, 0))
    sock.settimeout(0.2)
    frames: list[bytes] = []
    stop = threading.Event()

    def drain() -> None:
        # After the block ends, read on until the queue is empty.
        while True:
            try:
                data, addr = sock.recvfrom(1 << 18)
            except TimeoutError:
                if stop.is_set():
                    return
                continue
            if addr[2] != PACKET_OUTGOING:
                frames.append(data)

    reader = threading.Thread(target=drain, name="netharness-capture", daemon=True)
    reader.start()
    try:
        yield frames
    finally:
        stop.set()
        reader.join(5)
        sock.close()


def transfer_segments(topo) -> list[sg.TcpSegment]:
    """Send SIZE bytes tx -> rx (and back) and return the data segments rx received."""
    port = next(_ports)
    listener = topo["rx"].socket()
    listener.bind((SERVER, port))
    listener.listen(1)
    try:
        with captured(topo["rx"], "eth0") as frames:
            result = exchange(listener, topo["tx"].socket(), (SERVER, port), SIZE)
    finally:
        listener.close()
    assert result.content_ok, "the transfer's content was altered on the way"
    segments = [s for s in sg.data_segments(frames, port) if s.dport == port]
    assert sum(s.payload_len for s in segments) >= SIZE, "the capture missed data segments"
    return segments


def test_without_tso_and_gso_segments_are_cut_to_the_mss_and_fully_checksummed(topo):
    segments = transfer_segments(topo)
    assert max(s.frame_len for s in segments) <= MTU_FRAME
    assert all(s.checksum_ok for s in segments), "tx-checksumming is off: every checksum must be complete"


def test_with_tso_the_veth_carries_super_segments_with_partial_checksums(topo):
    Port(topo["tx"], "eth0").ethtool("-K", "{dev}", "tx-checksumming", "on", "tso", "on", "gso", "on")
    segments = transfer_segments(topo)
    big = [s for s in segments if s.frame_len > MTU_FRAME]
    assert big, f"no segment above {MTU_FRAME} bytes with TSO on: {sorted({s.frame_len for s in segments})[-5:]}"
    # Checksum offloaded: the skb still holds only the pseudo-header sum.
    assert not any(s.checksum_ok for s in big)


def test_gso_without_tso_still_segments_in_software_before_the_device(topo):
    # GSO with a device that lacks TSO: the stack builds super-segments and
    # cuts them itself just before handing them to the device.
    Port(topo["tx"], "eth0").ethtool("-K", "{dev}", "gso", "on")
    segments = transfer_segments(topo)
    assert max(s.frame_len for s in segments) <= MTU_FRAME


def test_gro_on_the_receiver_merges_mss_segments(topo):
    Port(topo["rx"], "eth0").ethtool("-K", "{dev}", "gro", "on")
    assert Port(topo["rx"], "eth0").features()["generic-receive-offload"].on
    segments = transfer_segments(topo)
    merged = [s for s in segments if s.frame_len > MTU_FRAME]
    assert merged, f"GRO on rx merged nothing: largest frames {sorted({s.frame_len for s in segments})[-5:]}"
    # tcp_gro_complete leaves a merged skb CHECKSUM_PARTIAL with the
    # pseudo-header sum, so it can be segmented again if it is forwarded.
    assert not any(s.checksum_ok for s in merged)

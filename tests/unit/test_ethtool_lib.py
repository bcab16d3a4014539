"""Parsers of suitelib/ethtool.py and segments.py on captured ethtool 6.1 output."""

from __future__ import annotations

import struct

import pytest

from suitelib import ethtool as et
from suitelib import segments as sg
from suitelib.packets import inet_checksum

FEATURES = """Features for va:
rx-checksumming: on
tx-checksumming: on
\ttx-checksum-ipv4: off [fixed]
\ttx-checksum-ip-generic: on
tcp-segmentation-offload: on
\ttx-tcp-segmentation: on
generic-receive-offload: off
large-receive-offload: off [fixed]
hw-tc-offload: off [fixed]
"""

CHANNELS = """Channel parameters for va:
Pre-set maximums:
RX:\t\t2
TX:\t\t2
Other:\t\tn/a
Combined:\tn/a
Current hardware settings:
RX:\t\t1
TX:\t\t1
Other:\t\tn/a
Combined:\tn/a
"""

RINGS = """Ring parameters for np0:
Pre-set maximums:
RX:\t\t\t4096
RX Mini:\t\t4096
RX Jumbo:\t\t4096
TX:\t\t\t4096
Current hardware settings:
RX:\t\t\t512
RX Mini:\t\t0
RX Jumbo:\t\t0
TX:\t\t\t256
RX Buf Len:\t\tn/a
"""

COALESCE = """Coalesce parameters for np0:
Adaptive RX: off  TX: on
stats-block-usecs:\t0
rx-usecs:\t30
rx-frame-low:\tn/a
"""


def test_features_with_fixed_and_requested() -> None:
    f = et.parse_features(FEATURES)
    assert f["tx-checksumming"] == et.Feature(on=True, fixed=False)
    assert f["tx-checksum-ipv4"] == et.Feature(on=False, fixed=True)
    assert f["large-receive-offload"].fixed and not f["generic-receive-offload"].on
    changes = et.parse_features("Actual changes:\ntx-checksum-fcoe-crc: off [requested on]\n")
    assert changes["tx-checksum-fcoe-crc"] == et.Feature(on=False, fixed=False, requested=True)


def test_max_current_sections() -> None:
    maxima, current = et.parse_max_current(CHANNELS)
    assert maxima == {"rx": 2, "tx": 2, "other": None, "combined": None}
    assert current["rx"] == 1 and current["combined"] is None
    maxima, current = et.parse_max_current(RINGS)
    assert maxima["rx-jumbo"] == 4096 and current == {"rx": 512, "rx-mini": 0, "rx-jumbo": 0, "tx": 256,
                                                       "rx-buf-len": None}


def test_coalesce_adaptive_line() -> None:
    c = et.parse_coalesce(COALESCE)
    assert c == {"adaptive-rx": False, "adaptive-tx": True, "stats-block-usecs": 0, "rx-usecs": 30,
                 "rx-frame-low": None}


def test_udp_table_decoding() -> None:
    text = f"{et.udp_table_entry(4789, 'vxlan')} 0 {et.udp_table_entry(6081, 'geneve')} 0\n"
    assert et.parse_udp_table(text) == [(4789, 1), (0, 0), (6081, 2), (0, 0)]
    assert et.offloaded_ports(text) == {(4789, 1), (6081, 2)}


def _frame(payload: bytes, good: bool) -> bytes:
    src, dst = bytes([198, 51, 100, 1]), bytes([198, 51, 100, 2])
    tcp = struct.pack("!HHIIBBHHH", 40000, 5001, 1, 0, 5 << 4, 0x18, 512, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    csum = inet_checksum(pseudo + tcp) if good else 0x1234
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src, dst)
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp


def test_segments_and_checksums() -> None:
    good, bad = _frame(b"x" * 100, True), _frame(b"y" * 3000, False)
    segs = sg.data_segments([good, bad, b"\x00" * 60], 5001)
    assert [(s.payload_len, s.checksum_ok) for s in segs] == [(100, True), (3000, False)]
    assert sg.data_segments([good], 9999) == []


PAUSE_TEXT = "Pause parameters for np0:\nAutonegotiate:\toff\nRX:\t\ton\nTX:\t\toff\n"


def test_pause_flags_from_the_text_output():
    assert et.pause_flags(PAUSE_TEXT) == {"autonegotiate": False, "rx": True, "tx": False}
    assert et.pause_flags(PAUSE_TEXT.replace("TX:\t\toff", "TX:\t\ton"))["tx"] is True


def test_pause_flags_refuse_output_without_the_three_lines():
    with pytest.raises(ValueError, match="without autonegotiate"):
        et.pause_flags("Pause parameters for np0:\nRX:\t\ton\n")

"""Tests for the parsers in suitelib on captured real output.

The samples in tests/unit/data/netlib/ (see its README.md) come from the
conformance suites' own topologies on a 6.18 kernel with iproute2 6.1.
No root, no namespaces: these run anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import struct

import pytest

from suitelib import bridge, mptcp, nstat
from suitelib.packets import (
    ETH_P_8021AD,
    ETH_P_8021Q,
    PACKET_AUXDATA,
    PACKET_OUTGOING,
    SOL_PACKET,
    TP_STATUS_VLAN_TPID_VALID,
    TP_STATUS_VLAN_VALID,
    Frame,
    LinkStats,
    parse_link_stats,
    received_frame,
)
from suitelib.ss import Address, parse_info, parse_ss
from suitelib.wait import poll

DATA = Path(__file__).parent / "data" / "netlib"


def text(name: str) -> str:
    return (DATA / name).read_text()


def data(name: str):
    return json.loads(text(name))


# --- ss ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, host, port, device",
    [
        ("10.0.1.1:53890", "10.0.1.1", 53890, None),
        ("10.0.2.1%eth1:55839", "10.0.2.1", 55839, "eth1"),
        ("[2001:db8::1]:58914", "2001:db8::1", 58914, None),
        ("[2001:db8::1]%eth0:48400", "2001:db8::1", 48400, "eth0"),
        ("[fe80::f467:d9ff:fedf:a2c6]:5001", "fe80::f467:d9ff:fedf:a2c6", 5001, None),
        ("0.0.0.0:*", "0.0.0.0", None, None),
        ("*:*", "*", None, None),
    ],
)
def test_address_parse(raw, host, port, device):
    addr = Address.parse(raw)
    assert (addr.host, addr.port, addr.device) == (host, port, device)
    assert Address.parse(str(addr)) == addr


def test_parse_ss_reads_sockets_and_skips_header():
    socks = parse_ss(text("ss_tin_mptcp_two_subflows_server.txt"))
    assert [(s.state, s.recv_q, s.send_q) for s in socks] == [("ESTAB", 0, 0), ("ESTAB", 0, 136)]
    assert [str(s.peer) for s in socks] == ["10.0.2.1:55839", "10.0.1.1:53890"]
    assert all(s.local == Address("10.0.1.2", 5201) for s in socks)


def test_parse_ss_info_fields_flags_and_ulp():
    first = parse_ss(text("ss_tin_mptcp_two_subflows_client.txt"))[0]
    assert first.int("bytes_sent") == 1861161
    assert first.int("bytes_acked") == 1861162
    assert first.int("bytes_received") == 1198552
    assert first.info["rtt"] == "0.021/0.019"
    assert first.info["bbr"] == "(bw:53286399584bps,mrtt:0.006,pacing_gain:1.25,cwnd_gain:2)"
    assert first.info["send"] == "132388571429bps"  # "name value" pairs
    assert first.info["pacing_rate"] == "65941919480bps"
    assert "bbr" in first.flags  # the congestion control's name stands alone
    assert first.ulp == "mptcp"
    assert first.ulp_info == {
        "flags": "Jjec",
        "token": "871f9673(id:0)/715a1203(id:1)",
        "seq": "53891c2dff5034c9",
        "sfseq": "11b601",
        "ssnoff": "396f3953",
        "maplen": "93d8",
    }
    assert "flags" not in first.info, "ULP fields must not leak into the TCP fields"


def test_parse_ss_plain_tcp_has_no_ulp():
    (sock,) = parse_ss(text("ss_tin_plain_client_on_mptcp_listener_server.txt"))
    assert sock.ulp is None and sock.ulp_info == {}
    assert sock.int("bytes_received") == 65553


def test_parse_ss_ipv6_with_bound_device():
    socks = parse_ss(text("ss_tin_ipv6.txt"))
    assert [(s.local.host, s.local.device, s.peer.host) for s in socks] == [
        ("2001:db8::1", None, "2001:db8::2"),
        ("2001:db8::1", "eth0", "fe80::f467:d9ff:fedf:a2c6"),
    ]
    assert "app_limited" in socks[0].flags


def test_parse_ss_single_state_filter_output_is_not_misread():
    # `ss -tin state established` drops the State column; such lines are not sockets.
    assert parse_ss("0      0      10.0.1.1:1 10.0.1.2:2\n\t bytes_acked:5\n") == []


def test_parse_info_missing_value_of_a_pair_is_a_flag():
    assert parse_info("cubic send") == ({}, frozenset({"cubic", "send"}), None, {})


def test_int_default_for_absent_field():
    sock = parse_ss(text("ss_tin_ipv6.txt"))[0]
    assert sock.int("bytes_received") == 0 and sock.int("bytes_received", -1) == -1


# --- mptcp ---------------------------------------------------------------------


def test_mptcp_subflows_on_client():
    subs = mptcp.parse_subflows(text("ss_tin_mptcp_two_subflows_client.txt"))
    assert len(subs) == 2
    join, initial = subs
    assert join.is_join and not join.is_initial and join.fully_established
    assert (join.local.host, join.local.device, join.peer.port) == ("10.0.2.1", "eth1", 5201)
    assert initial.is_initial and not initial.is_join
    assert (join.bytes_acked, join.bytes_received) == (1861162, 1198552)
    assert (initial.bytes_acked, initial.bytes_received) == (2351689, 3022081)
    assert sum(s.bytes_received for s in subs) >= 4 << 20


def test_mptcp_subflows_on_server_from_the_flags_seen_there():
    subs = mptcp.parse_subflows(text("ss_tin_mptcp_two_subflows_server.txt"))
    assert [s.flags for s in subs] == ["Jec", "Mec"]  # the passive side never sets j/m
    assert [s.is_join for s in subs] == [True, False]


def test_mptcp_subflows_port_filter_and_plain_tcp():
    assert len(mptcp.parse_subflows(text("ss_tin_mptcp_two_subflows_client.txt"), port=5201)) == 2
    assert mptcp.parse_subflows(text("ss_tin_mptcp_two_subflows_client.txt"), port=5202) == []
    assert mptcp.parse_subflows(text("ss_tin_plain_client_on_mptcp_listener_server.txt")) == []


def test_mptcp_connections():
    (conn,) = mptcp.parse_connections(text("ss_Min_mptcp_client.txt"))
    assert (conn.subflows, conn.fallback, conn.token) == (1, False, "715a1203")
    assert conn.peer == Address("10.0.1.2", 5201)
    (fb,) = mptcp.parse_connections(text("ss_Min_fallback_client.txt"))
    assert (fb.subflows, fb.fallback, fb.token) == (0, True, "2963cfa6")
    assert mptcp.parse_connections(text("ss_Min_fallback_client.txt"), port=5201) == []


# --- nstat ---------------------------------------------------------------------


def test_parse_nstat_json_server_after_two_path_transfer():
    counters = nstat.parse_nstat_json(text("nstat_mptcp_two_subflows_server.json"))
    assert len(counters) > 300 and all(isinstance(v, int) for v in counters.values())
    assert counters["MPTcpExtMPCapableSYNRX"] == 1
    assert counters["MPTcpExtMPJoinSynRx"] == 1
    assert counters["MPTcpExtMPJoinAckRx"] == 1
    assert counters["MPTcpExtMPJoinSynAckRx"] == 0
    assert counters["TcpExtTCPOrigDataSent"] > 0


def test_nstat_delta_and_nonzero():
    client = nstat.parse_nstat_json(text("nstat_mptcp_two_subflows_client.json"))
    fallback = nstat.parse_nstat_json(text("nstat_fallback_client.json"))
    zero = {k: 0 for k in client}
    moved = nstat.delta(zero, client, ["MPTcpExtMPJoinSynAckRx", "MPTcpExtMPCapableFallbackSYNACK", "NoSuchCounter"])
    assert moved == {"MPTcpExtMPJoinSynAckRx": 1, "MPTcpExtMPCapableFallbackSYNACK": 0, "NoSuchCounter": 0}
    assert nstat.nonzero(nstat.delta(zero, fallback, [k for k in fallback if k.startswith("MPTcpExt")])) == {
        "MPTcpExtMPCapableSYNTX": 1,
        "MPTcpExtMPCapableFallbackSYNACK": 1,
    }
    assert nstat.delta({"a": 5}, {"a": 7, "b": 1}) == {"a": 2, "b": 1}


# --- bridge --------------------------------------------------------------------

HOST_MACS = {"p1": "fe:3b:e4:39:ca:da", "p2": "f6:67:d9:df:a2:c6", "p3": "9a:21:38:7e:7f:ea"}


def test_parse_fdb_learned_entries():
    entries = bridge.parse_fdb(data("bridge_fdb_learned.json"))
    assert len(entries) == 20
    assert {(e.ifname, e.mac) for e in bridge.learned(entries)} == set(HOST_MACS.items())
    for port, mac in HOST_MACS.items():
        assert bridge.learned_ports(entries, mac.upper()) == [port]
    local = [e for e in entries if e.local]
    assert sorted(e.ifname for e in local) == ["p1", "p2", "p3"]
    assert all(e.master == "br0" and not e.learned for e in local)
    self_entries = [e for e in entries if "self" in e.flags]
    assert self_entries and not any(e.learned or e.local for e in self_entries)


def test_parse_fdb_after_flush_has_nothing_learned():
    entries = bridge.parse_fdb(data("bridge_fdb_flushed.json"))
    assert bridge.learned(entries) == []
    assert sorted(e.ifname for e in entries if e.local) == ["p1", "p2", "p3"]


def test_parse_fdb_empty_and_states():
    assert bridge.parse_fdb(None) == []
    raw = [
        {"mac": "02:00:00:00:00:01", "ifname": "p1", "master": "br0", "flags": [], "state": "stale"},
        {"mac": "02:00:00:00:00:02", "ifname": "p1", "master": "br0", "flags": [], "state": "static"},
        {"mac": "02:00:00:00:00:03", "ifname": "p1", "master": "br0", "flags": ["extern_learn"], "state": ""},
        {"mac": "02:00:00:00:00:04", "ifname": "p1", "vlan": 10, "master": "br0", "flags": [], "state": ""},
    ]
    entries = bridge.parse_fdb(raw)
    assert [e.learned for e in entries] == [True, False, False, True]
    assert entries[3].vlan == 10


def test_parse_bridge_links():
    ports = bridge.parse_bridge_links(data("bridge_link_detail.json"))
    assert sorted(ports) == ["p1", "p2", "p3"]
    assert (ports["p1"].learning, ports["p1"].flood) == (True, True)
    assert (ports["p2"].learning, ports["p2"].flood) == (False, True)
    assert (ports["p3"].learning, ports["p3"].flood) == (True, False)
    assert all(p.master == "br0" and p.state == "forwarding" for p in ports.values())


# --- packets -------------------------------------------------------------------


def test_parse_link_stats():
    stats = parse_link_stats(data("ip_link_stats_eth0.json"))
    assert stats == LinkStats(rx_packets=9, rx_bytes=766, rx_dropped=0, tx_packets=3, tx_bytes=250, tx_dropped=0)
    assert (stats - stats) == LinkStats(0, 0, 0, 0, 0, 0)


def test_parse_link_stats_needs_one_link():
    with pytest.raises(ValueError, match="exactly one link"):
        parse_link_stats([])


def test_received_frames_keep_their_vlan_and_sent_frames_are_dropped():
    aux = struct.pack("=IIIHHHH", TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID, 0, 0, 0, 0, 0x2005, ETH_P_8021AD)
    untagged = b"\x01" * 12 + b"\x08\x00" + b"payload"
    inline = b"\x01" * 12 + struct.pack("!HH", ETH_P_8021Q, 7) + b"\x08\x00payload"
    assert received_frame(untagged, 0, [(SOL_PACKET, PACKET_AUXDATA, aux)]) == Frame(untagged, (5, ETH_P_8021AD))
    assert received_frame(inline, 3, []) == Frame(inline, (7, ETH_P_8021Q))
    assert received_frame(untagged, 0, []) == Frame(untagged, None)
    assert received_frame(untagged, PACKET_OUTGOING, []) is None


# --- wait ----------------------------------------------------------------------


def test_poll_returns_first_value_that_is_done():
    values = iter(range(10))
    assert poll(lambda: next(values), lambda v: v >= 3, timeout=5, interval=0) == 3


def test_poll_returns_last_value_on_timeout():
    assert poll(lambda: 1, lambda v: v > 1, timeout=0.05, interval=0.01) == 1

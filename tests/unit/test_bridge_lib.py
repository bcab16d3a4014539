"""Tests for suitelib/bridge.py: parsers of iproute2 6.1 JSON (shapes
captured from ``bridge -j``/``ip -j`` on the 6.12 test kernel and the 6.18
host), frame builders, and the rtnetlink encoder/decoder. No root."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from harness import rtnl
from suitelib import bridge as br
from suitelib import packets as pk

FDB = [
    {"mac": "33:33:00:00:00:01", "ifname": "br0", "flags": ["self"], "state": "permanent"},
    {"mac": "02:00:00:00:00:01", "ifname": "p1", "flags": ["sticky"], "master": "br0", "state": "static"},
    {"mac": "DA:25:D7:0A:12:3A", "ifname": "p1", "flags": [], "master": "br0", "state": ""},
    {"mac": "3e:35:37:2a:05:0f", "ifname": "p1", "flags": [], "master": "br0", "state": "permanent"},
    {"mac": "02:00:00:00:00:02", "ifname": "p2", "flags": ["extern_learn", "offload"], "master": "br0",
     "state": "", "vlan": 10},
]


def test_fdb_entries_kinds_and_flags():
    entries = br.parse_fdb(FDB)
    assert [e.mac for e in br.learned(entries)] == ["da:25:d7:0a:12:3a"]
    assert br.learned_ports(entries, "DA:25:D7:0A:12:3A") == ["p1"]
    assert [e.ifname for e in entries if e.local] == ["p1"]
    sticky, ext = entries[1], entries[4]
    assert br.fdb_flag(sticky, "sticky") and not sticky.learned and sticky.state == "static"
    assert br.fdb_flag(ext, "offload") and br.fdb_flag(ext, "extern_learn") and not ext.learned and ext.vlan == 10
    assert br.parse_fdb(None) == []


LINK = [{"ifindex": 4, "ifname": "p1", "master": "br0", "state": "forwarding", "learning": True, "flood": True,
         "mcast_flood": True, "bcast_flood": False, "mcast_router": 1, "isolated": False, "locked": True}]


def test_port_flags_and_bridge_port():
    flags = br.port_flags(LINK, "p1")
    assert flags["locked"] is True and flags["mcast_router"] == 1 and "mab" not in flags  # iproute2 6.1
    port = br.parse_bridge_links(LINK)["p1"]
    assert port.bcast_flood is False and port.state == "forwarding"
    with pytest.raises(LookupError, match="p9 is not a bridge port"):
        br.port_flags(LINK, "p9")


def test_vlans_ranges_expand_and_other_ports_are_ignored():
    data = [
        {"ifname": "p1", "vlans": [{"vlan": 1, "flags": ["PVID", "Egress Untagged"]}, {"vlan": 20, "vlanEnd": 22}]},
        {"ifname": "p2", "vlans": [{"vlan": 5}]},
    ]
    assert br.parse_vlans(data, "p1") == {1: {"PVID", "Egress Untagged"}, 20: set(), 21: set(), 22: set()}
    assert br.parse_vlans(None, "p1") == {}


MDB = [{"mdb": [
    {"index": 2, "dev": "br0", "port": "br0", "grp": "239.1.1.2", "state": "temp", "flags": []},
    {"index": 2, "dev": "br0", "port": "p1", "grp": "239.1.1.1", "state": "permanent", "protocol": "static",
     "flags": []},
    {"index": 2, "dev": "br0", "port": "p2", "grp": "239.1.1.1", "src": "192.0.2.1", "state": "temp",
     "flags": [], "vid": 10},
    {"index": 2, "dev": "br0", "port": "p1", "grp": "ff0e:0::10:10", "state": "temp", "protocol": "kernel"},
], "router": {}}]


def test_mdb_entries_and_ports_per_group_vlan_source():
    entries = br.parse_mdb(MDB)
    assert len(entries) == 4 and entries[1].protocol == "static" and entries[1].state == "permanent"
    assert br.mdb_ports(entries, "239.1.1.1") == {"p1"}
    assert br.mdb_ports(entries, "239.1.1.1", vid=10, source="192.0.2.1") == {"p2"}
    assert br.mdb_ports(entries, "ff0e::10:10") == {"p1"}  # addresses compared, not strings
    assert br.mdb_ports(entries, "239.9.9.9") == set()
    assert br.parse_mdb(None) == []


def test_bridge_info_needs_one_bridge():
    data = [{"ifname": "br0", "linkinfo": {"info_kind": "bridge", "info_data": {"ageing_time": 30000}}}]
    assert br.parse_bridge_info(data) == {"ageing_time": 30000}
    with pytest.raises(ValueError, match="not a bridge"):
        br.parse_bridge_info([{"ifname": "p1", "linkinfo": {"info_kind": "veth"}}])
    with pytest.raises(ValueError, match="exactly one"):
        br.parse_bridge_info([])


# --- frames ------------------------------------------------------------------------------


def test_macs():
    macs = br.unique_macs(300, tag=7)
    assert len(set(macs)) == 300 and macs[0] == "02:4e:07:00:00:00" and macs[257] == "02:4e:07:00:01:01"
    assert br.mac_str(br.mac_bytes("AA:bb:0c:00:00:01")) == "aa:bb:0c:00:00:01"
    with pytest.raises(ValueError):
        br.unique_macs(1, tag=256)
    with pytest.raises(ValueError):
        br.mac_bytes("aa:bb")
    assert br.multicast_mac("239.129.1.2") == "01:00:5e:01:01:02"  # the top bit of the 2nd octet is dropped
    assert br.multicast_mac("ff0e::1:2:3") == "33:33:00:02:00:03"
    with pytest.raises(ValueError, match="not a multicast"):
        br.multicast_mac("10.0.0.1")


def test_ether_tagging_and_padding():
    plain = br.ether("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x88B5, b"x")
    assert len(plain) == 60 and plain[12:14] == b"\x88\xb5" and br.inline_vlan(plain) is None
    tagged = br.ether("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x88B5, b"x", vlan=10)
    assert br.inline_vlan(tagged) == (10, br.ETH_P_8021Q) and tagged[16:18] == b"\x88\xb5"
    stag = br.ether("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x8100, b"x", vlan=3, tpid=br.ETH_P_8021AD)
    assert br.inline_vlan(stag) == (3, br.ETH_P_8021AD)
    with pytest.raises(ValueError):
        br.ether("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x88B5, b"", vlan=4096)


def test_checksums_verify_to_zero():
    packet = br.ipv4("10.0.0.1", "239.1.1.1", 2, b"", router_alert=True)
    assert packet[0] == 0x46 and br.inet_checksum(packet[:24]) == 0
    assert br.inet_checksum(br.igmpv2_report("239.1.1.1")) == 0
    leave = br.igmpv2_report("239.1.1.1", leave=True)
    assert leave[0] == 0x17 and br.inet_checksum(leave) == 0
    v3 = br.igmpv3_report([("allow", "239.1.1.1", ["192.0.2.1", "192.0.2.2"]), ("block", "239.1.1.2", [])])
    assert v3[0] == 0x22 and struct.unpack("!H", v3[6:8])[0] == 2 and br.inet_checksum(v3) == 0
    assert v3[8] == 5 and struct.unpack("!H", v3[10:12])[0] == 2 and v3[24] == 6


def test_igmp_frame_destinations():
    v2 = br.igmp_frame("02:00:00:00:00:02", "10.0.0.2", br.igmpv2_report("239.1.1.1"))
    assert br.mac_str(v2[:6]) == "01:00:5e:01:01:01" and v2[14 + 8] == 1  # TTL 1
    assert bytes(v2[14 + 16 : 14 + 20]) == ipaddress.IPv4Address("239.1.1.1").packed
    v3 = br.igmp_frame("02:00:00:00:00:02", "10.0.0.2", br.igmpv3_report([("is_ex", "239.1.1.1", [])]))
    assert br.mac_str(v3[:6]) == "01:00:5e:00:00:16"
    leave = br.igmp_frame("02:00:00:00:00:02", "10.0.0.2", br.igmpv2_report("239.1.1.1", leave=True))
    assert br.mac_str(leave[:6]) == "01:00:5e:00:00:02"


def test_mldv2_report_layout_and_checksum():
    packet = br.mldv2_report("fe80::2", [("is_ex", "ff0e::10", [])])
    assert packet[0] >> 4 == 6 and packet[6] == 0 and packet[7] == 1  # HBH next, hop limit 1
    hbh, icmp = packet[40:48], packet[48:]
    assert hbh[0] == 58 and hbh[2:4] == b"\x05\x02"  # Router Alert option
    assert icmp[0] == 143
    pseudo = br._pseudo6("fe80::2", "ff02::16", 58, len(icmp))
    assert br.inet_checksum(pseudo + icmp) == 0
    frame = br.mld_frame("02:00:00:00:00:02", "fe80::2", [("is_ex", "ff0e::10", [])], vlan=5)
    assert br.mac_str(frame[:6]) == "33:33:00:00:00:16" and br.inline_vlan(frame) == (5, br.ETH_P_8021Q)


def test_mcast_data_frames():
    v4 = br.mcast_data_frame("02:00:00:00:00:01", "192.0.2.1", "239.1.1.1", b"MARK")
    assert v4[12:14] == b"\x08\x00" and b"MARK" in v4 and br.mac_str(v4[:6]) == "01:00:5e:01:01:01"
    v6 = br.mcast_data_frame("02:00:00:00:00:01", "2001:db8::1", "ff0e::1", b"MARK")
    udp = v6[14 + 40 :]
    assert br.inet_checksum(br._pseudo6("2001:db8::1", "ff0e::1", 17, len(udp)) + udp) == 0


def test_auxdata_vlan():
    tagged = struct.pack("=IIIHHHH", pk.TP_STATUS_VLAN_VALID | pk.TP_STATUS_VLAN_TPID_VALID, 60, 60, 0, 14,
                         0x200A, pk.ETH_P_8021AD)
    assert pk.auxdata_vlan(tagged) == (10, pk.ETH_P_8021AD)  # priority bits dropped
    old_kernel = struct.pack("=IIIHHHH", pk.TP_STATUS_VLAN_VALID, 60, 60, 0, 14, 20, 0)
    assert pk.auxdata_vlan(old_kernel) == (20, pk.ETH_P_8021Q)
    assert pk.auxdata_vlan(struct.pack("=IIIHHHH", 0, 60, 60, 0, 14, 0, 0)) is None


# --- rtnetlink --------------------------------------------------------------------------------


def test_set_bridge_u32_message_layout():
    msg = br.set_bridge_u32(7, br.IFLA_BR_FDB_MAX_LEARNED, 3, seq=9)
    length, kind, flags, seq, _pid = struct.unpack_from("=IHHII", msg)
    assert (length, kind, flags, seq) == (len(msg), br.RTM_NEWLINK, br.NLM_F_REQUEST | br.NLM_F_ACK, 9)
    family, index = struct.unpack_from("=Bxxxi", msg, 16)
    assert (family, index) == (socket.AF_UNSPEC, 7)
    attrs = br.parse_nlattrs(msg[32:])
    linkinfo = br.parse_nlattrs(attrs[br.IFLA_LINKINFO])
    assert linkinfo[br.IFLA_INFO_KIND] == b"bridge\x00"
    data = br.parse_nlattrs(linkinfo[br.IFLA_INFO_DATA])
    assert br.u32(data[br.IFLA_BR_FDB_MAX_LEARNED]) == 3
    # And the reply decoder reads the same nesting back.
    assert br.u32(br.bridge_data(msg[16:])[br.IFLA_BR_FDB_MAX_LEARNED]) == 3


def test_set_port_u8_is_an_af_bridge_setlink():
    msg = br.set_port_u8(4, br.IFLA_BRPORT_MAB, 1)
    assert struct.unpack_from("=H", msg, 4)[0] == br.RTM_SETLINK
    assert msg[16] == socket.AF_BRIDGE
    protinfo = br.parse_nlattrs(br.parse_nlattrs(msg[32:])[br.IFLA_PROTINFO])
    assert protinfo == {br.IFLA_BRPORT_MAB: b"\x01"}
    wide = br.parse_nlattrs(br.parse_nlattrs(br.set_port_u32(4, br.IFLA_BRPORT_MCAST_MAX_GROUPS, 5)[32:])[br.IFLA_PROTINFO])
    assert wide == {br.IFLA_BRPORT_MCAST_MAX_GROUPS: b"\x05\x00\x00\x00"}
    assert br.nlattr(1, b"\x01")[0:4] == b"\x05\x00\x01\x00" and len(br.nlattr(1, b"\x01")) == 8


def _error(errno_: int, with_msg: str | None) -> bytes:
    inner = struct.pack("=IHHII", 40, br.RTM_NEWLINK, 5, 1, 0)  # the request's header (capped)
    body = struct.pack("=i", -errno_) + inner
    flags = 0x100
    if with_msg is not None:
        flags |= rtnl.NLM_F_ACK_TLVS
        body += br.nlattr(rtnl.NLMSGERR_ATTR_MSG, with_msg.encode() + b"\x00")
    return struct.pack("=IHHII", 16 + len(body), br.NLMSG_ERROR, flags, 1, 0) + body


def test_replies_errors_acks_and_extack_text():
    (err,) = br.parse_replies(_error(22, "Bridge port must be locked and have learning enabled when MAB is enabled"))
    assert err.error == -22 and err.message.startswith("Bridge port must be locked")
    (ack,) = br.parse_replies(_error(0, None))
    assert ack.error == 0 and ack.message == ""
    done = struct.pack("=IHHII", 20, br.NLMSG_DONE, 2, 1, 0) + b"\x00" * 4
    assert [r.kind for r in br.parse_replies(_error(0, None) + done)] == [br.NLMSG_ERROR, br.NLMSG_DONE]


def test_neigh_fdb_entry_with_locked_flag():
    payload = struct.pack("=BxxxiHBB", socket.AF_BRIDGE, 5, 0x2, 0, 0)
    payload += br.nlattr(br.NDA_LLADDR, bytes.fromhex("024e21000000"))
    payload += br.nlattr(br.NDA_MASTER, struct.pack("=I", 3))
    payload += br.nlattr(br.NDA_VLAN, struct.pack("=H", 10))
    payload += br.nlattr(br.NDA_FLAGS_EXT, struct.pack("=I", br.NTF_EXT_LOCKED))
    entry = br.parse_neigh(payload)
    assert (entry.ifindex, entry.mac, entry.vlan, entry.master, entry.locked) == (5, "02:4e:21:00:00:00", 10, 3, True)
    plain = br.parse_neigh(struct.pack("=BxxxiHBB", socket.AF_BRIDGE, 5, 0x2, 0, 0))
    assert plain.locked is False and plain.vlan is None
    request = br.fdb_dump_request()
    assert struct.unpack_from("=HH", request, 4) == (br.RTM_GETNEIGH, br.NLM_F_REQUEST | br.NLM_F_DUMP)


def test_bridge_attrs_by_name():
    data = {
        4: struct.pack("=I", 30000), 7: b"\x01", 39: struct.pack("=H", 7), 49: struct.pack("=I", 3),
        br.IFLA_BR_MULTI_BOOLOPT: struct.pack("=II", 0b10, 0b111),
    }
    attrs = br.parse_bridge_attrs(data)
    assert attrs == {"ageing_time": 30000, "vlan_filtering": 1, "vlan_default_pvid": 7, "fdb_max_learned": 3,
                     "mcast_vlan_snooping": 1}
    assert br.parse_bridge_attrs({}) == {}

"""IGMP/MLD snooping and the MDB: reports create port entries, leaves and
BLOCK records remove them, multicast follows the entries only while a
querier exists, static and host-joined entries, router ports, version and
group validation.

Topology bridge-3hosts. Reports are crafted frames (``suitelib/bridge.py``
builds IGMPv2/v3 and MLDv2 with correct checksums), so each test decides
exactly what the bridge hears. The bridge is its own querier with short
intervals (``snooping``). Reference: bridge_igmp.sh, bridge_mld.sh,
bridge_mdb.sh, bridge_mdb_host.sh.
"""

from __future__ import annotations

import time

import pytest

from suitelib import bridge as brlib
from suitelib.packets import new_marker
from suitelib.wait import poll

pytestmark = [pytest.mark.topology("bridge-3hosts"), pytest.mark.requires(kconfig=["PACKET"], tools=["bridge"])]

G4 = "239.10.10.10"
G6 = "ff0e::10:10"
SRC = ("192.0.2.1", "192.0.2.2", "192.0.2.3")  # multicast sources (only in frames)
H2_LL = "fe80::2:2"  # the reports' IPv6 source: link-local as MLD wants


def querier(sw, igmp_version: int = 2) -> None:
    """Snooping on, the bridge as querier with short timers; wait until the
    querier counts as present (query response interval after enabling)."""
    sw.batch("ip", [
        f"link set dev br0 type bridge mcast_snooping 1 mcast_igmp_version {igmp_version} mcast_mld_version 2"
        " mcast_query_response_interval 50 mcast_last_member_interval 10 mcast_last_member_count 2",
        "link set dev br0 type bridge mcast_querier 1",
    ])
    time.sleep(0.6)


def send_data(sw, group: str, source: str | None = None) -> dict[str, bool]:
    """A datagram to ``group`` from h1: which other hosts got it."""
    marker = new_marker()
    src_ip = source or ("10.0.0.1" if ":" not in group else "2001:db8::1")
    with sw.tap("p2") as t2, sw.tap("p3") as t3:
        sw.send("p1", [brlib.mcast_data_frame(sw.host_mac("p1"), src_ip, group, marker)])
        t2.count(marker, settle=0.2)
        return {"p2": t2.count(marker) > 0, "p3": t3.count(marker, settle=0.02) > 0}


def report_v2(sw, port: str, group: str, leave: bool = False) -> None:
    sw.send(port, [brlib.igmp_frame(sw.host_mac(port), sw.host_ip(port), brlib.igmpv2_report(group, leave=leave))])


def report_v3(sw, port: str, *records) -> None:
    sw.send(port, [brlib.igmp_frame(sw.host_mac(port), sw.host_ip(port), brlib.igmpv3_report(records))])


def entries_for(sw, group, source=None):
    return poll(lambda: brlib.mdb_ports(sw.mdb(), group, source=source), bool, timeout=2)


def test_igmpv2_report_and_leave(switch):
    sw = switch
    querier(sw)
    report_v2(sw, "p2", G4)
    assert entries_for(sw, G4) == {"p2"}
    (entry,) = [e for e in sw.mdb() if e.group == G4]
    assert entry.state == "temp" and entry.protocol in (None, "kernel"), entry
    assert send_data(sw, G4) == {"p2": True, "p3": False}, "a registered group must reach its members only"
    report_v2(sw, "p2", G4, leave=True)
    gone = poll(lambda: brlib.mdb_ports(sw.mdb(), G4), lambda p: not p, timeout=3)
    assert gone == set(), "the leave did not remove the entry after the last member queries"
    # With a querier present, unregistered IP multicast goes to router ports only (none here).
    assert send_data(sw, G4) == {"p2": False, "p3": False}, "an unregistered group went to non-router ports"


def test_without_a_querier_registered_groups_still_flood(switch):
    """Negative control of the snooping tests: no querier, no trust in the MDB."""
    sw = switch
    sw.set_bridge(mcast_snooping=1, mcast_querier=0)
    report_v2(sw, "p2", G4)
    assert entries_for(sw, G4) == {"p2"}
    assert send_data(sw, G4) == {"p2": True, "p3": True}


def test_snooping_off_ignores_reports_and_floods(switch):
    sw = switch
    querier(sw)
    sw.set_bridge(mcast_snooping=0)
    report_v2(sw, "p2", G4)
    time.sleep(0.1)
    assert brlib.mdb_ports(sw.mdb(), G4) == set(), "reports were snooped with snooping off"
    assert send_data(sw, G4) == {"p2": True, "p3": True}


def test_igmpv3_include_sources_filter_traffic(switch):
    sw = switch
    querier(sw, igmp_version=3)
    report_v3(sw, "p2", ("allow", G4, SRC[:2]))
    for source in SRC[:2]:
        assert entries_for(sw, G4, source=source) == {"p2"}, source
    assert brlib.mdb_ports(sw.mdb(), G4, source=SRC[2]) == set()
    assert send_data(sw, G4, source=SRC[0])["p2"] is True, "an included source did not reach p2"
    assert send_data(sw, G4, source=SRC[2]) == {"p2": False, "p3": False}, "a source p2 did not ask for got there"


def test_igmpv3_block_removes_a_source(switch):
    sw = switch
    querier(sw, igmp_version=3)
    report_v3(sw, "p2", ("allow", G4, SRC[:2]))
    assert entries_for(sw, G4, source=SRC[0]) == {"p2"}
    report_v3(sw, "p2", ("block", G4, SRC[:1]))
    gone = poll(lambda: brlib.mdb_ports(sw.mdb(), G4, source=SRC[0]), lambda p: not p, timeout=3)
    assert gone == set(), "BLOCK did not remove (S1, G) after the source-specific queries"
    assert brlib.mdb_ports(sw.mdb(), G4, source=SRC[1]) == {"p2"}, "BLOCK of S1 removed S2 too"
    assert send_data(sw, G4, source=SRC[0])["p2"] is False
    assert send_data(sw, G4, source=SRC[1])["p2"] is True


def test_igmpv3_exclude_blocks_listed_sources(switch):
    sw = switch
    querier(sw, igmp_version=3)
    report_v3(sw, "p2", ("is_ex", G4, SRC[2:]))
    assert entries_for(sw, G4) == {"p2"}
    assert send_data(sw, G4, source=SRC[0]) == {"p2": True, "p3": False}, "EXCLUDE mode must let other sources in"
    assert send_data(sw, G4, source=SRC[2])["p2"] is False, "an excluded source reached p2"


def bridge_has_usable_ipv6(sw) -> bool:
    data = sw.json(["ip", "-6", "-j", "addr", "show", "dev", "br0"]) or []
    return any(a.get("scope") == "link" and not a.get("tentative") for d in data for a in d.get("addr_info", []))


def test_mldv2_report_and_done(switch):
    """The MLD querier needs a usable (post-DAD) IPv6 address on the bridge as its source."""
    sw = switch
    sw.node.set_sysctl("net.ipv6.conf.br0.dad_transmits", 0)
    assert poll(lambda: bridge_has_usable_ipv6(sw), bool, timeout=10), "br0 never got a usable link-local address"
    querier(sw)
    mac = sw.host_mac("p2")
    sw.send("p2", [brlib.mld_frame(mac, H2_LL, [("is_ex", G6, [])])])
    assert entries_for(sw, G6) == {"p2"}
    result = send_data(sw, G6)
    if result["p3"]:
        pytest.fail(f"a registered IPv6 group flooded to p3 (querier: {sw.options().get('mcast_querier')})")
    assert result["p2"], "a registered IPv6 group did not reach its member"
    sw.send("p2", [brlib.mld_frame(mac, H2_LL, [("to_in", G6, [])])])
    assert poll(lambda: brlib.mdb_ports(sw.mdb(), G6), lambda p: not p, timeout=3) == set()


def test_static_mdb_entry_forwards_and_goes_away(switch):
    sw = switch
    querier(sw)
    sw.run(["bridge", "mdb", "add", "dev", "br0", "port", "p3", "grp", G4, "permanent"])
    (entry,) = [e for e in sw.mdb() if e.group == G4]
    assert (entry.port, entry.state) == ("p3", "permanent"), entry
    assert send_data(sw, G4) == {"p2": False, "p3": True}
    sw.fails(["bridge", "mdb", "add", "dev", "br0", "port", "p3", "grp", G4, "permanent"])  # exists
    sw.run(["bridge", "mdb", "del", "dev", "br0", "port", "p3", "grp", G4])
    assert brlib.mdb_ports(sw.mdb(), G4) == set()
    assert send_data(sw, G4) == {"p2": False, "p3": False}


def test_invalid_mdb_groups_are_rejected(switch):
    sw = switch
    for group in ("224.0.0.5", "10.0.0.9", "ff02::1"):  # link-local IPv4, unicast, all-nodes
        sw.fails(["bridge", "mdb", "add", "dev", "br0", "port", "p3", "grp", group, "permanent"])
        assert brlib.mdb_ports(sw.mdb(), group) == set(), group


def test_host_joined_entry_delivers_to_the_bridge_itself(switch):
    from suitelib.packets import FrameTap

    sw = switch
    querier(sw)
    sw.run(["bridge", "mdb", "add", "dev", "br0", "port", "br0", "grp", G4])
    assert brlib.mdb_ports(sw.mdb(), G4) == {"br0"}
    with FrameTap(sw.node, "br0") as local:
        result = send_data(sw, G4)
        assert local.count(b"", settle=0.0) >= 0
        got_local = any(brlib.multicast_mac(G4) == brlib.mac_str(f[:6]) for f, _ in local.frames)
    assert got_local, "the bridge did not receive a group it joined as host"
    assert result == {"p2": False, "p3": False}, "a host-joined group leaked to ports"
    sw.run(["bridge", "mdb", "del", "dev", "br0", "port", "br0", "grp", G4])
    assert brlib.mdb_ports(sw.mdb(), G4) == set()


def test_router_port_gets_every_registered_group(switch):
    sw = switch
    querier(sw)
    report_v2(sw, "p2", G4)
    assert entries_for(sw, G4) == {"p2"}
    assert send_data(sw, G4)["p3"] is False, "control: p3 is not a router port yet"
    sw.set_port("p3", mcast_router=2)
    assert sw.port_flags("p3")["mcast_router"] == 2
    assert send_data(sw, G4) == {"p2": True, "p3": True}, "a permanent router port missed a registered group"
    sw.fails(["bridge", "link", "set", "dev", "p3", "mcast_router", "4"])
    assert sw.port_flags("p3")["mcast_router"] == 2


def test_invalid_protocol_versions_are_rejected(switch):
    sw = switch
    before = sw.options()
    for option, value in (("mcast_igmp_version", 1), ("mcast_igmp_version", 4), ("mcast_mld_version", 3)):
        sw.fails(["ip", "link", "set", "dev", "br0", "type", "bridge", option, str(value)])
        assert sw.options()[option] == before[option], option
    sw.set_bridge(mcast_igmp_version=3, mcast_mld_version=2)  # the valid ones are accepted
    assert (sw.options()["mcast_igmp_version"], sw.options()["mcast_mld_version"]) == (3, 2)


def test_mdb_entry_on_a_port_that_is_down(switch):
    """bridge_mdb_port_down.sh: entries can be added to and removed from a down port."""
    sw = switch
    sw.run(["ip", "link", "set", "dev", "p3", "down"])
    sw.run(["bridge", "mdb", "add", "dev", "br0", "port", "p3", "grp", G4, "permanent"])
    assert brlib.mdb_ports(sw.mdb(), G4) == {"p3"}
    sw.run(["bridge", "mdb", "del", "dev", "br0", "port", "p3", "grp", G4])
    assert brlib.mdb_ports(sw.mdb(), G4) == set()
    sw.fails(["bridge", "mdb", "del", "dev", "br0", "port", "p3", "grp", G4])  # nothing left to delete


def test_mldv2_include_sources_filter_traffic(switch):
    sw = switch
    sw.node.set_sysctl("net.ipv6.conf.br0.dad_transmits", 0)
    assert poll(lambda: bridge_has_usable_ipv6(sw), bool, timeout=10), "br0 never got a usable link-local address"
    querier(sw)
    sources = ("2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::3")
    sw.send("p2", [brlib.mld_frame(sw.host_mac("p2"), H2_LL, [("allow", G6, sources[:2])])])
    for source in sources[:2]:
        assert entries_for(sw, G6, source=source) == {"p2"}, source
    assert send_data(sw, G6, source=sources[0])["p2"] is True, "an included source did not reach p2"
    assert send_data(sw, G6, source=sources[2]) == {"p2": False, "p3": False}, "an unasked-for source got through"


def test_port_max_groups_caps_snooped_groups(switch):
    """bridge_mdb_max.sh (802.1D case): IFLA_BRPORT_MCAST_MAX_GROUPS (Linux 6.3+;
    iproute2 6.1 cannot set it, so over rtnetlink)."""
    sw = switch
    sw.set_bridge(mcast_snooping=1)
    sw.host("p2").set_sysctl("net.ipv6.conf.eth0.disable_ipv6", 1)  # no more MLD chatter from h2
    already = len({e.group for e in sw.mdb() if e.port == "p2"})  # h2's solicited-node groups count too
    reply = sw.set_port_u32("p2", brlib.IFLA_BRPORT_MCAST_MAX_GROUPS, already + 2)
    assert reply.error == 0, f"setting mcast_max_groups failed: {reply.error} {reply.message}"
    groups = [f"239.30.0.{i}" for i in range(1, 5)]
    sw.send("p2", [brlib.igmp_frame(sw.host_mac("p2"), sw.host_ip("p2"), brlib.igmpv2_report(g)) for g in groups])
    sw.send("p3", [brlib.igmp_frame(sw.host_mac("p3"), sw.host_ip("p3"), brlib.igmpv2_report(g)) for g in groups])
    on = lambda port: {e.group for e in sw.mdb() if e.port == port and e.group in groups}  # noqa: E731
    assert poll(lambda: on("p3"), lambda s: len(s) == 4, timeout=2) == set(groups), "control: unlimited p3"
    assert len(on("p2")) == 2, f"p2 is capped at 2 groups, has {sorted(on('p2'))}"
    # User entries count against the cap too: a third static entry is refused.
    err = sw.fails(["bridge", "mdb", "add", "dev", "br0", "port", "p2", "grp", "239.30.0.9", "permanent"])
    assert err


# --- IGMPv3 source-list transitions (RFC 3376 6.4), judged by the traffic they let through ---


def _state_then(sw, first, second):
    """Apply two reports from h2 (records as for igmpv3_report); return which of
    SRC reach p2 afterwards (after the last-member queries had time to end)."""
    querier(sw, igmp_version=3)
    report_v3(sw, "p2", first)
    assert entries_for(sw, G4) == {"p2"}
    report_v3(sw, "p2", second)
    time.sleep(0.5)  # last member count 2 x interval 0.1 s for the sources a report queries
    return [send_data(sw, G4, source=s)["p2"] for s in SRC]


def test_igmpv3_include_then_is_include_adds_sources(switch):
    # INCLUDE {S1} + IS_IN {S2} -> INCLUDE {S1, S2}
    assert _state_then(switch, ("allow", G4, SRC[:1]), ("is_in", G4, SRC[1:2])) == [True, True, False]


def test_igmpv3_include_then_is_exclude_switches_mode(switch):
    # INCLUDE {S1, S2} + IS_EX {S2, S3} -> EXCLUDE ({S2}, {S3}): S3 blocked, S1 not excluded
    assert _state_then(switch, ("allow", G4, SRC[:2]), ("is_ex", G4, SRC[1:])) == [True, True, False]


def test_igmpv3_exclude_then_allow_unblocks_a_source(switch):
    # EXCLUDE ({}, {S3}) + ALLOW {S3} -> EXCLUDE ({S3}, {})
    assert _state_then(switch, ("is_ex", G4, SRC[2:]), ("allow", G4, SRC[2:])) == [True, True, True]


def test_igmpv3_exclude_then_block_blocks_a_source_after_queries(switch):
    # EXCLUDE ({}, {S3}) + BLOCK {S1} -> S1 queried, then excluded when nobody answers
    assert _state_then(switch, ("is_ex", G4, SRC[2:]), ("block", G4, SRC[:1])) == [False, True, False]

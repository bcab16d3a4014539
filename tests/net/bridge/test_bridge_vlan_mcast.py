"""Multicast per VLAN: MDB entries carry a VID and steer only that VLAN's
traffic; per-VLAN snooping (``mcast_vlan_snooping``) needs VLAN filtering
and then has per-VLAN switches and versions (``bridge vlan global``).

Topology bridge-1q (needs BRIDGE_VLAN_FILTERING: VM only here). Reference:
bridge_vlan_mcast.sh, bridge_mdb.sh (the 802.1Q cases).
"""

from __future__ import annotations

import time

import pytest

from suitelib import bridge as brlib
from suitelib.packets import new_marker
from suitelib.wait import poll

pytestmark = [pytest.mark.topology("bridge-1q"), pytest.mark.requires(kconfig=["PACKET"], tools=["bridge"])]

G = "239.20.20.20"


def vlans_10_20(sw) -> None:
    sw.batch("bridge", [f"vlan add dev {p} vid {v}" for p in sw.ports for v in (10, 20)] + ["vlan add dev br0 vid 10 self"])


def send_in(sw, vid: int, group: str = G) -> dict[str, list]:
    marker = new_marker()
    with sw.tap("p2") as t2, sw.tap("p3") as t3:
        sw.send("p1", [brlib.mcast_data_frame(sw.host_mac("p1"), "10.0.1.1", group, marker, vlan=vid)])
        t2.count(marker, settle=0.2)
        return {"p2": t2.matching(marker), "p3": t3.matching(marker, settle=0.02)}


def global_vlan(sw, vid: int) -> dict:
    data = sw.json(["bridge", "-j", "-d", "vlan", "global", "show", "dev", "br0", "vid", str(vid)]) or []
    for entry in data:
        for vlan in entry.get("vlans", []):
            if vlan["vlan"] <= vid <= vlan.get("vlanEnd", vlan["vlan"]):
                return vlan
    raise LookupError(f"no global options for VLAN {vid}: {data}")


def test_mdb_entry_is_per_vlan(switch):
    sw = switch
    vlans_10_20(sw)
    sw.batch("ip", [
        "link set dev br0 type bridge mcast_snooping 1 mcast_query_response_interval 50",
        "link set dev br0 type bridge mcast_querier 1",
    ])
    time.sleep(0.6)
    sw.run(["bridge", "mdb", "add", "dev", "br0", "port", "p2", "grp", G, "permanent", "vid", "10"])
    entries = [e for e in sw.mdb() if e.group == G]
    assert [(e.port, e.vid, e.state) for e in entries] == [("p2", 10, "permanent")], entries
    assert send_in(sw, 10) == {"p2": [(10, brlib.ETH_P_8021Q)], "p3": []}, "VLAN 10 traffic must follow its entry"
    assert send_in(sw, 20) == {"p2": [], "p3": []}, "the VLAN 10 entry steered VLAN 20 traffic"
    sw.fails(["bridge", "mdb", "add", "dev", "br0", "port", "p2", "grp", G, "permanent", "vid", "4095"])


def test_snooped_report_records_its_vlan(switch):
    sw = switch
    vlans_10_20(sw)
    sw.set_bridge(mcast_snooping=1)
    sw.send("p2", [brlib.igmp_frame(sw.host_mac("p2"), "10.0.1.2", brlib.igmpv2_report(G), vlan=20)])
    found = poll(lambda: [(e.port, e.vid) for e in sw.mdb() if e.group == G], bool, timeout=2)
    assert found == [("p2", 20)], found


def test_vlan_snooping_needs_and_follows_vlan_filtering(switch):
    sw = switch
    sw.set_bridge(vlan_filtering=0)
    sw.fails(["ip", "link", "set", "dev", "br0", "type", "bridge", "mcast_vlan_snooping", "1"])
    assert sw.options()["mcast_vlan_snooping"] == 0
    sw.set_bridge(vlan_filtering=1)
    sw.set_bridge(mcast_vlan_snooping=1)
    assert sw.options()["mcast_vlan_snooping"] == 1
    # Turning VLAN filtering off turns VLAN snooping off with it (the kernel logs it).
    sw.set_bridge(vlan_filtering=0)
    assert sw.options()["mcast_vlan_snooping"] == 0, "VLAN snooping outlived VLAN filtering"


def test_per_vlan_snooping_switch_and_versions(switch):
    sw = switch
    vlans_10_20(sw)
    sw.set_bridge(mcast_snooping=1, mcast_vlan_snooping=1)
    assert global_vlan(sw, 10)["mcast_snooping"] == 1
    sw.run(["bridge", "vlan", "global", "set", "dev", "br0", "vid", "10", "mcast_snooping", "0"])
    assert global_vlan(sw, 10)["mcast_snooping"] == 0 and global_vlan(sw, 20)["mcast_snooping"] == 1
    report = brlib.igmpv2_report(G)
    sw.send("p2", [brlib.igmp_frame(sw.host_mac("p2"), "10.0.1.2", report, vlan=v) for v in (10, 20)])
    found = poll(lambda: {e.vid for e in sw.mdb() if e.group == G}, bool, timeout=2)
    assert found == {20}, f"VLAN 10 has snooping off, yet its report was snooped: {found}"
    sw.run(["bridge", "vlan", "global", "set", "dev", "br0", "vid", "20", "mcast_igmp_version", "3",
            "mcast_mld_version", "2"])
    assert (global_vlan(sw, 20)["mcast_igmp_version"], global_vlan(sw, 20)["mcast_mld_version"]) == (3, 2)
    for option, value in (("mcast_igmp_version", "4"), ("mcast_mld_version", "3")):
        sw.fails(["bridge", "vlan", "global", "set", "dev", "br0", "vid", "20", option, value])
    assert global_vlan(sw, 20)["mcast_igmp_version"] == 3

"""VLAN-aware bridge: PVID/untagged access ports, tagged trunks, and filtering.

Topology bridge-vlan: h1 is an access port of VLAN 10 (pvid, untagged), h2 a
trunk carrying VLAN 10 and 20-29 tagged and speaking on eth0.10, the switch
itself answers on br0.10. Needs BRIDGE_VLAN_FILTERING and VLAN_8021Q, which
the host kernel lacks: there these tests skip naming the option.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.topology("bridge-vlan"), pytest.mark.requires(tools=["ping", "bridge"])]


def ping(node, address: str) -> bool:
    return node.run(["ping", "-c", "1", "-W", "2", address], check=False).returncode == 0


def vlans_of(sw, port: str) -> dict[int, set[str]]:
    """VID -> flags ('PVID', 'Egress Untagged') of one port, ranges expanded."""
    out: dict[int, set[str]] = {}
    for entry in sw.json(["bridge", "-j", "vlan", "show", "dev", port]):
        for vlan in entry["vlans"]:
            for vid in range(vlan["vlan"], vlan.get("vlanEnd", vlan["vlan"]) + 1):
                out[vid] = set(vlan.get("flags", []))
    return out


def test_port_vlan_membership_is_as_declared(switch):
    topo = switch.topo
    sw = topo["sw"]
    p1 = vlans_of(sw, "p1")
    assert p1[10] == {"PVID", "Egress Untagged"}
    p2 = vlans_of(sw, "p2")
    assert set(range(20, 30)) <= set(p2)
    assert p2[10] == set() and p2[25] == set()  # tagged, not pvid
    assert 10 in vlans_of(sw, "br0")  # the bridge itself carries VLAN 10 for br0.10


def test_access_and_trunk_ports_reach_each_other_in_vlan_10(switch):
    topo = switch.topo
    assert ping(topo["h1"], "192.0.2.2")  # untagged on p1 -> tagged 10 on p2 -> eth0.10
    assert ping(topo["h1"], "192.0.2.254")  # the bridge's own VLAN interface
    assert ping(topo["h2"], "192.0.2.254")


def test_removing_the_vlan_from_the_trunk_stops_forwarding(switch):
    topo = switch.topo
    h1, sw = topo["h1"], topo["sw"]
    assert ping(h1, "192.0.2.2")
    sw.run(["bridge", "vlan", "del", "dev", "p2", "vid", "10"])
    h1.run(["ip", "neigh", "flush", "dev", "eth0"])
    assert not ping(h1, "192.0.2.2"), "VLAN 10 left p2, yet h2 still answered"
    assert ping(h1, "192.0.2.254"), "the access port itself must still work"


def test_untagged_frames_from_the_trunk_do_not_enter_vlan_10(switch):
    topo = switch.topo
    h2 = topo["h2"]
    # An untagged address on the trunk lands in p2's PVID (default VLAN 1), not VLAN 10.
    h2.run(["ip", "addr", "add", "192.0.2.22/24", "dev", "eth0"])
    h2.run(["ip", "route", "del", "192.0.2.0/24", "dev", "eth0.10"])
    assert not ping(h2, "192.0.2.1")

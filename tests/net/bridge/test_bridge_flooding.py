"""Per-port flooding controls: ``flood`` (unknown unicast), ``mcast_flood``
(unregistered multicast) and ``bcast_flood`` (broadcast).

Topology bridge-3hosts. For each flag, p3 has only that flag off and h1
sends one frame of each kind: p3 must get exactly the kinds whose flag is
still on, while p2 (all flags on) gets all three, the positive control.
Reference: the flooding cases of bridge_vlan_unaware.sh / lib.sh
(flood_unicast_test, flood_multicast_test) and the bcast_flood flag.
"""

from __future__ import annotations

import pytest

from suitelib import bridge as brlib
from suitelib.packets import new_marker

pytestmark = [pytest.mark.topology("bridge-3hosts"), pytest.mark.requires(kconfig=["PACKET"], tools=["bridge"])]

UNKNOWN_MAC = "02:4e:ff:00:00:01"  # never a source: stays unknown unicast
UNREGISTERED_GROUP_MAC = "01:00:5e:01:02:03"  # no MDB entry, not link-local
KINDS = {"flood": UNKNOWN_MAC, "mcast_flood": UNREGISTERED_GROUP_MAC, "bcast_flood": brlib.BROADCAST}


@pytest.mark.parametrize("flag", sorted(KINDS))
def test_flag_off_stops_only_its_kind_of_flood(switch, flag):
    sw = switch
    sw.set_port("p3", **{flag: "off"})
    flags = sw.port_flags("p3")
    assert flags[flag] is False and all(flags[f] is True for f in KINDS if f != flag), flags
    src = sw.host_mac("p1")
    markers = {kind: new_marker() for kind in KINDS}
    with sw.tap("p2") as t2, sw.tap("p3") as t3:
        sw.send("p1", [brlib.ether(KINDS[kind], src, 0x88B5, markers[kind]) for kind in KINDS])
        for kind, marker in markers.items():
            assert t2.wait_for(marker) == 1, f"control: {kind} frame did not reach p2"
        for kind, marker in markers.items():
            if kind != flag:
                assert t3.wait_for(marker) == 1, f"{kind} frame did not reach p3 although {kind} is on"
        assert t3.count(markers[flag], settle=0.1) == 0, f"p3 got a {flag} frame although {flag} is off"


def test_flags_turn_back_on(switch):
    sw = switch
    sw.batch("bridge", ["link set dev p3 flood off mcast_flood off bcast_flood off"])
    sw.batch("bridge", ["link set dev p3 flood on mcast_flood on bcast_flood on"])
    src = sw.host_mac("p1")
    markers = {kind: new_marker() for kind in KINDS}
    with sw.tap("p3") as t3:
        sw.send("p1", [brlib.ether(KINDS[kind], src, 0x88B5, markers[kind]) for kind in KINDS])
        for kind, marker in markers.items():
            assert t3.wait_for(marker) == 1, f"{kind} frame did not reach p3 after turning the flag on again"


def test_invalid_flag_values_are_rejected(switch):
    for flag in sorted(KINDS):
        switch.fails(["bridge", "link", "set", "dev", "p3", flag, "sometimes"])
    assert all(switch.port_flags("p3")[flag] is True for flag in KINDS)

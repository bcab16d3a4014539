"""VLAN-aware (802.1Q) bridge: ingress classification by PVID and tag,
egress tagged or untagged per port, ingress/egress filtering, learning and
flooding per VLAN, VLAN deletion, other-TPID frames, invalid VLAN ids.

Topology bridge-1q (needs BRIDGE_VLAN_FILTERING, which the host kernel
lacks: there these tests skip naming it). The hosts send and capture raw
frames, tags included, so they need no 802.1Q support; a ping checks that
ordinary IP traffic follows the same rules. Reference: bridge_vlan_aware.sh.
"""

from __future__ import annotations

import pytest

from suitelib import bridge as brlib
from suitelib.packets import new_marker
from suitelib.wait import poll

pytestmark = [pytest.mark.topology("bridge-1q"), pytest.mark.requires(kconfig=["PACKET"], tools=["bridge", "ping"])]

UNTAGGED = None


def frame(sw, port: str, marker: bytes, vlan: int | None = None, dst: str = brlib.BROADCAST,
          src: str | None = None, tpid: int = brlib.ETH_P_8021Q) -> bytes:
    return brlib.ether(dst, src or sw.host_mac(port), 0x88B5, marker, vlan=vlan, tpid=tpid)


def deliveries(sw, src_port: str, frames_: list[bytes], markers: list[bytes]):
    """Send ``frames_`` from ``src_port``; return {port: {marker index: [VLAN tags seen]}}
    for the other ports (an empty list: that frame never arrived there)."""
    others = [p for p in sw.ports if p != src_port]
    taps = {p: sw.tap(p) for p in others}
    try:
        sw.send(src_port, frames_)
        out = {}
        for i, (port, tap) in enumerate(taps.items()):
            tap.count(b"", settle=0.3 if i == 0 else 0.05)  # the bridge floods to all ports at once
            out[port] = {n: tap.matching(m) for n, m in enumerate(markers)}
        return out
    finally:
        for tap in taps.values():
            tap.close()


def configure(sw, lines: list[str]) -> None:
    sw.batch("bridge", lines)


def test_untagged_ingress_takes_the_pvid_and_egress_follows_port_flags(switch):
    sw = switch
    configure(sw, [
        "vlan add dev p1 vid 10 pvid untagged",
        "vlan add dev p2 vid 10",
        "vlan add dev p3 vid 10 pvid untagged",
    ])
    assert sw.vlans("p1")[10] == {"PVID", "Egress Untagged"} and sw.vlans("p2")[10] == set()
    marker = new_marker()
    (src,) = brlib.unique_macs(1, tag=0x43)
    seen = deliveries(sw, "p1", [frame(sw, "p1", marker, src=src)], [marker])
    assert seen["p2"][0] == [(10, brlib.ETH_P_8021Q)], f"trunk p2 should get it tagged 10: {seen}"
    assert seen["p3"][0] == [UNTAGGED], f"access port p3 should get it untagged: {seen}"
    entries = [e for e in sw.fdb() if e.mac == src and e.learned]
    assert {e.vlan for e in entries} == {10}, f"an untagged frame on p1 must be learned in VLAN 10 only: {entries}"
    assert sw.host("p1").run(["ping", "-c", "1", "-W", "2", "-q", sw.host_ip("p3")], check=False).returncode == 0


def test_tagged_ingress_needs_membership_of_its_vlan(switch):
    sw = switch
    configure(sw, ["vlan add dev p1 vid 10 pvid untagged", "vlan add dev p2 vid 10", "vlan add dev p3 vid 20"])
    member, stranger = new_marker(), new_marker()
    seen = deliveries(sw, "p2", [frame(sw, "p2", member, vlan=10), frame(sw, "p2", stranger, vlan=20)], [member, stranger])
    assert seen["p1"][0] == [UNTAGGED], f"VLAN 10 from the trunk did not reach access port p1: {seen}"
    assert seen["p3"][0] == [], "VLAN 10 left by p3, which is not a member"
    assert seen["p1"][1] == [] and seen["p3"][1] == [], "p2 is not in VLAN 20: ingress filtering must drop it"
    configure(sw, ["vlan add dev p2 vid 20"])
    again = new_marker()
    seen = deliveries(sw, "p2", [frame(sw, "p2", again, vlan=20)], [again])
    assert seen["p3"][0] == [(20, brlib.ETH_P_8021Q)] and seen["p1"][0] == [], seen


def test_port_without_pvid_drops_untagged_frames(switch):
    sw = switch
    before, after = new_marker(), new_marker()
    assert deliveries(sw, "p1", [frame(sw, "p1", before)], [before])["p2"][0] == [UNTAGGED], "control: VLAN 1 works"
    configure(sw, ["vlan del dev p1 vid 1"])
    assert 1 not in sw.vlans("p1")
    seen = deliveries(sw, "p1", [frame(sw, "p1", after)], [after])
    assert seen["p2"][0] == [] and seen["p3"][0] == [], "untagged frames entered through a port without PVID"


def test_learning_and_flooding_are_per_vlan(switch):
    sw = switch
    configure(sw, [
        "vlan add dev p1 vid 10", "vlan add dev p1 vid 20",
        "vlan add dev p2 vid 10", "vlan add dev p3 vid 20",
    ])
    (mac,) = brlib.unique_macs(1, tag=0x40)
    in10, in20 = new_marker(), new_marker()
    seen = deliveries(sw, "p1", [frame(sw, "p1", in10, vlan=10, src=mac), frame(sw, "p1", in20, vlan=20, src=mac)],
                      [in10, in20])
    assert seen["p2"][0] == [(10, brlib.ETH_P_8021Q)] and seen["p2"][1] == [], seen
    assert seen["p3"][1] == [(20, brlib.ETH_P_8021Q)] and seen["p3"][0] == [], seen
    found = poll(lambda: {(e.ifname, e.vlan) for e in sw.fdb() if e.mac == mac and e.learned},
                 lambda s: len(s) == 2, timeout=2)
    assert found == {("p1", 10), ("p1", 20)}, found
    # Unknown unicast in VLAN 10 floods to VLAN 10 members only.
    uu = new_marker()
    seen = deliveries(sw, "p1", [frame(sw, "p1", uu, vlan=10, dst="02:4e:41:00:00:01")], [uu])
    assert seen["p2"][0] == [(10, brlib.ETH_P_8021Q)] and seen["p3"][0] == [], seen
    # A MAC learned in VLAN 20 does not steer VLAN 10 traffic: still a flood.
    sw.send("p3", [frame(sw, "p3", new_marker(), vlan=20, src="02:4e:41:00:00:02")])
    poll(lambda: [e for e in sw.fdb() if e.mac == "02:4e:41:00:00:02"], bool, timeout=2)
    uu2 = new_marker()
    seen = deliveries(sw, "p1", [frame(sw, "p1", uu2, vlan=10, dst="02:4e:41:00:00:02")], [uu2])
    assert seen["p2"][0] == [(10, brlib.ETH_P_8021Q)], "a MAC known in VLAN 20 stopped the flood in VLAN 10"


def test_deleting_a_vlan_flushes_its_fdb_entries(switch):
    sw = switch
    configure(sw, ["vlan add dev p1 vid 10", "vlan add dev p2 vid 10"])
    (mac,) = brlib.unique_macs(1, tag=0x42)
    sw.send("p1", [frame(sw, "p1", new_marker(), vlan=10, src=mac), frame(sw, "p1", new_marker(), src=mac)])
    found = poll(lambda: {e.vlan for e in sw.fdb() if e.mac == mac and e.learned}, lambda s: s == {1, 10}, timeout=2)
    assert found == {1, 10}, found
    configure(sw, ["vlan del dev p1 vid 10"])
    assert {e.vlan for e in sw.fdb() if e.mac == mac and e.learned} == {1}, "VLAN 10 entries outlived the VLAN"


@pytest.mark.parametrize("pvid", [True, False], ids=["pvid", "no-pvid"])
def test_other_tpid_is_classified_as_untagged(switch, pvid):
    """802.1ad VID 3 + 802.1Q VID 5 into an 802.1Q bridge: untagged, so the PVID (1) decides."""
    sw = switch
    if not pvid:
        configure(sw, ["vlan del dev p1 vid 1"])
    marker = new_marker()
    inner = b"\x81\x00\x00\x05\x88\xb5" + marker  # the 802.1Q tag is payload behind the S-tag
    qinq = brlib.ether(brlib.BROADCAST, sw.host_mac("p1"), 0x8100, inner, vlan=3, tpid=brlib.ETH_P_8021AD)
    assert brlib.inline_vlan(qinq) == (3, brlib.ETH_P_8021AD)
    seen = deliveries(sw, "p1", [qinq], [marker])
    if pvid:
        assert seen["p2"][0] == [(3, brlib.ETH_P_8021AD)], f"not forwarded in the PVID with its S-tag kept: {seen}"
        learned = poll(lambda: {e.vlan for e in sw.fdb() if e.mac == sw.host_mac("p1") and e.learned},
                       lambda s: 1 in s, timeout=2)
        assert learned == {1}, f"learned in {learned}, not the PVID 1 only"
    else:
        assert seen["p2"][0] == [] and seen["p3"][0] == [], "other-TPID frame forwarded although p1 has no PVID"


def test_invalid_vlan_ids_are_rejected(switch):
    sw = switch
    for vid in ("0", "4095", "4096", "ten", "20-10"):
        sw.fails(["bridge", "vlan", "add", "dev", "p1", "vid", vid])
    assert set(sw.vlans("p1")) == {1}


def test_default_pvid_applies_to_new_ports_and_rejects_4095(switch):
    sw = switch
    sw.fails(["ip", "link", "set", "dev", "br0", "type", "bridge", "vlan_default_pvid", "4095"])
    sw.set_bridge(vlan_default_pvid=7)
    assert sw.options()["vlan_default_pvid"] == 7
    assert sw.vlans("p1")[7] == {"PVID", "Egress Untagged"} and 1 not in sw.vlans("p1")
    sw.batch("ip", ["link add p9 type veth peer name p9b", "link set dev p9 master br0"])
    assert sw.vlans("p9") == {7: {"PVID", "Egress Untagged"}}


def test_vlan_filtering_off_forwards_every_tag(switch):
    """Negative control for the filtering tests: the same stranger tag passes once filtering is off."""
    sw = switch
    marker = new_marker()
    assert deliveries(sw, "p1", [frame(sw, "p1", marker, vlan=30)], [marker])["p2"][0] == []
    sw.set_bridge(vlan_filtering=0)
    again = new_marker()
    assert deliveries(sw, "p1", [frame(sw, "p1", again, vlan=30)], [again])["p2"][0] == [(30, brlib.ETH_P_8021Q)]

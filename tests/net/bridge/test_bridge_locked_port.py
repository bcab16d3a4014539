"""Locked ports (802.1X-style) and MAC Authentication Bypass (MAB).

A locked port forwards only frames whose source MAC has an FDB entry on
that port that user space put there. With MAB (Linux 6.2+; iproute2 6.1
cannot set it, so the tests use rtnetlink), the bridge records unknown
sources as ``locked`` entries that forward nothing until replaced.
Reference: bridge_locked_port.sh. Topology bridge-3hosts (VLAN case:
bridge-1q, in a kernel with VLAN filtering).
"""

from __future__ import annotations

import pytest

from suitelib import bridge as brlib
from suitelib.packets import new_marker
from suitelib.wait import poll

pytestmark = [pytest.mark.requires(kconfig=["PACKET"], tools=["bridge", "ping"])]
three_hosts = pytest.mark.topology("bridge-3hosts")


def ping(node, target: str, wait: int = 2) -> bool:
    """One ping after forgetting the neighbour: a resolution still pending from
    a failed ping would otherwise delay the next one past its timeout."""
    node.run(["ip", "neigh", "flush", "dev", "eth0"])
    return node.run(["ping", "-c", "1", "-W", str(wait), "-q", target], check=False).returncode == 0


def passes(sw, src_port: str = "p1", dst_port: str = "p2", src_mac: str | None = None, vlan: int | None = None) -> bool:
    """Does a unicast frame from ``src_port``'s host reach ``dst_port``'s host?"""
    marker = new_marker()
    src = src_mac or sw.host_mac(src_port)
    with sw.tap(dst_port) as tap:
        sw.send(src_port, [brlib.ether(sw.host_mac(dst_port), src, 0x88B5, marker, vlan=vlan)])
        return tap.wait_for(marker, timeout=0.5) == 1


def entries(sw, mac: str) -> list[brlib.FdbEntry]:
    return [e for e in sw.fdb() if e.mac == mac and e.master]


def teach(sw) -> None:
    """Forget everything learned so far (a learned entry authorizes its source
    on a locked port), then let the bridge learn h2, so frames to it are not floods."""
    sw.flush_fdb()
    sw.send("p2", [brlib.ether(brlib.BROADCAST, sw.host_mac("p2"), 0x88B5, new_marker())])
    poll(lambda: entries(sw, sw.host_mac("p2")), bool, timeout=2)


def enable_mab(sw, port: str = "p1"):
    reply = sw.set_port_u8(port, brlib.IFLA_BRPORT_MAB, 1)
    if reply.error and "MAB" not in reply.message and "locked" not in reply.message:
        pytest.skip(f"kernel rejected IFLA_BRPORT_MAB ({reply.error} {reply.message}): MAB needs Linux 6.2+")
    return reply


@three_hosts
@pytest.mark.parametrize("version", [4, 6], ids=["ipv4", "ipv6"])
def test_locked_port_forwards_only_authorized_sources(switch, version):
    sw = switch
    h1 = sw.host("p1")
    target = [str(a.ip) for a in sw.host("p2").addresses("eth0") if a.version == version and not a.ip.is_link_local][0]
    assert ping(h1, target), "control: h1 reaches h2 on an unlocked port"
    sw.set_port("p1", locked="on")
    assert sw.port_flags("p1")["locked"] is True
    sw.flush_fdb()
    assert not ping(h1, target, wait=1), "a locked port forwarded an unauthorized source"
    h1_mac = sw.host_mac("p1")
    sw.run(["bridge", "fdb", "replace", h1_mac, "dev", "p1", "master", "static"])
    assert ping(h1, target), "a locked port dropped a source with a static FDB entry"
    sw.run(["bridge", "fdb", "del", h1_mac, "dev", "p1", "master"])
    assert not ping(h1, target, wait=1), "the source stayed authorized after its entry went"


@three_hosts
def test_locked_port_learns_nothing_without_mab(switch):
    sw = switch
    sw.set_port("p1", locked="on")
    teach(sw)
    (stranger,) = brlib.unique_macs(1, tag=0x20)
    assert not passes(sw, src_mac=stranger)
    assert entries(sw, stranger) == [], "a locked port without MAB learned a source"
    # An entry on another port does not authorize the source on this one.
    sw.run(["bridge", "fdb", "add", stranger, "dev", "p3", "master", "static"])
    assert not passes(sw, src_mac=stranger), "an FDB entry on p3 authorized a source on locked p1"


@three_hosts
def test_mab_records_locked_entries_that_forward_nothing(switch):
    sw = switch
    sw.set_port("p1", learning="on", locked="on")
    reply = enable_mab(sw)
    assert reply.error == 0, reply
    teach(sw)
    h1_mac = sw.host_mac("p1")
    assert not passes(sw), "MAB let an unauthorized source through"
    locked = poll(sw.locked_entries, lambda found: h1_mac in found, timeout=2)
    assert locked == {h1_mac: "p1"}, locked
    assert [e.ifname for e in entries(sw, h1_mac)] == ["p1"]
    assert not passes(sw), "a locked FDB entry authorized its source"
    sw.run(["bridge", "fdb", "replace", h1_mac, "dev", "p1", "master", "static"])
    assert sw.locked_entries() == {}, "a user-replaced entry is still locked"
    assert passes(sw), "the source stays blocked after user space authorized it"


@three_hosts
def test_mab_needs_a_locked_learning_port(switch):
    sw = switch
    reply = sw.set_port_u8("p1", brlib.IFLA_BRPORT_MAB, 1)  # p1 is not locked
    if reply.error == 0:
        pytest.fail("MAB was enabled on an unlocked port")
    assert "locked" in reply.message or "MAB" in reply.message, reply
    sw.set_port("p1", locked="on")
    assert enable_mab(sw).error == 0
    err = sw.fails(["bridge", "link", "set", "dev", "p1", "learning", "off"])
    assert "learning" in err.lower() or "mab" in err.lower(), err
    assert sw.port_flags("p1")["learning"] is True


@three_hosts
def test_locked_entry_roams_to_an_unlocked_port_and_unlocks(switch):
    sw = switch
    sw.set_port("p1", learning="on", locked="on")
    assert enable_mab(sw).error == 0
    teach(sw)
    (roamer,) = brlib.unique_macs(1, tag=0x21)
    assert not passes(sw, src_mac=roamer)
    assert poll(sw.locked_entries, lambda found: roamer in found, timeout=2).get(roamer) == "p1"
    assert passes(sw, src_port="p3", dst_port="p2", src_mac=roamer), "unlocked p3 dropped the frame"
    moved = poll(lambda: entries(sw, roamer), lambda es: [e.ifname for e in es] == ["p3"], timeout=2)
    assert [e.ifname for e in moved] == ["p3"], moved
    assert roamer not in sw.locked_entries(), "the entry kept its locked flag on an unlocked port"


@three_hosts
def test_turning_mab_off_flushes_locked_entries(switch):
    sw = switch
    sw.set_port("p1", learning="on", locked="on")
    assert enable_mab(sw).error == 0
    teach(sw)
    macs = brlib.unique_macs(3, tag=0x22)
    for mac in macs:
        passes(sw, src_mac=mac)
    found = poll(sw.locked_entries, lambda found: set(macs) <= set(found), timeout=2)
    assert {found.get(mac) for mac in macs} == {"p1"}, found
    sw.run(["bridge", "fdb", "add", macs[0].replace("02:4e", "02:4f"), "dev", "p1", "master", "static"])
    assert sw.set_port_u8("p1", brlib.IFLA_BRPORT_MAB, 0).error == 0
    assert sw.locked_entries() == {}, "locked entries survived MAB off"
    assert not any(entries(sw, mac) for mac in macs), "MAB off left the entries in place"
    assert entries(sw, macs[0].replace("02:4e", "02:4f")), "MAB off removed a user entry too"


@pytest.mark.topology("bridge-1q")
def test_authorization_is_per_vlan(switch):
    sw = switch
    sw.batch("bridge", [
        "vlan add dev p1 vid 10 pvid untagged", "vlan add dev p2 vid 10 pvid untagged",
    ])
    sw.set_port("p1", locked="on")
    teach(sw)
    h1_mac = sw.host_mac("p1")
    sw.run(["bridge", "fdb", "replace", h1_mac, "dev", "p1", "master", "static", "vlan", "1"])
    assert not passes(sw), "an entry in VLAN 1 authorized traffic in VLAN 10"
    sw.run(["bridge", "fdb", "replace", h1_mac, "dev", "p1", "master", "static", "vlan", "10"])
    assert passes(sw), "an entry in VLAN 10 did not authorize traffic in VLAN 10"

"""The forwarding database: ageing, static, sticky and externally learned
entries, roaming, the learning limit, and hardware offload flags.

Topology bridge-3hosts (no VLAN filtering: runs on the host kernel too).
Learning is driven by raw frames whose source MACs the test picks
(``unique_macs``), sent from the hosts with packet sockets: one process-free
frame per MAC instead of one mausezahn run each.
"""

from __future__ import annotations

import time

import pytest

from suitelib import bridge as brlib
from suitelib.packets import new_marker
from suitelib.wait import poll

pytestmark = [pytest.mark.topology("bridge-3hosts"), pytest.mark.requires(kconfig=["PACKET"], tools=["bridge"])]

PROBE_ETHERTYPE = 0x88B5  # IEEE local experimental: the hosts ignore it


def probe(src: str, dst: str = brlib.BROADCAST, payload: bytes = b"") -> bytes:
    return brlib.ether(dst, src, PROBE_ETHERTYPE, payload or new_marker())


def ports_of(sw, mac: str) -> list[str]:
    """Ports with a bridge FDB entry for ``mac`` without a VLAN. (Where the kernel
    has VLAN support, a user entry added without a VLAN also gets a copy in the
    ports' default VLAN 1, even with filtering off; traffic uses the VLAN-less one.)"""
    return [
        e.ifname for e in sw.fdb()
        if e.mac == mac and e.master is not None and "self" not in e.flags and e.vlan is None
    ]


def user_entries(sw, mac: str) -> list[brlib.FdbEntry]:
    found = [e for e in sw.fdb() if e.mac == mac and e.master]
    assert found and all(e.vlan in (None, 1) for e in found), found
    return found


def wait_ports(sw, mac: str, expected: list[str], timeout: float = 3.0) -> list[str]:
    """Where ``mac`` is, once it is where expected or ``timeout`` passed (frames
    cross a veth through the receive backlog: learning is not synchronous)."""
    return poll(lambda: ports_of(sw, mac), lambda p: p == expected, timeout=timeout)


def test_learned_entry_ages_out_but_static_and_refreshed_ones_stay(switch):
    sw = switch
    aged, refreshed, static = brlib.unique_macs(3, tag=1)
    sw.set_bridge(ageing_time=300)  # centiseconds: 3 s, several refreshes even under TCG
    assert sw.options()["ageing_time"] == 300
    sw.run(["bridge", "fdb", "add", static, "dev", "p3", "master", "static"])
    sw.send("p1", [probe(aged), probe(refreshed)])
    assert wait_ports(sw, aged, ["p1"]) == ["p1"] and wait_ports(sw, refreshed, ["p1"]) == ["p1"]

    deadline = time.monotonic() + 30
    while ports_of(sw, aged) and time.monotonic() < deadline:
        sw.send("p1", [probe(refreshed)])  # keeps its entry young
        time.sleep(0.2)
    assert ports_of(sw, aged) == [], "a learned entry outlived ageing_time 3 s by far"
    assert ports_of(sw, refreshed) == ["p1"], "an entry refreshed by traffic aged out"
    assert ports_of(sw, static) == ["p3"], "a static entry aged out"


def test_invalid_ageing_time_is_rejected(switch):
    err = switch.fails(["ip", "link", "set", "dev", "br0", "type", "bridge", "ageing_time", "forever"])
    assert "ageing_time" in err.lower() or "invalid" in err.lower(), err
    assert switch.options()["ageing_time"] == 30000, "a rejected value changed ageing_time"


def test_static_entry_steers_unicast_to_its_port_only(switch):
    sw = switch
    (target,) = brlib.unique_macs(1, tag=2)
    src = sw.host_mac("p1")
    before, after = new_marker(), new_marker()
    with sw.tap("p2") as t2, sw.tap("p3") as t3:
        sw.send("p1", [probe(src, target, before)])  # unknown: flooded everywhere
        assert t2.wait_for(before) == 1 and t3.wait_for(before) == 1, "control: unknown unicast was not flooded"
        sw.run(["bridge", "fdb", "add", target, "dev", "p3", "master", "static"])
        sw.send("p1", [probe(src, target, after)])
        assert t3.wait_for(after) == 1, "unicast to a static entry did not reach its port"
        assert t2.count(after, settle=0.1) == 0, "unicast to a static entry on p3 was flooded to p2"
    assert all(e.state == "static" and not e.learned for e in user_entries(sw, target))


def test_learned_entry_roams_and_sticky_entry_does_not(switch):
    sw = switch
    roamer, stuck = brlib.unique_macs(2, tag=3)
    sw.send("p1", [probe(roamer)])
    assert wait_ports(sw, roamer, ["p1"]) == ["p1"]
    sw.send("p2", [probe(roamer)])
    assert wait_ports(sw, roamer, ["p2"]) == ["p2"], "a learned entry did not roam"

    sw.run(["bridge", "fdb", "add", stuck, "dev", "p1", "master", "static", "sticky"])
    assert all(brlib.fdb_flag(e, "sticky") for e in user_entries(sw, stuck))
    control = brlib.unique_macs(3, tag=3)[2]
    sw.send("p2", [probe(stuck), probe(control)])
    assert wait_ports(sw, control, ["p2"]) == ["p2"], "control: p2 did not learn"
    assert ports_of(sw, stuck) == ["p1"], "a sticky entry moved to the port the MAC was seen on"


def test_extern_learn_entry_does_not_age_but_roams(switch):
    sw = switch
    (mac,) = brlib.unique_macs(1, tag=4)
    sw.set_bridge(ageing_time=100)
    sw.run(["bridge", "fdb", "add", mac, "dev", "p1", "master", "extern_learn"])
    assert all(brlib.fdb_flag(e, "extern_learn") and not e.learned for e in user_entries(sw, mac))
    (control,) = brlib.unique_macs(1, tag=5)
    sw.send("p3", [probe(control)])
    assert wait_ports(sw, control, ["p3"]) == ["p3"]
    # The learned control entry ages out; the extern_learn one must not.
    assert poll(lambda: ports_of(sw, control), lambda p: p == [], timeout=15) == [], "control entry never aged"
    assert ports_of(sw, mac) == ["p1"], "an extern_learn entry aged out"
    sw.send("p2", [probe(mac)])
    assert wait_ports(sw, mac, ["p2"]) == ["p2"], "extern_learn entry did not roam"


def test_fdb_entry_to_a_non_port_is_rejected(switch):
    sw = switch
    (mac,) = brlib.unique_macs(1, tag=6)
    sw.fails(["bridge", "fdb", "add", mac, "dev", "p9", "master", "static"])
    sw.fails(["bridge", "fdb", "add", "not-a-mac", "dev", "p1", "master", "static"])
    assert ports_of(sw, mac) == []


# --- hardware offload (real switch ports only) --------------------------------------------


def test_learned_entries_are_offloaded_to_hardware(switch):
    switch.require_offload()
    sw = switch
    for port in ("p1", "p2"):
        sw.send(port, [probe(sw.host_mac(port))])
    for port in ("p1", "p2"):
        mac = sw.host_mac(port)
        entries = poll(
            lambda: [e for e in sw.fdb() if e.mac == mac and e.master],
            lambda es: any(brlib.fdb_flag(e, "offload") for e in es),
            timeout=10,
        )
        assert any(brlib.fdb_flag(e, "offload") for e in entries), f"{mac} on {port} not offloaded: {entries}"


def test_hardware_learned_entries_are_marked_extern_learn(switch):
    switch.require_offload()
    sw = switch
    mac = sw.host_mac("p3")
    sw.send("p3", [probe(mac)])
    entries = poll(
        lambda: [e for e in sw.fdb() if e.mac == mac and e.master],
        lambda es: any(brlib.fdb_flag(e, "extern_learn") for e in es),
        timeout=10,
    )
    assert any(brlib.fdb_flag(e, "extern_learn") and e.ifname == "p3" for e in entries), entries


def test_static_entry_is_offloaded_to_hardware(switch):
    switch.require_offload()
    sw = switch
    (mac,) = brlib.unique_macs(1, tag=7)
    sw.run(["bridge", "fdb", "add", mac, "dev", "p2", "master", "static"])
    entries = poll(
        lambda: [e for e in sw.fdb() if e.mac == mac and e.master],
        lambda es: any(brlib.fdb_flag(e, "offload") for e in es),
        timeout=10,
    )
    assert any(brlib.fdb_flag(e, "offload") for e in entries), entries


def test_software_ports_mark_nothing_offloaded(switch):
    """Negative control of the offload checks: a veth bridge offloads nothing."""
    if switch.hardware is not None:
        pytest.skip("real switch ports: the offload tests above apply")
    sw = switch
    sw.send("p1", [probe(sw.host_mac("p1"))])
    wait_ports(sw, sw.host_mac("p1"), ["p1"])
    sw.run(["bridge", "fdb", "add", brlib.unique_macs(1, tag=8)[0], "dev", "p2", "master", "static"])
    flagged = [e for e in sw.fdb() if brlib.fdb_flag(e, "offload")]
    assert len(sw.fdb()) > 3 and flagged == [], flagged

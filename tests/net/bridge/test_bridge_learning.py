"""Bridge learning and forwarding among three hosts on a plain bridge.

Topology bridge-3hosts: h1, h2 and h3 (eth0, IPv4 and IPv6) hang off ports
p1, p2 and p3 of sw's br0 (no VLAN filtering). The tests check that the
bridge forwards between every pair, learns each host's MAC address on that
host's port (and only there, and only when learning is on), forgets learned
addresses on a flush but keeps its own, floods unknown unicast to every other
port that allows flooding, and sends known unicast out of one port only.

Frames are counted with a packet socket per host (``FrameTap``) on frames
carrying a per-test random marker, so the background chatter of fresh
namespaces (IPv6 router solicitations, MLD reports) cannot blur the counts.
"""

from __future__ import annotations

import itertools
import socket

import pytest

from suitelib.bridge import BROADCAST, bridge_port, ether, fdb, learned, learned_ports, unique_macs
from suitelib.packets import FrameTap, link_stats, new_marker
from suitelib.wait import poll

pytestmark = [pytest.mark.topology("bridge-3hosts"), pytest.mark.requires(tools=["ping", "bridge"])]

BRIDGE = "br0"
HOSTS = ("h1", "h2", "h3")
FRAMES = 50  # datagrams per forwarding check
UNUSED_IP = "10.0.0.99"  # nobody has it; h1 gets a static neighbour entry for it
UNKNOWN_MAC = "02:00:00:00:00:99"  # locally administered, never sent from

needs_packet_socket = pytest.mark.requires(kconfig=["PACKET"])  # for FrameTap


def port_of(topo, host: str) -> str:
    """The bridge port ``host``'s eth0 is cabled to, as the topology file says."""
    for link in topo.topology.links:
        for near, far in ((link.a, link.b), (link.b, link.a)):
            if near.node == host and far.node == "sw":
                return far.interface
    raise LookupError(f"{host} is not linked to sw")


def address(node, version: int) -> str:
    found = [a for a in node.addresses("eth0") if a.version == version and not a.ip.is_link_local]
    assert found, f"{node.name} has no IPv{version} address on eth0"
    return str(found[0].ip)


def ping(node, target: str) -> bool:
    return node.run(["ping", "-c", "1", "-W", "2", "-q", target], check=False).returncode == 0


def ping_all_pairs(topo, version: int = 4) -> list[str]:
    """Ping between every ordered pair of hosts; return the pairs that failed."""
    failed = []
    for a, b in itertools.permutations(HOSTS, 2):
        target = address(topo[b], version)
        if not ping(topo[a], target):
            failed.append(f"{a} -> {b} ({target})")
    return failed


def mac_of(topo, host: str) -> str:
    return topo[host].link("eth0")["mac"].lower()


def send_marked(node, target: str, marker: bytes, count: int = FRAMES) -> None:
    """``count`` UDP datagrams to ``target`` port 9 (discard), each carrying ``marker``."""
    sock = node.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for seq in range(count):
            sock.sendto(marker + seq.to_bytes(4, "big"), (target, 9))
    finally:
        sock.close()


@pytest.mark.parametrize("version", [4, 6], ids=["ipv4", "ipv6"])
def test_every_host_reaches_every_other(switch, version):
    topo = switch.topo
    failed = ping_all_pairs(topo, version)
    assert not failed, f"IPv{version} pings failed: {failed}"


def test_fdb_learns_each_host_on_its_own_port(switch):
    topo = switch.topo
    sw = topo["sw"]
    assert not ping_all_pairs(topo)
    entries = fdb(sw, BRIDGE)
    for host in HOSTS:
        mac, port = mac_of(topo, host), port_of(topo, host)
        mine = [e for e in entries if e.mac == mac and "self" not in e.flags]
        assert len(mine) == 1, f"{host} ({mac}): expected one FDB entry, got {mine}"
        entry = mine[0]
        assert entry.ifname == port, f"{host} learned on {entry.ifname}, cabled to {port}"
        assert entry.master == BRIDGE
        assert entry.state not in ("permanent", "static"), f"{host}'s entry is {entry.state}, not learned"
        assert entry.learned, entry


def test_port_with_learning_off_does_not_learn(switch):
    topo = switch.topo
    sw = topo["sw"]
    h1_mac, h2_mac = mac_of(topo, "h1"), mac_of(topo, "h2")
    sw.run(["bridge", "link", "set", "dev", "p2", "learning", "off"])
    assert bridge_port(sw, "p2").learning is False
    assert bridge_port(sw, "p1").learning is True
    # Forget what the hosts' start-up chatter taught the bridge before the switch.
    sw.run(["ip", "link", "set", "dev", BRIDGE, "type", "bridge", "fdb_flush"])

    # Forwarding still works (by flooding), in both directions.
    assert ping(topo["h1"], address(topo["h2"], 4))
    assert ping(topo["h2"], address(topo["h1"], 4))

    entries = fdb(sw, BRIDGE)
    assert learned_ports(entries, h2_mac) == [], f"h2's MAC was learned despite learning off: {learned(entries)}"
    assert learned_ports(entries, h1_mac) == ["p1"], "positive control: p1 still learns"


@pytest.mark.parametrize(
    "flush",
    [
        ["ip", "link", "set", "dev", BRIDGE, "type", "bridge", "fdb_flush"],
        ["bridge", "fdb", "flush", "dev", BRIDGE, "dynamic"],
    ],
    ids=["ip-link-fdb_flush", "bridge-fdb-flush-dynamic"],
)
@needs_packet_socket
def test_flush_forgets_learned_entries_and_keeps_local_ones(switch, flush):
    """Sources are MACs only this test uses (one frame from each host's port):
    the hosts' own MACs may be relearned at any time from ARP probes that the
    pings before would leave pending (after 5 s, which TCG reaches)."""
    topo = switch.topo
    sw = topo["sw"]
    macs = {port: mac for port, mac in zip(switch.ports, unique_macs(len(switch.ports), tag=0x50))}
    for port, mac in macs.items():
        switch.send(port, [ether(BROADCAST, mac, 0x88B5, new_marker())])
    before = poll(lambda: fdb(sw, BRIDGE), lambda es: set(macs.values()) <= {e.mac for e in learned(es)}, timeout=3)
    for port, mac in macs.items():
        assert learned_ports(before, mac) == [port], f"nothing to flush: {before}"
    local_before = {(e.mac, e.ifname) for e in before if e.local}
    assert {e.ifname for e in before if e.local} == {"p1", "p2", "p3"}

    sw.run(flush)

    after = fdb(sw, BRIDGE)
    survivors = [e for e in learned(after) if e.mac in macs.values()]
    assert survivors == [], f"learned entries survived the flush: {survivors}"
    assert {(e.mac, e.ifname) for e in after if e.local} == local_before, "the bridge's own addresses went too"
    # And the bridge learns again afterwards.
    assert ping(topo["h1"], address(topo["h3"], 4))
    assert learned_ports(fdb(sw, BRIDGE), mac_of(topo, "h3")) == [port_of(topo, "h3")]


@needs_packet_socket
def test_unknown_unicast_is_flooded_to_every_other_port(switch):
    topo = switch.topo
    h1 = topo["h1"]
    h1.run(["ip", "neigh", "replace", UNUSED_IP, "lladdr", UNKNOWN_MAC, "dev", "eth0", "nud", "permanent"])
    assert UNKNOWN_MAC not in {e.mac for e in fdb(topo["sw"], BRIDGE)}
    marker = new_marker()
    h3_before = link_stats(topo["h3"], "eth0")
    with FrameTap(h1, "eth0") as t1, FrameTap(topo["h2"], "eth0") as t2, FrameTap(topo["h3"], "eth0") as t3:
        send_marked(h1, UNUSED_IP, marker)
        assert t2.wait_for(marker, FRAMES, timeout=5) == FRAMES, "unknown unicast did not reach h2"
        assert t3.wait_for(marker, FRAMES, timeout=5) == FRAMES, "unknown unicast did not reach h3"
        assert t1.count(marker, settle=0.1) == 0, "the bridge sent frames back out of their ingress port"
    assert (link_stats(topo["h3"], "eth0") - h3_before).rx_packets >= FRAMES


@needs_packet_socket
def test_known_unicast_leaves_by_its_port_only(switch):
    topo = switch.topo
    h1, h2, h3, sw = topo["h1"], topo["h2"], topo["h3"], topo["sw"]
    h2_ip = address(h2, 4)
    assert ping(h1, h2_ip)  # h1 learns h2's MAC (ARP) and the bridge learns both
    assert learned_ports(fdb(sw, BRIDGE), mac_of(topo, "h2")) == [port_of(topo, "h2")]
    marker = new_marker()
    h3_before = link_stats(h3, "eth0")
    with FrameTap(h2, "eth0") as t2, FrameTap(h3, "eth0") as t3:
        send_marked(h1, h2_ip, marker)
        assert t2.wait_for(marker, FRAMES, timeout=5) == FRAMES, "known unicast did not reach h2"
        # The bridge handles each frame for all ports at once: by now a flood
        # copy for h3 would have arrived; the settle time is a margin.
        assert t3.count(marker, settle=0.1) == 0, "known unicast for h2 was flooded to h3"
    assert (link_stats(h3, "eth0") - h3_before).rx_packets < FRAMES


@needs_packet_socket
def test_port_with_flood_off_gets_no_unknown_unicast(switch):
    topo = switch.topo
    """Negative control for the flooding check: the bridge decides, not the wire."""
    h1, sw = topo["h1"], topo["sw"]
    sw.run(["bridge", "link", "set", "dev", "p3", "flood", "off"])
    assert bridge_port(sw, "p3").flood is False
    h1.run(["ip", "neigh", "replace", UNUSED_IP, "lladdr", UNKNOWN_MAC, "dev", "eth0", "nud", "permanent"])
    marker = new_marker()
    with FrameTap(topo["h2"], "eth0") as t2, FrameTap(topo["h3"], "eth0") as t3:
        send_marked(h1, UNUSED_IP, marker)
        assert t2.wait_for(marker, FRAMES, timeout=5) == FRAMES, "unknown unicast did not reach h2"
        assert t3.count(marker, settle=0.1) == 0, "unknown unicast reached p3 although its flood flag is off"

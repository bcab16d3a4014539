"""Fixtures of the bridge suite: the switch under test (``switch``) and frame I/O.

``switch`` is where the ports come from. By default they are the veth ports
of the test's topology (``sw:p1..pN`` cabled to ``hN:eth0``): a software
bridge. When the environment declares real switch ports
(``suitelib.ports.switch_hardware_from_env``: NETHARNESS_SWITCH_PORTS and
NETHARNESS_SWITCH_PEERS), ``suitelib.switch_ports.lend`` puts them in place
of the veth links under the same names and this fixture configures them as
the topology says (bridge membership, VLANs, host addresses), so every test
runs unchanged; only hardware FDB entries carry the ``offload`` and
``extern_learn`` flags, and ``Switch.require_offload`` skips those checks on
software ports.

Frames are sent and captured in-process with packet sockets living in the
hosts' namespaces (no process per frame: under TCG a process costs about
0.3 s). Captures keep the VLAN tag the kernel moved into metadata
(PACKET_AUXDATA), so tagged egress is checked exactly. Everything parsed is
parsed by ``suitelib/bridge.py`` (pure, unit-tested).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.topology.live import LiveTopology
from suitelib.bridge_switch import Switch
from suitelib.ports import switch_hardware_from_env


def _configure_lent_ports(sw: Switch) -> None:
    """Real ports arrive bare: enslave and configure them, and the hosts' sides, as the topology says."""
    from harness.topology.model import Bridge

    bridge: Bridge = next(b for b in sw.node.model.bridges if b.name == sw.bridge)
    vlans = {p.name: p.vlans for p in bridge.ports}
    lines = []
    for port in sw.ports:
        lines.append(f"link set dev {port} master {sw.bridge} up")
    sw.batch("ip", lines)
    vlan_lines = []
    for port in sw.ports:
        for v in vlans.get(port, ()):
            words = [f"vlan add dev {port} vid {v.first}" + (f"-{v.last}" if v.last != v.first else "")]
            words += ["pvid"] if v.pvid else []
            words += ["untagged"] if v.untagged else []
            vlan_lines.append(" ".join(words))
    if vlan_lines:
        sw.batch("bridge", vlan_lines)
    for port in sw.ports:
        host, ifname = sw.cabling[port]
        node = sw.topo[host]
        host_lines = [f"link set dev {ifname} up"]
        uppers = [v for v in node.model.vlans if v.link == ifname]  # went with the veth
        host_lines += [f"link add link {ifname} name {v.name} up type vlan id {v.id}" for v in uppers]
        for name in [ifname, *(v.name for v in uppers)]:
            config = node.model.interface(name)
            host_lines += [f"address add {a} dev {name}" for a in (config.addresses if config else ())]
        node.run(["ip", "-batch", "-"], input="\n".join(host_lines) + "\n")


@pytest.fixture
def switch(topo: LiveTopology) -> Iterator[Switch]:
    """The topology's bridge ``br0`` in node ``sw``, on veth ports or, when the
    environment names real switch ports, on those."""
    from suitelib import switch_ports

    node = topo["sw"]
    bridges = [b.name for b in node.model.bridges]
    assert bridges, f"topology {topo.topology.name!r}: node sw has no bridge"
    links = switch_ports.switch_links(topo.topology, "sw")
    cabling = {port: (host, ifname) for port, host, ifname in links}
    hardware = switch_hardware_from_env()
    sw = Switch(topo, node, bridges[0], tuple(cabling), cabling, hardware)
    if hardware is None:
        yield sw
        return
    loans = switch_ports.plan_loans(hardware, topo.topology, "sw")
    with switch_ports.lend(loans, node.netns, {n: topo[n].netns for n in topo.nodes}):
        _configure_lent_ports(sw)
        yield sw

"""What a valid topology file turns into: the model the planner consumes.

Order matters (the planner relies on it for deterministic plans), and so do
normalisations: CONFIG_ prefixes, sysctl values as the strings written to
/proc/sys, VLAN ranges, addresses as ipaddress objects.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from harness.topology import (
    Bridge,
    BridgePort,
    Endpoint,
    InterfaceConfig,
    Link,
    Mptcp,
    MptcpEndpoint,
    MptcpLimits,
    NetdevsimDevice,
    Requires,
    Route,
    Topology,
    Vlan,
    VlanRange,
    load_topology,
    load_topology_text,
)

REPO = Path(__file__).resolve().parents[2]
TOPOLOGIES = sorted((REPO / "topologies").glob("*.yaml"))
DESIGN_EXAMPLE = Path(__file__).parent / "data" / "design-example.yaml"

ip = ipaddress.ip_interface


@pytest.fixture(scope="module")
def design() -> Topology:
    return load_topology(DESIGN_EXAMPLE)


# --- the shipped files ---------------------------------------------------------------------------


def test_the_expected_topologies_are_shipped() -> None:
    shipped = {p.name for p in TOPOLOGIES}
    expected = {"bridge-3hosts.yaml", "bridge-vlan.yaml", "mptcp-2path-noep.yaml", "mptcp-2path.yaml",
                "netdevsim-basic.yaml"}
    assert expected <= shipped, expected - shipped


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.name)
def test_topology_file_is_named_after_its_topology(path: Path) -> None:
    """Tests ask for a topology by name; the file name is how it is found."""
    assert load_topology(path).name == path.stem


@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.name)
def test_shipped_topology_validates(path: Path) -> None:
    topology = load_topology(path)
    assert topology.source == path
    assert topology.version == 1
    assert topology.nodes
    assert topology.requires.kconfig
    assert all(k.startswith("CONFIG_") for k in topology.requires.kconfig)


def test_mptcp_2path_file() -> None:
    topology = load_topology(REPO / "topologies" / "mptcp-2path.yaml")
    c1, s1 = topology.nodes
    assert topology.requires == Requires(kconfig=("CONFIG_MPTCP",), tools=("ip",))
    assert c1.mptcp == Mptcp(
        limits=MptcpLimits(subflows=2, add_addr_accepted=2),
        endpoints=(MptcpEndpoint(address=ipaddress.ip_address("10.0.2.1"), interface="eth1", flags=("subflow",)),),
    )
    assert s1.mptcp == Mptcp(limits=MptcpLimits(subflows=2, add_addr_accepted=2))
    assert [(str(link.a), str(link.b)) for link in topology.links] == [("c1:eth0", "s1:eth0"), ("c1:eth1", "s1:eth1")]


def test_negative_control_differs_only_by_the_endpoint() -> None:
    with_endpoint = load_topology(REPO / "topologies" / "mptcp-2path.yaml")
    without = load_topology(REPO / "topologies" / "mptcp-2path-noep.yaml")
    assert without.node("c1").mptcp == Mptcp(limits=MptcpLimits(subflows=2, add_addr_accepted=2))
    assert without.links == with_endpoint.links
    assert without.node("s1") == with_endpoint.node("s1")
    assert [n.interfaces for n in without.nodes] == [n.interfaces for n in with_endpoint.nodes]


def test_bridge_3hosts_file() -> None:
    topology = load_topology(REPO / "topologies" / "bridge-3hosts.yaml")
    assert topology.node("sw").bridges == (
        Bridge(name="br0", vlan_filtering=False, ports=(BridgePort("p1"), BridgePort("p2"), BridgePort("p3"))),
    )
    assert topology.node("h2").interface("eth0").addresses == (ip("10.0.0.2/24"), ip("2001:db8::2/64"))
    assert topology.requires.kconfig[:2] == ("CONFIG_BRIDGE", "CONFIG_VETH")


def test_netdevsim_basic_file() -> None:
    topology = load_topology(REPO / "topologies" / "netdevsim-basic.yaml")
    (node,) = topology.nodes
    assert node.netdevsim == (NetdevsimDevice(name="nsim0", ports=4, port_names=("swp1", "swp2", "swp3", "swp4")),)
    assert topology.requires.sysfs == ("/sys/bus/netdevsim",)
    assert topology.requires.kconfig == ("CONFIG_NETDEVSIM",)


# --- the DESIGN.md example -------------------------------------------------------------------------


def test_design_example_top_level(design: Topology) -> None:
    assert design.name == "mptcp-2path"
    assert design.description == "two hosts joined by two paths"
    assert design.source == DESIGN_EXAMPLE
    assert design.requires == Requires(kconfig=("CONFIG_MPTCP", "CONFIG_MPTCP_IPV6"), tools=("ip",))
    assert design.default_sysctls == (("net.ipv4.conf.all.rp_filter", "0"),)
    assert [n.name for n in design.nodes] == ["c1", "s1", "sw", "h3"]


def test_design_example_links(design: Topology) -> None:
    assert design.links == (
        Link(Endpoint("c1", "eth0"), Endpoint("s1", "eth0")),
        Link(Endpoint("c1", "eth1"), Endpoint("s1", "eth1")),
        Link(Endpoint("sw", "swp3"), Endpoint("h3", "np0"), kind="netdevsim"),
    )


def test_design_example_client(design: Topology) -> None:
    c1 = design.node("c1")
    assert c1.interfaces == (
        InterfaceConfig(name="eth0", addresses=(ip("10.0.1.1/24"), ip("2001:db8:1::1/64"))),
        InterfaceConfig(name="eth1", addresses=(ip("10.0.2.1/24"),), mtu=1500),
    )
    assert c1.routes == (Route(to="default", via=ipaddress.ip_address("10.0.1.2")),)
    assert c1.mptcp is not None
    assert c1.mptcp.limits == MptcpLimits(subflows=2, add_addr_accepted=2)
    assert c1.mptcp.endpoints == (
        MptcpEndpoint(address=ipaddress.ip_address("10.0.2.1"), interface="eth1", flags=("subflow",)),
    )


def test_design_example_switch(design: Topology) -> None:
    sw = design.node("sw")
    assert sw.sysctls == (("net.ipv4.ip_forward", "1"),)
    assert sw.netdevsim == (NetdevsimDevice(name="nsim0", ports=4, port_names=("swp1", "swp2", "swp3", "swp4")),)
    assert sw.bridges == (
        Bridge(
            name="br0",
            vlan_filtering=True,
            ports=(
                BridgePort("swp1", (VlanRange(10, 10, pvid=True, untagged=True),)),
                BridgePort("swp2", (VlanRange(10, 10), VlanRange(20, 29))),
            ),
        ),
    )
    assert sw.vlans == (Vlan(name="br0.10", link="br0", id=10),)
    # addresses given inside the vlans entry become the interface's configuration
    assert sw.interfaces == (InterfaceConfig(name="br0.10", addresses=(ip("192.0.2.1/24"),)),)


def test_design_example_netdevsim_host(design: Topology) -> None:
    h3 = design.node("h3")
    assert h3.netdevsim == (NetdevsimDevice(name="nsim1", ports=1, port_names=("np0",)),)
    assert h3.interface("np0") == InterfaceConfig(name="np0", addresses=(ip("192.0.2.3/24"),))


def test_design_example_is_accepted_by_the_planner(design: Topology) -> None:
    """The model is the planner's input: a loaded file must plan without errors."""
    from harness.topology.plan import make_plan

    plan = make_plan(design, "r1")
    assert list(plan.netns) == ["c1", "s1", "sw", "h3"]
    assert plan.ops


# --- order and normalisation --------------------------------------------------------------------------


ORDER_DOC = """\
version: 1
name: order
requires:
  kconfig: [VETH, CONFIG_BRIDGE, NET_NS]
nodes:
  zeta:
    interfaces:
      z9: {}
      a1: {state: down}
      m5: {mac: "AA:BB:CC:DD:EE:00"}
  alpha: {}
  mid: {}
links:
  - [zeta:z9, mid:x]
  - {endpoints: [zeta:a1, alpha:x]}
  - {endpoints: [zeta:m5, alpha:y], kind: veth}
"""


def test_file_order_is_kept_everywhere() -> None:
    topology = load_topology_text(ORDER_DOC)
    assert [n.name for n in topology.nodes] == ["zeta", "alpha", "mid"]
    assert [i.name for i in topology.node("zeta").interfaces] == ["z9", "a1", "m5"]
    assert [str(link.a) for link in topology.links] == ["zeta:z9", "zeta:a1", "zeta:m5"]
    assert [link.kind for link in topology.links] == ["veth", "veth", "veth"]


def test_kconfig_gets_config_prefix_once_in_order() -> None:
    topology = load_topology_text(ORDER_DOC)
    assert topology.requires.kconfig == ("CONFIG_VETH", "CONFIG_BRIDGE", "CONFIG_NET_NS")


def test_interface_state_and_mac_normalisation() -> None:
    zeta = load_topology_text(ORDER_DOC).node("zeta")
    assert zeta.interface("z9") == InterfaceConfig(name="z9")
    assert zeta.interface("a1").state == "down"
    assert zeta.interface("m5").mac == "aa:bb:cc:dd:ee:00"


def test_sysctl_values_become_strings() -> None:
    text = """\
version: 1
name: t
defaults:
  sysctls: {net.ipv6.conf.all.disable_ipv6: true, net.ipv4.ip_forward: false}
nodes:
  a:
    sysctls:
      net.ipv4.tcp_rmem: "4096 131072 6291456"
      net.core.somaxconn: 1024
      net.ipv4.conf.all.forwarding: yes
"""
    topology = load_topology_text(text)
    assert topology.default_sysctls == (("net.ipv6.conf.all.disable_ipv6", "1"), ("net.ipv4.ip_forward", "0"))
    # YAML 1.2: "yes" is a string, written as is
    assert topology.node("a").sysctls == (
        ("net.ipv4.tcp_rmem", "4096 131072 6291456"),
        ("net.core.somaxconn", "1024"),
        ("net.ipv4.conf.all.forwarding", "yes"),
    )


def test_vlan_forms_become_ranges() -> None:
    text = """\
version: 1
name: t
nodes:
  sw:
    bridges:
      br0:
        vlan_filtering: true
        ports:
          p1: {vlans: [5, "7", "100-199", {vid: "300-310", untagged: true}, {vid: 4094, pvid: true}]}
  h: {}
links:
  - [h:eth0, sw:p1]
"""
    (port,) = load_topology_text(text).node("sw").bridges[0].ports
    assert port.vlans == (
        VlanRange(5, 5),
        VlanRange(7, 7),
        VlanRange(100, 199),
        VlanRange(300, 310, untagged=True),
        VlanRange(4094, 4094, pvid=True),
    )


def test_routes_and_mptcp_details() -> None:
    text = """\
version: 1
name: t
nodes:
  c1:
    interfaces:
      eth0: {addresses: ["2001:DB8::1/64", 10.0.0.1/24]}
    routes:
      - {to: "2001:DB8:1::/48", via: "2001:db8::2", metric: 100, table: 10}
      - {to: 192.0.2.0/24, dev: eth0}
    mptcp:
      endpoints:
        - {address: 10.0.0.1, id: 7, port: 10100, flags: [signal, backup]}
  s1: {}
links:
  - [c1:eth0, s1:eth0]
"""
    c1 = load_topology_text(text, "inline.yaml").node("c1")
    assert c1.routes == (
        Route(to="2001:db8:1::/48", via=ipaddress.ip_address("2001:db8::2"), metric=100, table=10),
        Route(to="192.0.2.0/24", dev="eth0"),
    )
    assert [r.family for r in c1.routes] == [6, 4]
    assert c1.interface("eth0").addresses == (ip("2001:db8::1/64"), ip("10.0.0.1/24"))
    assert c1.mptcp == Mptcp(
        endpoints=(MptcpEndpoint(address=ipaddress.ip_address("10.0.0.1"), id=7, port=10100,
                                 flags=("signal", "backup")),)
    )


def test_netdevsim_without_port_names_and_with_queues() -> None:
    text = "version: 1\nname: t\nnodes:\n  a:\n    netdevsim:\n      nsim3: {ports: 2, queues: 8}\n"
    assert load_topology_text(text).node("a").netdevsim == (NetdevsimDevice("nsim3", ports=2, queues=8),)


def test_source_of_text_topologies() -> None:
    text = "version: 1\nname: t\nnodes: {a: {}}\n"
    assert load_topology_text(text).source is None
    assert load_topology_text(text, "x/y.yaml").source == Path("x/y.yaml")


def test_model_is_frozen(design: Topology) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        design.name = "other"  # type: ignore[misc]
    assert isinstance(design.nodes, tuple) and isinstance(design.links, tuple)


def test_ethtool_and_devlink_settings_reach_the_model() -> None:
    from harness.topology.model import DevlinkParam, Ethtool

    topo = load_topology_text(
        """\
version: 1
name: t
nodes:
  a:
    netdevsim:
      nsim0:
        ports: 1
        port_names: [np0]
        eswitch: switchdev
        params: {max_macs: {value: 16, cmode: driverinit}, test1: false}
    interfaces:
      np0:
        ethtool:
          features: {tso: off, rx-gro-list: true}
          rings: {rx: 512, tx: 128}
          coalesce: {adaptive-rx: on, rx-usecs: 30}
          pause: {autoneg: false, rx: on}
"""
    )
    node = topo.node("a")
    dev = node.netdevsim[0]
    assert dev.eswitch == "switchdev"
    assert dev.params == (DevlinkParam("max_macs", "16", "driverinit"), DevlinkParam("test1", "false", "runtime"))
    eth = node.interface("np0").ethtool
    assert eth == Ethtool(
        features=(("tso", "off"), ("rx-gro-list", "on")),
        rings=(("rx", "512"), ("tx", "128")),
        coalesce=(("adaptive-rx", "on"), ("rx-usecs", "30")),
        pause=(("autoneg", "off"), ("rx", "on")),
    )
    assert not node.interface("np0").ethtool.channels

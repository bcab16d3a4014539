"""harness.topology.state: what counts as a test leaving a shared topology changed (pure)."""

from __future__ import annotations

from harness.topology.state import LinkState, NodeState, TopologyState, differences, kept_addresses, kept_routes

ETH0 = LinkState("eth0", up=True, mtu=1500, master=None, mac="02:00:00:00:00:01")


def state(**node: NodeState) -> TopologyState:
    return TopologyState(nodes=dict(node))


def test_an_unchanged_topology_has_no_differences():
    a = NodeState(links=frozenset({ETH0}), addresses=frozenset({("eth0", "10.0.0.1/24")}), sysctls=(("k", "1"),))
    assert differences(state(a=a), state(a=a)) == []


def test_each_kind_of_change_is_named_with_its_node():
    before = NodeState(links=frozenset({ETH0}), addresses=frozenset({("eth0", "10.0.0.1/24")}),
                       routes=frozenset({("10.1.0.0/24", "10.0.0.2", "eth0")}), sysctls=(("net.ipv4.ip_forward", "1"),))
    after = NodeState(links=frozenset({LinkState("eth0", up=False, mtu=1500, master=None, mac=ETH0.mac)}),
                      addresses=frozenset(), routes=frozenset(), sysctls=(("net.ipv4.ip_forward", "0"),))
    lines = differences(state(r=before), state(r=after))
    assert any(line.startswith("node r: links added:") and "up=False" in line for line in lines)
    assert "node r: addresses removed: ('eth0', '10.0.0.1/24')" in lines
    assert "node r: routes removed: ('10.1.0.0/24', '10.0.0.2', 'eth0')" in lines
    assert "node r: sysctls changed: net.ipv4.ip_forward '1' -> '0'" in lines


def test_what_the_kernel_changes_by_itself_is_not_a_leak():
    assert kept_addresses([("eth0", "fe80::1/64"), ("eth0", "2001:db8::1/64")]) == {("eth0", "2001:db8::1/64")}
    assert kept_routes([("fe80::/64", "", "eth0"), ("ff00::/8", "", "eth0"), ("10.0.0.0/24", "", "eth0")]) == {
        ("10.0.0.0/24", "", "eth0")
    }

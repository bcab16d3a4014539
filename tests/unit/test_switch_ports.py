"""The pure part of lending real switch ports to a topology (suitelib/switch_ports.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from suitelib.ports import PortContractError, SwitchHardware
from suitelib.switch_ports import PortLoan, plan_loans, switch_links
from harness.topology.loader import load_topology

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"


@pytest.fixture(scope="module")
def three_hosts():
    return load_topology(TOPOLOGIES / "bridge-3hosts.yaml")


def test_switch_links_in_file_order(three_hosts):
    assert switch_links(three_hosts, "sw") == [("p1", "h1", "eth0"), ("p2", "h2", "eth0"), ("p3", "h3", "eth0")]
    assert switch_links(three_hosts, "h1") == [("eth0", "sw", "p1")]
    assert switch_links(three_hosts, "nobody") == []


def test_ports_and_peers_replace_links_in_order_spares_unused(three_hosts):
    hw = SwitchHardware(ports=("swp1", "swp2", "swp3", "swp4"), peers=("e1", "e2", "e3", "e4"), devlink=None)
    loans = plan_loans(hw, three_hosts)
    assert loans[0] == PortLoan(real_port="swp1", port_name="p1", peer="e1", host="h1", host_ifname="eth0")
    assert [(l.real_port, l.port_name, l.peer, l.host) for l in loans] == [
        ("swp1", "p1", "e1", "h1"), ("swp2", "p2", "e2", "h2"), ("swp3", "p3", "e3", "h3")]


def test_too_few_ports_is_an_error_naming_the_count(three_hosts):
    hw = SwitchHardware(ports=("swp1", "swp2"), peers=("e1", "e2"), devlink=None)
    with pytest.raises(PortContractError, match="needs 3 switch ports but NETHARNESS_SWITCH_PORTS names 2"):
        plan_loans(hw, three_hosts)


def test_ports_without_peers_cannot_carry_traffic(three_hosts):
    hw = SwitchHardware(ports=("swp1", "swp2", "swp3"), peers=(), devlink=None)
    with pytest.raises(PortContractError, match="set NETHARNESS_SWITCH_PEERS"):
        plan_loans(hw, three_hosts)

"""The real-switch-port environment contract (suitelib/ports.py)."""

from __future__ import annotations

import pytest

from suitelib.ports import PortContractError, SwitchHardware, switch_hardware_from_env


def test_no_ports_declared_means_software():
    assert switch_hardware_from_env({}) is None


def test_ports_peers_and_devlink_are_read_in_order():
    hw = switch_hardware_from_env(
        {
            "NETHARNESS_SWITCH_PORTS": "swp1, swp2",
            "NETHARNESS_SWITCH_PEERS": "enp1s0,enp2s0",
            "NETHARNESS_SWITCH_DEVLINK": "pci/0000:03:00.0",
        }
    )
    assert hw == SwitchHardware(ports=("swp1", "swp2"), peers=("enp1s0", "enp2s0"), devlink="pci/0000:03:00.0")
    assert hw.peer_of("swp2") == "enp2s0"


def test_peers_are_optional_but_then_peer_of_says_why():
    hw = switch_hardware_from_env({"NETHARNESS_SWITCH_PORTS": "swp1"})
    assert hw is not None and not hw.has_peers
    with pytest.raises(PortContractError, match="NETHARNESS_SWITCH_PEERS is not set"):
        hw.peer_of("swp1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NETHARNESS_SWITCH_PORTS": "swp1,sw/p2"}, "is not an interface name"),
        ({"NETHARNESS_SWITCH_PORTS": "swp1,swp1"}, "listed twice"),
        ({"NETHARNESS_SWITCH_PORTS": "swp1,swp2", "NETHARNESS_SWITCH_PEERS": "p1"}, "one peer per switch port"),
        ({"NETHARNESS_SWITCH_PORTS": "swp1", "NETHARNESS_SWITCH_PEERS": "swp1"}, "its own peer"),
        ({"NETHARNESS_SWITCH_PORTS": "swp1", "NETHARNESS_SWITCH_DEVLINK": "0000:03:00.0"}, "not a devlink handle"),
        ({"NETHARNESS_SWITCH_PEERS": "p1"}, "set without NETHARNESS_SWITCH_PORTS"),
    ],
)
def test_malformed_declarations_are_refused_with_what_to_write(env, message):
    with pytest.raises(PortContractError, match=message):
        switch_hardware_from_env(env)

"""netdevsim devlink smoke test: a device made by the topology builder answers devlink.

Topology netdevsim-basic: node dut holds netdevsim device nsim0 with four
ports renamed swp1..swp4. On a kernel without netdevsim (the host) these
tests skip naming CONFIG_NETDEVSIM.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.topology("netdevsim-basic")

PORT_NAMES = ["swp1", "swp2", "swp3", "swp4"]


def test_dev_info_reports_the_netdevsim_driver_and_its_versions(nsim):
    assert nsim.devices() == {nsim.handle: {}}, "the node must see exactly its own device"
    info = nsim.info()
    assert info["driver"] == "netdevsim"
    # netdevsim reports one firmware component, fw.mgmt, running and stored
    # (nsim_dev_info_get); it has no serial number.
    assert info["versions"] == {"running": {"fw.mgmt": "10.20.30"}, "stored": {"fw.mgmt": "10.20.30"}}
    assert "serial_number" not in info


def test_four_physical_ports_carry_the_topology_names(nsim, topo):
    ports = nsim.ports()
    assert sorted(ports) == [0, 1, 2, 3]
    for index, name in enumerate(PORT_NAMES):
        port = ports[index]
        assert port["flavour"] == "physical"
        assert port["type"] == "eth"
        assert port["port"] == index + 1  # devlink port numbers start at 1 (phys_port_name p1..p4)
        assert port["netdev"] == name, f"port {index} should be {name}: {port}"
        assert topo["dut"].link(name)["ifname"] == name  # the netdev lives in the node


def test_dev_info_of_a_missing_device_fails_with_enodev(nsim):
    err = nsim.fails("dev", "info", "netdevsim/netharness-no-such-device")
    assert err.kernel == "No such device", err

"""devlink device and port basics on netdevsim: info, namespace placement,
eswitch mode, port listing, port add/delete, port split.

References: devlink.sh dev_info_test; devlink_in_netns.sh check_devlink_test
and check_ports_test; drivers/net/netdevsim/dev.c (__nsim_dev_port_add,
nsim_dev_info_get), net/devlink/port.c (port split).
"""

from __future__ import annotations

import errno
import subprocess

import pytest

from suitelib import devlink as dl

pytestmark = pytest.mark.topology("devlink-dut")


def test_device_lives_only_in_the_namespace_it_was_created_in(nsim):
    assert nsim.devices() == {nsim.handle: {}}
    # The test process sits in the initial namespace; the device must not be there.
    root = subprocess.run(["devlink", "-j", "dev", "show"], capture_output=True, text=True, check=True)
    assert nsim.handle not in dl.devices(dl.loads(root.stdout))


def test_dev_info_names_the_driver_and_the_fw_mgmt_component(nsim):
    info = nsim.info()
    assert info["driver"] == "netdevsim"
    assert info["versions"]["running"] == {"fw.mgmt": "10.20.30"}
    assert info["versions"]["stored"] == {"fw.mgmt": "10.20.30"}


def test_ports_are_physical_numbered_from_one_with_netdevs_in_the_node(nsim):
    ports = nsim.ports()
    assert sorted(ports) == [0, 1, 2, 3]
    for index, port in ports.items():
        assert port["flavour"] == "physical" and port["type"] == "eth"
        assert port["port"] == index + 1
        assert port["splittable"] is False
        link = nsim.node.json(["ip", "-j", "-d", "link", "show", "dev", port["netdev"]])[0]
        assert link["parentbus"] == "netdevsim" and link["parentdev"] == f"netdevsim{nsim.dev_id}"
        # The netdev's physical port name follows the devlink port number, not the index.
        assert link["phys_port_name"] == f"p{index + 1}"


def test_ports_added_and_deleted_through_sysfs_follow_in_devlink(nsim):
    try:
        nsim.write_bus("new_port", 4)
        port = nsim.ports()[4]
        assert port["flavour"] == "physical" and port["port"] == 5
        assert nsim.node.link(port["netdev"])["ifname"] == port["netdev"]
        nsim.write_bus("del_port", 4)
        assert sorted(nsim.ports()) == [0, 1, 2, 3]
    finally:
        nsim.bus_errno("del_port", 4)  # ENOENT when already gone


def test_adding_an_existing_port_or_deleting_a_missing_one_is_refused(nsim):
    assert nsim.bus_errno("new_port", 0) == errno.EEXIST
    assert nsim.bus_errno("del_port", 9) == errno.ENOENT
    assert sorted(nsim.ports()) == [0, 1, 2, 3]


def test_port_split_is_not_supported_by_netdevsim(nsim):
    # netdevsim registers its ports without split ops and marks them not
    # splittable: devlink refuses split and unsplit with EOPNOTSUPP.
    before = nsim.ports()
    assert all(p["splittable"] is False for p in before.values())
    err = nsim.fails("port", "split", f"{nsim.handle}/0", "count", "2")
    assert err.kernel == "Operation not supported", err
    err = nsim.fails("port", "split", before[1]["netdev"], "count", "4")  # by netdev name
    assert err.kernel == "Operation not supported", err
    err = nsim.fails("port", "unsplit", f"{nsim.handle}/0")
    assert err.kernel == "Operation not supported", err
    assert nsim.ports() == before


def test_port_params_are_not_supported(nsim):
    err = nsim.fails("port", "param", "show", f"{nsim.handle}/0", "name", "max_macs")
    assert err.message == "Port params are not supported" and err.kernel == "Invalid argument", err


def test_eswitch_mode_switches_between_legacy_and_switchdev(nsim):
    assert dl.eswitch_mode(nsim.json("dev", "eswitch", "show", nsim.handle), nsim.handle) == "legacy"
    try:
        nsim.run("dev", "eswitch", "set", nsim.handle, "mode", "switchdev")
        assert dl.eswitch_mode(nsim.json("dev", "eswitch", "show", nsim.handle), nsim.handle) == "switchdev"
    finally:
        nsim.run("dev", "eswitch", "set", nsim.handle, "mode", "legacy")
    assert dl.eswitch_mode(nsim.json("dev", "eswitch", "show", nsim.handle), nsim.handle) == "legacy"
    err = nsim.fails("dev", "eswitch", "set", nsim.handle, "mode", "bogus")
    assert err.other, err  # iproute2 itself rejects the mode name


def test_an_unknown_port_index_is_reported_missing(nsim):
    err = nsim.fails("port", "show", f"{nsim.handle}/77")
    assert err.kernel == "No such device", err

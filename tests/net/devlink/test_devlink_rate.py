"""devlink port function rate objects on netdevsim.

netdevsim creates VFs through its bus file ``sriov_numvfs`` (at most
debugfs ``max_vfs``, 4 by default); in switchdev eswitch mode every VF gets
a ``pcivf`` devlink port (index 128 + vf) and a rate leaf. Leaves and nodes
take tx_share/tx_max in whole Mbit/s up to 5000 (nsim_rate_bytes_to_units);
debugfs ``ports/<index>/`` and ``rate_nodes/<name>/`` show what the driver
got (in Mbit/s) and the parent's name. Rate nodes exist only in switchdev
mode, and while they exist the eswitch cannot go back to legacy.

Reference: devlink.sh rate_test; net/devlink/rate.c.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

from suitelib import devlink as dl

pytestmark = pytest.mark.topology("devlink-dut")

VFS = 4
VF_BASE = 128


def set_rate(nsim, obj: str, *settings: str):
    return nsim.run("port", "function", "rate", "set", f"{nsim.handle}/{obj}", *settings)


def add_node(nsim, name: str):
    return nsim.run("port", "function", "rate", "add", f"{nsim.handle}/{name}")


def del_node(nsim, name: str):
    return nsim.run("port", "function", "rate", "del", f"{nsim.handle}/{name}")


def leaf_dir(nsim, obj: str) -> str:
    return f"ports/{obj}" if obj.isdigit() else f"rate_nodes/{obj}"


def cleanup(nsim) -> None:
    """Remove rate nodes (children first), go back to legacy, drop the VFs."""
    rates = nsim.rates()
    for obj, attrs in rates.items():
        if attrs.get("parent"):
            set_rate(nsim, obj, "noparent")
    for obj, attrs in rates.items():
        if attrs["type"] == "node":
            del_node(nsim, obj)
    nsim.run("dev", "eswitch", "set", nsim.handle, "mode", "legacy")
    nsim.write_bus("sriov_numvfs", 0)


@pytest.fixture
def switchdev(nsim) -> Iterator[list[str]]:
    """VFS VFs in switchdev mode; yields the leaf names ("128".."131")."""
    nsim.write_bus("sriov_numvfs", VFS)
    try:
        nsim.run("dev", "eswitch", "set", nsim.handle, "mode", "switchdev")
        yield sorted((o for o, a in nsim.rates().items() if a["type"] == "leaf"), key=int)
    finally:
        cleanup(nsim)


def test_vfs_get_ports_and_rate_leaves_only_in_switchdev_mode(nsim):
    try:
        nsim.write_bus("sriov_numvfs", VFS)
        assert nsim.rates() == {}
        assert sorted(nsim.ports()) == [0, 1, 2, 3]
        nsim.run("dev", "eswitch", "set", nsim.handle, "mode", "switchdev")
        ports = nsim.ports()
        vf_ports = {i: p for i, p in ports.items() if p["flavour"] == "pcivf"}
        assert sorted(vf_ports) == [VF_BASE + vf for vf in range(VFS)]
        assert [vf_ports[VF_BASE + vf]["vfnum"] for vf in range(VFS)] == list(range(VFS))
        assert nsim.rates() == {str(VF_BASE + vf): {"type": "leaf"} for vf in range(VFS)}
        nsim.run("dev", "eswitch", "set", nsim.handle, "mode", "legacy")
        assert nsim.rates() == {} and sorted(nsim.ports()) == [0, 1, 2, 3]
    finally:
        cleanup(nsim)


def test_leaf_tx_share_and_tx_max_reach_the_driver(nsim, switchdev):
    for n, leaf in enumerate(switchdev):
        share, cap = 10 * (n + 1), 100 * (n + 1)
        set_rate(nsim, leaf, "tx_share", f"{share}mbit")
        set_rate(nsim, leaf, "tx_max", f"{cap}mbit")
        assert nsim.read_knob(f"ports/{leaf}/tx_share") == str(share)
        assert nsim.read_knob(f"ports/{leaf}/tx_max") == str(cap)
        attrs = nsim.rates()[leaf]
        assert (attrs["tx_share"], attrs["tx_max"]) == (dl.mbit_to_bytes(share), dl.mbit_to_bytes(cap))


def test_rate_nodes_carry_rates_and_parent_leaves_and_nodes(nsim, switchdev):
    leaf = switchdev[-1]
    add_node(nsim, "group1")
    assert nsim.rates()["group1"] == {"type": "node"}
    set_rate(nsim, "group1", "tx_share", "10mbit")
    set_rate(nsim, "group1", "tx_max", "100mbit")
    assert nsim.read_knob("rate_nodes/group1/tx_share") == "10"
    assert nsim.read_knob("rate_nodes/group1/tx_max") == "100"
    assert nsim.rates()["group1"] == {"type": "node", "tx_share": dl.mbit_to_bytes(10), "tx_max": dl.mbit_to_bytes(100)}
    del_node(nsim, "group1")
    assert "group1" not in nsim.rates()

    add_node(nsim, "group1")
    set_rate(nsim, leaf, "parent", "group1")
    assert nsim.read_knob(f"ports/{leaf}/rate_parent") == "group1"
    assert nsim.rates()[leaf]["parent"] == "group1"
    add_node(nsim, "group2")
    set_rate(nsim, "group2", "parent", "group1")
    assert nsim.read_knob("rate_nodes/group2/rate_parent") == "group1"
    assert nsim.rates()["group2"]["parent"] == "group1"
    del_node(nsim, "group2")
    set_rate(nsim, leaf, "noparent")
    assert nsim.read_knob(f"ports/{leaf}/rate_parent") == ""
    assert "parent" not in nsim.rates()[leaf]
    del_node(nsim, "group1")
    assert [a["type"] for a in nsim.rates().values()] == ["leaf"] * VFS


def test_rates_outside_the_driver_units_and_limits_are_refused(nsim, switchdev):
    leaf = switchdev[0]
    add_node(nsim, "group1")
    for obj in (leaf, "group1"):
        for attr in ("tx_share", "tx_max"):
            err = nsim.fails("port", "function", "rate", "set", f"{nsim.handle}/{obj}", attr, "1500kbit")
            assert err.message == "TX rate value not in link speed units of 1Mbps", (obj, attr, err)
            err = nsim.fails("port", "function", "rate", "set", f"{nsim.handle}/{obj}", attr, "5001mbit")
            assert err.message == "TX rate value exceed link maximum speed 5000Mbps", (obj, attr, err)
            assert err.driver == "netdevsim" and err.kernel == "Invalid argument", err
    set_rate(nsim, leaf, "tx_max", "5000mbit")  # the limit itself is fine
    assert nsim.read_knob(f"ports/{leaf}/tx_max") == "5000"
    assert "tx_share" not in nsim.rates()[leaf]


def test_rate_node_topology_errors_are_refused(nsim, switchdev):
    leaf = switchdev[0]
    add_node(nsim, "group1")
    err = nsim.fails("port", "function", "rate", "add", f"{nsim.handle}/group1")
    assert err.kernel == "File exists", err
    err = nsim.fails("port", "function", "rate", "set", f"{nsim.handle}/group1", "parent", "group1")
    assert err.message == "Parent to self is not allowed" and err.kernel == "Invalid argument", err
    add_node(nsim, "group2")
    set_rate(nsim, "group2", "parent", "group1")
    err = nsim.fails("port", "function", "rate", "set", f"{nsim.handle}/group1", "parent", "group2")
    assert err.message == "Node is already a parent of parent node" and err.kernel == "File exists", err
    set_rate(nsim, leaf, "parent", "group2")
    err = nsim.fails("port", "function", "rate", "del", f"{nsim.handle}/group2")
    assert err.message == "Node has children. Cannot delete node" and err.kernel == "Device or resource busy", err
    err = nsim.fails("port", "function", "rate", "del", f"{nsim.handle}/{leaf}")
    assert err.other == ("Node name cannot be a devlink port index or empty.",), err  # leaves go with their VF
    err = nsim.fails("dev", "eswitch", "set", nsim.handle, "mode", "legacy")
    assert err.message == "Rate node(s) exists" and err.kernel == "Device or resource busy", err
    assert dl.eswitch_mode(nsim.json("dev", "eswitch", "show", nsim.handle), nsim.handle) == "switchdev"


def test_rate_nodes_need_switchdev_mode(nsim):
    err = nsim.fails("port", "function", "rate", "add", f"{nsim.handle}/group1")
    assert err.message == "Node creation allowed only in switchdev mode", err
    assert err.driver == "netdevsim" and err.kernel == "Operation not supported", err
    assert nsim.rates() == {}


def test_vf_count_limits_are_enforced(nsim):
    try:
        assert nsim.read_knob("max_vfs") == str(VFS)
        assert nsim.bus_errno("sriov_numvfs", VFS + 1) == errno.ENOMEM  # over max_vfs
        assert nsim.bus_errno("sriov_numvfs", VFS) == 0
        assert nsim.bus_errno("sriov_numvfs", VFS - 1) == errno.EBUSY  # change only via 0
        assert nsim.knob_errno("max_vfs", 8) == errno.EBUSY  # not while VFs exist
        assert (nsim.bus_dir / "sriov_numvfs").read_text().strip() == str(VFS)
    finally:
        nsim.write_bus("sriov_numvfs", 0)
    assert nsim.read_knob("max_vfs") == str(VFS)

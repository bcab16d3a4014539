"""devlink reload on netdevsim: plain and with actions/limits, the failure
paths netdevsim can be told to take, and reload into another namespace.

netdevsim supports exactly one reload action, driver_reinit, with no limit
(nsim_dev_devlink_ops.reload_actions); reload destroys and re-creates the
ports, traps, regions, health reporters and FIB accounting. debugfs
``fail_reload`` makes reload_up fail (EINVAL, device left in the
"reload failed" state without ports), ``dont_allow_reload`` makes
reload_down refuse (EOPNOTSUPP, device untouched).

References: devlink.sh reload_test, netns_reload_test;
devlink_in_netns.sh; net/devlink/dev.c devlink_nl_reload_doit.
"""

from __future__ import annotations

import pytest

from suitelib import devlink as dl

REINIT = ("reload", "driver_reinit", "unspecified")


def port_netdevs(nsim) -> dict[int, str]:
    return dl.port_netdevs(nsim.json("port", "show"), nsim.handle)


def assert_ports_usable(nsim) -> None:
    netdevs = port_netdevs(nsim)
    assert sorted(netdevs) == [0, 1, 2, 3]
    for name in netdevs.values():
        assert nsim.node.link(name)["ifname"] == name, f"{name} missing in node {nsim.node.name}"


@pytest.mark.topology("devlink-dut")
def test_reload_recreates_the_ports_and_counts_driver_reinit(nsim):
    before = nsim.stats()
    assert before[REINIT] == 0
    # The only local reload statistic is driver_reinit without limit.
    assert [k for k in before if k[0] == "reload"] == [REINIT]

    performed = nsim.json("dev", "reload", nsim.handle, "action", "driver_reinit")
    assert dl.reload_actions_performed(performed) == ["driver_reinit"]
    assert_ports_usable(nsim)
    assert nsim.stats()[REINIT] == 1

    nsim.reload()  # without an action: same action, no answer printed
    assert nsim.stats()[REINIT] == 2
    assert_ports_usable(nsim)
    assert "reload_failed" not in nsim.devices()[nsim.handle]


@pytest.mark.topology("devlink-dut")
@pytest.mark.parametrize(
    "extra, messages, kernel",
    [
        (("action", "fw_activate"), {"Requested reload action is not supported by the driver"}, "Operation not supported"),
        # With a limit, which check fires first depends on the iproute2
        # version: 6.1 sends a limits selector (all known limits) that 6.12's
        # netlink policy rejects before any devlink check; newer ones reach
        # the action and limit checks of devlink_nl_reload_doit.
        (
            ("action", "fw_activate", "limit", "no_reset"),
            {"Attribute failed policy validation", "Requested reload action is not supported by the driver"},
            None,
        ),
        (
            ("action", "driver_reinit", "limit", "no_reset"),
            {"Attribute failed policy validation", "Requested limit is not supported by the driver"},
            None,
        ),
    ],
    ids=["fw_activate", "fw_activate-no_reset", "driver_reinit-no_reset"],
)
def test_unsupported_reload_actions_and_limits_are_refused(nsim, extra, messages, kernel):
    before = nsim.stats()
    err = nsim.fails("dev", "reload", nsim.handle, *extra)
    assert err.message in messages, err
    if kernel:
        assert err.kernel == kernel, err
    else:
        assert err.kernel in ("Invalid argument", "Operation not supported"), err
    assert nsim.stats() == before
    assert_ports_usable(nsim)


@pytest.mark.topology("devlink-dut")
def test_injected_reload_failure_leaves_the_device_failed_until_the_next_reload(nsim):
    with nsim.knob("fail_reload", "Y"):
        err = nsim.fails("dev", "reload", nsim.handle)
        assert err.message == "User setup the reload to fail for testing purposes", err
        assert err.driver == "netdevsim" and err.kernel == "Invalid argument", err
        assert nsim.devices()[nsim.handle] == {"reload_failed": True}
        assert nsim.ports() == {}  # torn down by reload_down, not rebuilt
        assert nsim.stats()[REINIT] == 0
    nsim.reload()
    assert "reload_failed" not in nsim.devices()[nsim.handle]
    assert_ports_usable(nsim)
    assert nsim.stats()[REINIT] == 1


@pytest.mark.topology("devlink-dut")
def test_forbidden_reload_is_refused_and_leaves_the_device_intact(nsim):
    before = nsim.ports()
    with nsim.knob("dont_allow_reload", "Y"):
        err = nsim.fails("dev", "reload", nsim.handle)
        assert err.message == "User forbid the reload for testing purposes", err
        assert err.kernel == "Operation not supported", err
        assert nsim.ports() == before
        assert nsim.devices()[nsim.handle] == {}
    nsim.reload()
    assert_ports_usable(nsim)


@pytest.mark.topology("devlink-2ns")
def test_reload_moves_the_device_and_its_ports_to_another_namespace_and_back(nsim, topo):
    dut, peer = topo["dut"], topo["peer"]
    nsim.reload("netns", peer.netns)
    in_peer = nsim.seen_from(peer)
    assert not nsim.visible(), "device still listed in dut after moving to peer"
    assert in_peer.devices() == {nsim.handle: {}}
    assert nsim.ports() == {}
    assert_ports_usable(in_peer)  # ports re-created in peer, netdevs there
    assert not any(link.get_attr("IFLA_PARENT_DEV_NAME") == f"netdevsim{nsim.dev_id}" for link in dut.ipr.get_links())

    # From peer, back into dut.
    in_peer.reload("netns", dut.netns)
    assert not in_peer.visible()
    assert nsim.visible()
    assert_ports_usable(nsim)
    # Both moves were driver_reinit reloads.
    assert nsim.stats()[REINIT] == 2


@pytest.mark.topology("devlink-2ns")
def test_reload_into_a_missing_namespace_or_with_fw_activate_does_not_move_the_device(nsim, topo):
    proc = nsim.run("dev", "reload", nsim.handle, "netns", "netharness-no-such-netns", check=False)
    assert proc.returncode != 0
    assert "is not a number or not within range" in proc.stderr, proc.stderr  # iproute2 found no such name

    err = nsim.fails("dev", "reload", nsim.handle, "netns", topo["peer"].netns, "action", "fw_activate")
    assert err.message == "Requested reload action is not supported by the driver", err
    assert nsim.visible() and not nsim.seen_from("peer").visible()
    assert_ports_usable(nsim)

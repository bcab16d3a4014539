"""devlink packet traps on netdevsim: traps, groups and policers, actions,
metadata, statistics, policer limits and binding, injected failures.

netdevsim registers 14 traps in 6 groups and 3 policers (dev.c
nsim_traps_arr, nsim_trap_groups_arr, nsim_trap_policers_arr; policer rate
1..8000 pps, burst 8..65536). Every 100 ms, for each *running* port, it
reports one packet to every trap whose action is not ``drop``; its drop and
policer counters count up by one per read. Only drop traps may change
action; for the others devlink answers with a warning and keeps the action.

Reference: devlink_trap.sh (init_test, trap_action_test,
trap_metadata_test, bad_trap_test, bad_trap_action_test, trap_stats_test,
trap_group_action_test, bad_trap_group_test, trap_group_stats_test,
trap_policer_test, trap_policer_bind_test, port_del_test, dev_del_test).
"""

from __future__ import annotations

import contextlib
import time

import pytest

from harness import netns as nsutil
from harness.topology.build import NETDEVSIM_BUS
from suitelib import devlink as dl

pytestmark = pytest.mark.topology("devlink-dut")

TRAPS = {  # name: (type, generic, initial action, group)
    "source_mac_is_multicast": ("drop", True, "drop", "l2_drops"),
    "vlan_tag_mismatch": ("drop", True, "drop", "l2_drops"),
    "ingress_vlan_filter": ("drop", True, "drop", "l2_drops"),
    "ingress_spanning_tree_filter": ("drop", True, "drop", "l2_drops"),
    "port_list_is_empty": ("drop", True, "drop", "l2_drops"),
    "port_loopback_filter": ("drop", True, "drop", "l2_drops"),
    "fid_miss": ("exception", False, "trap", "l2_drops"),
    "blackhole_route": ("drop", True, "drop", "l3_drops"),
    "ttl_value_is_too_small": ("exception", True, "trap", "l3_exceptions"),
    "tail_drop": ("drop", True, "drop", "buffer_drops"),
    "ingress_flow_action_drop": ("drop", True, "drop", "acl_drops"),
    "egress_flow_action_drop": ("drop", True, "drop", "acl_drops"),
    "igmp_query": ("control", True, "mirror", "mc_snooping"),
    "igmp_v1_report": ("control", True, "trap", "mc_snooping"),
}
GROUP_POLICERS = {
    "l2_drops": None,
    "l3_drops": 1,
    "l3_exceptions": 1,
    "buffer_drops": 2,
    "acl_drops": 3,
    "mc_snooping": 3,
}
POLICERS = {1: (1000, 128), 2: (2000, 256), 3: (3000, 512)}
DROP_TRAPS = [name for name, spec in TRAPS.items() if spec[0] == "drop"]
NON_DROP_TRAPS = [name for name, spec in TRAPS.items() if spec[0] != "drop"]
SETTLE = 0.3  # > the 100 ms report interval: reports in flight have landed
WINDOW = 1.0  # long enough for several reports under TCG


def set_trap(nsim, trap: str, action: str):
    return nsim.run("trap", "set", nsim.handle, "trap", trap, "action", action)


def set_group(nsim, group: str, *settings: str):
    return nsim.run("trap", "group", "set", nsim.handle, "group", group, *settings)


def packets(nsim) -> dict[str, int]:
    return {name: dl.rx_stats(t)["packets"] for name, t in nsim.traps("-s").items()}


def group_packets(nsim) -> dict[str, int]:
    return {name: dl.rx_stats(g)["packets"] for name, g in nsim.trap_groups("-s").items()}


@contextlib.contextmanager
def port_up(nsim, index: int = 0):
    name = nsim.ports()[index]["netdev"]
    nsim.node.run(["ip", "link", "set", name, "up"])
    try:
        yield name
    finally:
        nsim.node.run(["ip", "link", "set", name, "down"], check=False)


@contextlib.contextmanager
def all_groups(nsim, action: str):
    """Every group's action set to ``action`` for the block, back to drop afterwards."""
    for group in GROUP_POLICERS:
        set_group(nsim, group, "action", action)
    try:
        yield
    finally:
        for group in GROUP_POLICERS:
            nsim.run("trap", "group", "set", nsim.handle, "group", group, "action", "drop", check=False)


def over_window(read):
    before = read()
    time.sleep(WINDOW)
    return before, read()


def test_traps_groups_and_policers_are_registered(nsim):
    traps = nsim.traps()
    assert {name: (t["type"], t["generic"], t["action"], t["group"]) for name, t in traps.items()} == TRAPS
    groups = nsim.trap_groups()
    assert {name: g.get("policer") for name, g in groups.items()} == GROUP_POLICERS
    assert all(g["generic"] for g in groups.values())
    policers = nsim.trap_policers()
    assert {pid: (p["rate"], p["burst"]) for pid, p in policers.items()} == POLICERS


def test_every_trap_reports_the_input_port_and_flow_traps_the_cookie(nsim):
    for name, trap in nsim.traps("-v").items():
        assert "input_port" in trap["metadata"], name
        has_cookie = "flow_action_cookie" in trap["metadata"]
        assert has_cookie == name.endswith("_flow_action_drop"), (name, trap["metadata"])


def test_drop_traps_switch_between_trap_and_drop(nsim):
    for action in ("trap", "drop"):
        for name in DROP_TRAPS:
            set_trap(nsim, name, action)
        traps = nsim.traps()
        assert {n: traps[n]["action"] for n in DROP_TRAPS} == dict.fromkeys(DROP_TRAPS, action)
        assert {n: traps[n]["action"] for n in NON_DROP_TRAPS} == {n: TRAPS[n][2] for n in NON_DROP_TRAPS}


def test_non_drop_traps_keep_their_action_with_a_warning(nsim):
    for name in NON_DROP_TRAPS:
        for action in ("drop", "trap", "mirror"):
            if action == TRAPS[name][2]:
                continue
            proc = set_trap(nsim, name, action)
            assert dl.parse_error(proc.stderr).warnings == ("Cannot change action of non-drop traps. Skipping",)
    traps = nsim.traps()
    assert {n: traps[n]["action"] for n in NON_DROP_TRAPS} == {n: TRAPS[n][2] for n in NON_DROP_TRAPS}


def test_unknown_traps_groups_and_actions_are_refused(nsim):
    err = nsim.fails("trap", "set", nsim.handle, "trap", "made_up_trap", "action", "drop")
    assert err.message == "Device did not register this trap" and err.kernel == "No such file or directory", err
    err = nsim.fails("trap", "show", nsim.handle, "trap", "made_up_trap")
    assert err.message == "Device did not register this trap", err
    err = nsim.fails("trap", "set", nsim.handle, "trap", DROP_TRAPS[0], "action", "made_up_action")
    assert err.other == ('Unknown trap action "made_up_action"',), err  # iproute2 refuses it
    err = nsim.fails("trap", "group", "set", nsim.handle, "group", "made_up_trap_group", "action", "drop")
    assert err.message == "Device did not register this trap group" and err.kernel == "No such file or directory", err
    assert {n: t["action"] for n, t in nsim.traps().items()} == {n: spec[2] for n, spec in TRAPS.items()}


def test_trap_statistics_follow_port_state_and_action(nsim):
    # All ports down: nothing is reported, whatever the action.
    with all_groups(nsim, "trap"):
        before, after = over_window(lambda: packets(nsim))
        assert after == before, "traps counted packets with every port down"

    with port_up(nsim):
        # Non-drop traps always report; drop traps only with action trap.
        before, after = over_window(lambda: packets(nsim))
        for name in TRAPS:
            grew = after[name] > before[name]
            assert grew == (name in NON_DROP_TRAPS), (name, before[name], after[name])

        with all_groups(nsim, "trap"):
            before, after = over_window(lambda: packets(nsim))
            assert all(after[n] > before[n] for n in TRAPS), (before, after)

        time.sleep(SETTLE)
        before, after = over_window(lambda: packets(nsim))
        assert all(after[n] == before[n] for n in DROP_TRAPS), (before, after)


def test_drop_counters_count_and_injected_failures_are_reported(nsim):
    trap = "blackhole_route"
    first = dl.rx_stats(nsim.traps("-s")[trap])["dropped"]
    second = dl.rx_stats(nsim.traps("-s")[trap])["dropped"]
    assert second > first  # netdevsim's hardware drop counter advances on every read
    with nsim.knob("fail_trap_drop_counter_get", "Y"):
        # The kernel reads the counter for every answer (-s only filters the
        # display), and devlink_nl_trap_fill turns the driver's EINVAL into
        # EMSGSIZE.
        for opts in (("-s",), ()):
            err = nsim.fails(*opts, "trap", "show", nsim.handle, "trap", trap)
            assert err.kernel == "Message too long", err
    nsim.run("-s", "trap", "show", nsim.handle, "trap", trap)


def test_group_actions_apply_to_their_drop_traps(nsim):
    for group in GROUP_POLICERS:
        members = [n for n, spec in TRAPS.items() if spec[3] == group]
        for action in ("trap", "drop"):
            set_group(nsim, group, "action", action)
            traps = nsim.traps()
            for name in members:
                expected = action if TRAPS[name][0] == "drop" else TRAPS[name][2]
                assert traps[name]["action"] == expected, (group, name, traps[name])
    assert {n: t["action"] for n, t in nsim.traps().items()} == {n: spec[2] for n, spec in TRAPS.items()}


def test_group_statistics_follow_port_state_and_action(nsim):
    with all_groups(nsim, "trap"):
        before, after = over_window(lambda: group_packets(nsim))
        assert after == before, "groups counted packets with every port down"
        with port_up(nsim):
            before, after = over_window(lambda: group_packets(nsim))
            assert all(after[g] > before[g] for g in GROUP_POLICERS), (before, after)


def test_policer_rate_and_burst_limits(nsim):
    err = nsim.fails("trap", "policer", "set", nsim.handle, "policer", "1337")
    assert err.message == "Device did not register this trap policer", err
    err = nsim.fails("trap", "policer", "show", nsim.handle, "policer", "1337")
    assert err.message == "Device did not register this trap policer", err

    nsim.run("trap", "policer", "set", nsim.handle, "policer", "1", "rate", "2000", "burst", "16")
    assert (nsim.trap_policers()[1]["rate"], nsim.trap_policers()[1]["burst"]) == (2000, 16)
    for args, message in [
        (("rate", "0"), "Policer rate lower than limit"),
        (("rate", "8001"), "Policer rate higher than limit"),
        (("burst", "7"), "Policer burst size lower than limit"),
        (("burst", "65537"), "Policer burst size higher than limit"),
    ]:
        err = nsim.fails("trap", "policer", "set", nsim.handle, "policer", "1", *args)
        assert err.message == message and err.kernel == "Invalid argument", (args, err)
    # The limits themselves are valid.
    nsim.run("trap", "policer", "set", nsim.handle, "policer", "2", "rate", "8000", "burst", "65536")
    nsim.run("trap", "policer", "set", nsim.handle, "policer", "2", "rate", "1", "burst", "8")

    with nsim.knob("fail_trap_policer_set", "Y"):
        err = nsim.fails("trap", "policer", "set", nsim.handle, "policer", "1", "rate", "3000")
        assert err.message == "User setup the operation to fail for testing purposes", err
        assert err.driver == "netdevsim" and err.kernel == "Invalid argument", err
    assert (nsim.trap_policers()[1]["rate"], nsim.trap_policers()[1]["burst"]) == (2000, 16)


def test_policer_drop_counter_and_injected_counter_failure(nsim):
    first = dl.rx_stats(nsim.trap_policers("-s")[1])["dropped"]
    second = dl.rx_stats(nsim.trap_policers("-s")[1])["dropped"]
    assert second > first
    with nsim.knob("fail_trap_policer_counter_get", "Y"):
        err = nsim.fails("-s", "trap", "policer", "show", nsim.handle, "policer", "1")
        assert err.kernel == "Message too long", err  # the driver's EINVAL, as EMSGSIZE
    nsim.run("-s", "trap", "policer", "show", nsim.handle, "policer", "1")


def test_policer_binding_of_a_group(nsim):
    def bound() -> int | None:
        return nsim.trap_groups()["l2_drops"].get("policer")

    set_group(nsim, "l2_drops", "policer", "1")
    assert bound() == 1
    err = nsim.fails("trap", "group", "set", nsim.handle, "group", "l2_drops", "policer", "1337")
    assert err.message == "Device did not register this trap policer", err
    assert bound() == 1
    set_group(nsim, "l2_drops", "policer", "0")  # id 0 unbinds
    assert bound() is None
    set_group(nsim, "l2_drops", "policer", "1")
    set_group(nsim, "l2_drops", "nopolicer")
    assert bound() is None

    set_group(nsim, "l2_drops", "policer", "1")
    with nsim.knob("fail_trap_group_set", "Y"):
        err = nsim.fails("trap", "group", "set", nsim.handle, "group", "l2_drops", "policer", "2")
        assert err.kernel == "Invalid argument", err
        assert bound() == 1
    set_group(nsim, "l2_drops", "policer", "2")
    assert bound() == 2

    # Action and policer in one request: the action lands, the policer is refused.
    err = nsim.fails("trap", "group", "set", nsim.handle, "group", "l2_drops", "action", "trap", "policer", "1337")
    assert err.message == "Trap group set failed, but some changes were committed already", err
    assert bound() == 2
    assert nsim.traps()["source_mac_is_multicast"]["action"] == "trap"
    set_group(nsim, "l2_drops", "action", "drop")


def test_ports_deleted_and_recreated_while_traps_fire(nsim):
    # Exercises port teardown with reports in flight; a kernel splat fails the test.
    with all_groups(nsim, "trap"):
        for _ in range(3):
            name = nsim.ports()[0]["netdev"]
            nsim.node.run(["ip", "link", "set", name, "up"])
            time.sleep(SETTLE)
            nsim.write_bus("del_port", 0)
            nsim.write_bus("new_port", 0)
        assert sorted(nsim.ports()) == [0, 1, 2, 3]


def test_device_deleted_and_recreated_while_traps_fire(nsim):
    # The device keeps the id the topology reserved for it; it is re-created
    # in the node's namespace, where the topology put it.
    spec = f"{nsim.dev_id} 1"
    for _ in range(2):
        for group in GROUP_POLICERS:
            set_group(nsim, group, "action", "trap")
        nsim.node.run(["ip", "link", "set", nsim.ports()[0]["netdev"], "up"])
        time.sleep(SETTLE)
        (NETDEVSIM_BUS / "del_device").write_text(str(nsim.dev_id))
        nsutil.write_file_in(nsim.node.handle.fd, str(NETDEVSIM_BUS / "new_device"), spec)
        assert nsim.visible() and sorted(nsim.ports()) == [0]

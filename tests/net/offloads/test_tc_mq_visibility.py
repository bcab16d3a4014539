"""mq and mqprio show one child qdisc per active TX queue, following
``ethtool -L`` while the device is down and up, with real and grafted
children.

Reference: drivers/net/netdevsim/tc-mq-visibility.sh (the same sequence of
queue counts and grafts; "children" is the number of qdiscs on the device
minus the root, as the script counts them). Its "Grafted" step is refused by
6.12 (moving a qdisc between parents); we check the refusal instead.

Topology offloads-dev: np0 of a 1-port, 4-queue netdevsim device.
"""

from __future__ import annotations

import pytest

from suitelib.offload_port import Port, nsim_port

pytestmark = [
    pytest.mark.topology("offloads-dev"),
    pytest.mark.requires(kconfig=["NET_SCH_MQPRIO"], tools=["tc"]),
]

ROOT_OPTIONS = {
    "mq": [],
    "mqprio": ["hw", "0", "num_tc", "1", "map", "0", "0", "0", "0", "queues", "1@0"],
}
SEQUENCE = (3, 2, 1, 2, 3, 4, 1, 4)


def children(port: Port) -> int:
    qdiscs = port.node.json(["tc", "-j", "qdisc", "show", "dev", port.ifname])
    return len(qdiscs) - 1


def tc_qdisc(port: Port, *args: str) -> None:
    port.node.run(["tc", "qdisc", args[0], "dev", port.ifname, *args[1:]])


def combined(port: Port, n: int) -> None:
    port.ethtool("-L", "{dev}", "combined", str(n))


@pytest.fixture
def np0(topo) -> Port:
    return nsim_port(topo, "dut", "nsim0", "np0")


@pytest.mark.parametrize("root", sorted(ROOT_OPTIONS))
def test_children_follow_the_queue_count_down_and_up(np0, root):
    np0.node.run(["ip", "link", "set", np0.ifname, "down"])
    tc_qdisc(np0, "add", "root", "handle", "100:", root, *ROOT_OPTIONS[root])
    assert children(np0) == 4, "init"
    for state in ("down", "up"):
        np0.node.run(["ip", "link", "set", np0.ifname, state])
        seen = []
        for n in SEQUENCE:
            combined(np0, n)
            seen.append(children(np0))
        assert seen == list(SEQUENCE), f"children while {state}"
    # Negative control: a count beyond the maximum is refused and changes nothing.
    np0.refused("-L", "{dev}", "combined", "5")
    assert children(np0) == 4


@pytest.mark.parametrize("root", sorted(ROOT_OPTIONS))
def test_real_and_grafted_children(np0, root):
    tc_qdisc(np0, "add", "root", "handle", "100:", root, *ROOT_OPTIONS[root])
    tc_qdisc(np0, "replace", "parent", "100:4", "handle", "204:", "pfifo_fast")
    assert children(np0) == 4, "one real queue"
    combined(np0, 1)
    assert children(np0) == 2, "one real queue (inactive, still shown) and one default"
    combined(np0, 4)
    assert children(np0) == 4, "one real queue, rest default"
    # The reference then grafts 204: onto queue 1. The 6.12 kernel refuses
    # to move an existing qdisc to another parent (net/sched: "Cannot move
    # an existing qdisc to a different parent"); the script ignores tc's exit
    # status. We check the refusal and that nothing moved.
    moved = np0.node.run(["tc", "qdisc", "replace", "dev", np0.ifname, "parent", "100:1", "handle", "204:"],
                         check=False)
    assert moved.returncode != 0 and "Cannot move an existing qdisc" in moved.stderr, moved.stderr
    assert children(np0) == 4, "graft refused: nothing moved"
    combined(np0, 1)
    assert children(np0) == 2, "the real child of queue 4 stays visible"

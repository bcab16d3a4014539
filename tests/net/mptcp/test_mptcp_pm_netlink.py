"""In-kernel path manager configuration over netlink: pm_netlink.sh's cases.

Endpoints and limits are written with ``ip mptcp`` (iproute2) and read back
as JSON; the error cases go through pyroute2's MPTCP generic netlink client
bound to the node's namespace, so the test sees the kernel's errno rather
than iproute2's wording. Each test gets fresh namespaces, so the state a
test sees is only its own. Node s1 of mptcp-2path-noep has no endpoint and
limits (subflows 2, add_addr_accepted 2) from the topology.
"""

from __future__ import annotations

import errno

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from suitelib import mptcp

pytestmark = pytest.mark.topology("mptcp-2path-noep")

MAX_LIMIT = 8  # MPTCP_PM_ADDR_MAX: the kernel's hard limit for both limits
MAX_ADDRS = 8  # MPTCP_PM_ADDR_MAX endpoints per namespace


def ip_mptcp(node, *args: str) -> None:
    node.run(["ip", "mptcp", *args])


def summary(node) -> list[tuple[int, str, set[str], str | None]]:
    return [(e.id, e.address, set(e.flags), e.dev) for e in mptcp.endpoints(node)]


def netlink_errno(call) -> int:
    with pytest.raises(NetlinkError) as info:
        call()
    return info.value.code


def test_add_get_dump_delete_flush(topo):
    s1 = topo["s1"]
    assert mptcp.endpoints(s1) == [], "a fresh namespace has endpoints"
    ip_mptcp(s1, "endpoint", "add", "10.0.1.1")
    ip_mptcp(s1, "endpoint", "add", "10.0.1.2", "subflow", "dev", "lo")
    ip_mptcp(s1, "endpoint", "add", "10.0.1.3", "signal", "backup")
    assert summary(s1) == [
        (1, "10.0.1.1", set(), None),
        (2, "10.0.1.2", {"subflow"}, "lo"),
        (3, "10.0.1.3", {"signal", "backup"}, None),
    ]
    # get by id
    assert "10.0.1.2 id 2 subflow dev lo" in s1.run(["ip", "mptcp", "endpoint", "show", "id", "2"]).stdout
    ip_mptcp(s1, "endpoint", "delete", "id", "2")
    got = s1.run(["ip", "mptcp", "endpoint", "show", "id", "2"], check=False)
    assert got.returncode != 0 and got.stdout.strip() == "", f"deleted endpoint still found: {got}"
    assert [e.id for e in mptcp.endpoints(s1)] == [1, 3]
    # automatic ids continue after the highest one in use
    ip_mptcp(s1, "endpoint", "add", "10.0.1.4", "signal")
    assert summary(s1)[-1] == (4, "10.0.1.4", {"signal"}, None)
    ip_mptcp(s1, "endpoint", "flush")
    assert mptcp.endpoints(s1) == []


def test_errors_on_bad_input(topo):
    s1 = topo["s1"]
    pm = s1.handle.mptcp
    ip_mptcp(s1, "endpoint", "add", "10.0.1.1", "id", "5")
    assert netlink_errno(lambda: pm.endpoint("add", addr4="10.0.1.1")) == errno.EEXIST  # duplicate address
    assert netlink_errno(lambda: pm.endpoint("add", addr4="10.0.1.9", id=5)) == errno.EBUSY  # duplicate id
    assert netlink_errno(lambda: pm.endpoint("del", id=77)) == errno.EINVAL  # unknown id
    assert [(e.id, e.address) for e in mptcp.endpoints(s1)] == [(5, "10.0.1.1")], "a failed request changed state"
    # iproute2 itself refuses signal+fullmesh, the kernel never sees it
    bad = s1.run(["ip", "mptcp", "endpoint", "add", "10.0.1.7", "signal", "fullmesh"], check=False)
    assert bad.returncode != 0 and "fullmesh" in bad.stderr


def test_hard_endpoint_limit_and_id_reuse(topo):
    s1 = topo["s1"]
    for i in range(1, MAX_ADDRS + 2):
        s1.run(["ip", "mptcp", "endpoint", "add", f"10.0.1.{i}", "signal"], check=False)
    eps = mptcp.endpoints(s1)
    assert [e.id for e in eps] == list(range(1, MAX_ADDRS + 1)), f"hard limit not enforced: {eps}"
    assert netlink_errno(lambda: s1.handle.mptcp.endpoint("add", addr4="10.0.3.1")) == errno.ERANGE
    # ids 10..255 can be used and freed again (pm_netlink.sh "id limit")
    ip_mptcp(s1, "endpoint", "delete", "id", str(MAX_ADDRS))
    for i in (10, 100, 255):
        ip_mptcp(s1, "endpoint", "add", "10.0.0.9", "id", str(i))
        ip_mptcp(s1, "endpoint", "delete", "id", str(i))
    assert [e.id for e in mptcp.endpoints(s1)] == list(range(1, MAX_ADDRS))


def test_explicit_and_wrap_around_ids(topo):
    """pm_netlink.sh "set ids" and "wrap-around ids"."""
    s1 = topo["s1"]
    for addr, eid in [("10.0.1.1", None), ("10.0.1.2", None), ("10.0.1.3", 100), ("10.0.1.4", None),
                      ("10.0.1.5", 254), ("10.0.1.6", None), ("10.0.1.7", None), ("10.0.1.8", None)]:
        ip_mptcp(s1, "endpoint", "add", addr, *(["id", str(eid)] if eid else []))
    assert [(e.id, e.address) for e in mptcp.endpoints(s1)] == [
        (1, "10.0.1.1"), (2, "10.0.1.2"), (3, "10.0.1.7"), (4, "10.0.1.8"),
        (100, "10.0.1.3"), (101, "10.0.1.4"), (254, "10.0.1.5"), (255, "10.0.1.6"),
    ]
    ip_mptcp(s1, "endpoint", "flush")
    for addr, eid in [("10.0.0.1", None), ("10.0.0.2", 254), ("10.0.0.3", None), ("10.0.0.4", None),
                      ("10.0.0.5", 253), ("10.0.0.6", None), ("10.0.0.7", None), ("10.0.0.8", None)]:
        ip_mptcp(s1, "endpoint", "add", addr, *(["id", str(eid)] if eid else []))
    assert [(e.id, e.address) for e in mptcp.endpoints(s1)] == [
        (1, "10.0.0.1"), (2, "10.0.0.4"), (3, "10.0.0.6"), (4, "10.0.0.7"),
        (5, "10.0.0.8"), (253, "10.0.0.5"), (254, "10.0.0.2"), (255, "10.0.0.3"),
    ]


def test_limits(topo):
    s1 = topo["s1"]
    assert mptcp.limits(s1) == {"add_addr_accepted": 2, "subflows": 2}
    pm = s1.handle.mptcp
    assert netlink_errno(lambda: pm.limits("set", rcv_add_addrs=MAX_LIMIT + 1)) == errno.EINVAL
    assert netlink_errno(lambda: pm.limits("set", subflows=MAX_LIMIT + 1)) == errno.EINVAL
    assert mptcp.limits(s1) == {"add_addr_accepted": 2, "subflows": 2}, "rejected limits were applied"
    ip_mptcp(s1, "limits", "set", "subflows", str(MAX_LIMIT), "add_addr_accepted", str(MAX_LIMIT))
    ip_mptcp(s1, "endpoint", "add", "10.0.1.1")
    ip_mptcp(s1, "endpoint", "flush")  # flushing endpoints leaves the limits alone
    assert mptcp.limits(s1) == {"add_addr_accepted": MAX_LIMIT, "subflows": MAX_LIMIT}


def test_change_flags(topo):
    s1 = topo["s1"]
    ip_mptcp(s1, "endpoint", "add", "10.0.1.1", "subflow")
    steps = [
        (["10.0.1.1", "backup"], {"subflow", "backup"}),
        (["10.0.1.1", "nobackup"], {"subflow"}),
        (["id", "1", "fullmesh"], {"subflow", "fullmesh"}),
        (["id", "1", "nofullmesh"], {"subflow"}),
        (["id", "1", "backup", "fullmesh"], {"subflow", "backup", "fullmesh"}),
    ]
    for args, flags in steps:
        ip_mptcp(s1, "endpoint", "change", *args)
        assert summary(s1) == [(1, "10.0.1.1", flags, None)], args

"""The userspace path manager (net.mptcp.pm_type=1): userspace_pm.sh's
announce/remove and subflow create/destroy, driven through the mptcp_pm
generic netlink family (suitelib/mptcp_upm.py), with the events of
the mptcp_pm_events group.

Topology mptcp-2path-noep: c1/s1 on 10.0.1.0/24 (eth0) and 10.0.2.0/24
(eth1), limits subflows 2 and add_addr_accepted 2, no endpoints.
"""

from __future__ import annotations

import errno
import socket
import time

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from suitelib import mptcp, nstat
from suitelib import mptcp_sockopt as so
from suitelib.mptcp_upm import EventListener, UserspacePM
from suitelib.transfer import exchange
from suitelib.wait import poll

pytestmark = [
    pytest.mark.topology("mptcp-2path-noep"),
    pytest.mark.requires(kconfig=["INET_TCP_DIAG"], tools=["ss", "nstat"]),
]

PORT = 5204
SERVER = ("10.0.1.2", PORT)
SIZE = 1 << 20
COUNTERS = ("MPTcpExtAddAddr", "MPTcpExtAddAddrTx", "MPTcpExtEchoAdd", "MPTcpExtRmAddr", "MPTcpExtRmAddrTx",
            "MPTcpExtRmSubflow", "MPTcpExtMPJoinSynTx", "MPTcpExtMPJoinSynRx", "MPTcpExtMPJoinSynAckRx",
            "MPTcpExtMPJoinAckRx")


def genl(node) -> socket.socket:
    return node.netlink_socket()


def mib(node) -> dict[str, int]:
    return nstat.counters(node, "MPTcpExt")


def subflows(node) -> list[mptcp.Subflow]:
    return [s for s in mptcp.subflows(node, PORT) if s.fully_established]


def wait_subflows(node, count: int) -> list[mptcp.Subflow]:
    seen = poll(lambda: subflows(node), lambda s: len(s) == count, timeout=5.0)
    assert len(seen) == count, f"expected {count} subflows, got {seen}"
    return seen


def userspace(node) -> None:
    node.set_sysctl("net.mptcp.pm_type", 1)
    assert node.sysctl("net.mptcp.pm_type").strip() == "1"


def run(topo, client: socket.socket, after_greeting) -> tuple[dict, dict]:
    c1, s1 = topo["c1"], topo["s1"]
    before = {"c1": mib(c1), "s1": mib(s1)}
    with s1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP) as listener:
        listener.bind(("0.0.0.0", PORT))
        listener.listen(1)
        result = exchange(listener, client, SERVER, SIZE, after_greeting=after_greeting)
    assert result.content_ok, "data corrupted in transit"
    assert result.client_mptcp and result.server_mptcp
    return (nstat.nonzero(nstat.delta(before["c1"], mib(c1), COUNTERS)),
            nstat.nonzero(nstat.delta(before["s1"], mib(s1), COUNTERS)))


def test_server_announces_and_removes_through_netlink(topo):
    c1, s1 = topo["c1"], topo["s1"]
    userspace(s1)
    # Negative control: a userspace-PM namespace ignores in-kernel endpoints.
    s1.run(["ip", "mptcp", "endpoint", "add", "10.0.2.2", "signal"])
    events = EventListener(genl(s1), genl(s1))
    pm = UserspacePM(genl(s1))
    client = c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP)

    def drive() -> None:
        established = events.wait_for("ESTABLISHED")
        token = established["token"]
        assert established["saddr4"] == "10.0.1.2" and established["daddr4"] == "10.0.1.1", established
        time.sleep(0.3)
        assert mib(c1)["MPTcpExtAddAddr"] == 0, "the in-kernel endpoint was announced under the userspace PM"
        assert len(subflows(c1)) == 1
        with pytest.raises(NetlinkError) as bad:
            pm.announce(token ^ 0xFFFFFFFF, "10.0.2.2", id=5)
        assert bad.value.code in (errno.EINVAL, errno.ENOENT), bad.value
        pm.announce(token, "10.0.2.2", id=5)
        wait_subflows(c1, 2)
        sub = events.wait_for("SUB_ESTABLISHED", token=token, saddr4="10.0.2.2")
        assert sub["daddr4"] == "10.0.2.1" and sub["dport"] != PORT, sub  # the client's join, routed via eth1
        pm.remove(token, id=5)
        wait_subflows(c1, 1)

    try:
        c1_mib, s1_mib = run(topo, client, drive)
    finally:
        events.close()
        pm.close()
    assert c1_mib == {"MPTcpExtAddAddr": 1, "MPTcpExtRmAddr": 1, "MPTcpExtMPJoinSynTx": 1,
                      "MPTcpExtMPJoinSynAckRx": 1}, c1_mib
    # The userspace PM's REMOVE only sends RM_ADDR; the peer closes the subflow
    # (so no RmSubflow here, unlike the in-kernel PM's endpoint delete).
    assert s1_mib == {"MPTcpExtAddAddrTx": 1, "MPTcpExtEchoAdd": 1, "MPTcpExtRmAddrTx": 1,
                      "MPTcpExtMPJoinSynRx": 1, "MPTcpExtMPJoinAckRx": 1}, s1_mib


def test_client_creates_and_destroys_subflow_through_netlink(topo):
    c1 = topo["c1"]
    userspace(c1)
    c1.run(["ip", "mptcp", "endpoint", "add", "10.0.2.1", "dev", "eth1", "subflow"])  # ignored: userspace PM
    pm = UserspacePM(genl(c1))
    client = c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP)

    def drive() -> None:
        time.sleep(0.3)
        assert len(subflows(c1)) == 1, "the in-kernel endpoint opened a subflow under the userspace PM"
        token = so.mptcp_info(client)["token"]
        pm.subflow_create(token, "10.0.2.1", 23, SERVER[0], PORT)
        joined = [s for s in wait_subflows(c1, 2) if s.local.host == "10.0.2.1"]
        assert len(joined) == 1 and joined[0].is_join, joined
        with pytest.raises(NetlinkError):
            pm.subflow_destroy(token, ("10.0.2.1", joined[0].local.port ^ 1), SERVER)  # no such subflow
        pm.subflow_destroy(token, (joined[0].local.host, joined[0].local.port), SERVER)
        assert [s.local.host for s in wait_subflows(c1, 1)] == ["10.0.1.1"]

    try:
        c1_mib, s1_mib = run(topo, client, drive)
    finally:
        pm.close()
    assert c1_mib.get("MPTcpExtMPJoinSynTx") == 1 and c1_mib.get("MPTcpExtMPJoinSynAckRx") == 1, c1_mib
    assert s1_mib.get("MPTcpExtMPJoinSynRx") == 1 and s1_mib.get("MPTcpExtMPJoinAckRx") == 1, s1_mib
    assert "MPTcpExtAddAddr" not in s1_mib and "MPTcpExtAddAddrTx" not in c1_mib

"""The in-kernel path manager at work: ADD_ADDR and its echo, REMOVE_ADDR,
backup subflows and MP_PRIO, fullmesh, DSS checksums and joins through SYN
cookies (mptcp_join.sh signal_address_tests, remove_tests, backup_tests,
fullmesh_tests, checksum_tests, syncookies_tests).

Topology mptcp-2path-noep: c1 and s1 on two links (10.0.1.0/24 eth0,
10.0.2.0/24 eth1), limits subflows 2 and add_addr_accepted 2 on both, no
endpoint. Each test adds the endpoints it studies, so the topology itself is
the negative control of every scenario. Each transfer moves SIZE random
bytes each way and compares sha256 on both ends; the MIB counters are
compared exactly with what the scenario must produce (before/after deltas in
the test's own namespaces).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from suitelib import mptcp, nstat
from suitelib import mptcp_sockopt as so
from suitelib.packets import link_stats
from suitelib.transfer import Result, exchange
from suitelib.wait import poll

pytestmark = [
    pytest.mark.topology("mptcp-2path-noep"),
    pytest.mark.requires(kconfig=["INET_TCP_DIAG", "INET_MPTCP_DIAG"], tools=["ss", "nstat"]),
]

PORT = 5202
SIGNAL_PORT = 10100  # an endpoint's own port (add_addr_ports_tests)
SERVER = ("10.0.1.2", PORT)
SIZE = 4 << 20
MIN_SHARE = SIZE // 20
WAIT = 5.0

ADDR_COUNTERS = ("MPTcpExtAddAddr", "MPTcpExtAddAddrTx", "MPTcpExtEchoAdd", "MPTcpExtEchoAddTx",
                 "MPTcpExtAddAddrDrop", "MPTcpExtRmAddr", "MPTcpExtRmAddrTx", "MPTcpExtRmSubflow")
JOIN_COUNTERS = ("MPTcpExtMPJoinSynTx", "MPTcpExtMPJoinSynRx", "MPTcpExtMPJoinSynAckRx", "MPTcpExtMPJoinAckRx",
                 "MPTcpExtMPJoinSynBackupRx", "MPTcpExtMPJoinSynAckBackupRx")
PRIO_COUNTERS = ("MPTcpExtMPPrioTx", "MPTcpExtMPPrioRx")
ALL = ADDR_COUNTERS + JOIN_COUNTERS + PRIO_COUNTERS


def ip_mptcp(node, *args: str) -> None:
    node.run(["ip", "mptcp", *args])


def mib(node) -> dict[str, int]:
    return nstat.counters(node, "MPTcpExt")


def ours(node) -> list[mptcp.Subflow]:
    """The subflows of this file's connections: to PORT, or joined to an endpoint's own port."""
    return [s for s in mptcp.subflows(node) if {PORT, SIGNAL_PORT} & {s.local.port, s.peer.port}]


def established(node) -> list[mptcp.Subflow]:
    return [s for s in ours(node) if s.fully_established]


def describe(subflows: list[mptcp.Subflow]) -> str:
    return "; ".join(
        f"{s.local}->{s.peer} [{s.flags}] acked={s.bytes_acked} received={s.bytes_received}" for s in subflows
    )


def wait_subflows(node, count: int) -> list[mptcp.Subflow]:
    seen = poll(lambda: established(node), lambda s: len(s) == count, timeout=WAIT)
    assert len(seen) == count, f"expected {count} subflows within {WAIT} s, got: {describe(seen)}"
    return seen


def transfer(
    topo, after_greeting: Callable[[], None] | None = None, watch: tuple[str, ...] = ALL
) -> tuple[Result, dict, dict]:
    """One MPTCP transfer c1 -> s1; returns it (observed: c1's subflows and
    MPTCP_INFO while open) and the MIB deltas of c1 and s1 over ``watch``."""
    c1, s1 = topo["c1"], topo["s1"]
    before = {"c1": mib(c1), "s1": mib(s1)}
    listener = s1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP)
    with listener:
        # A second transfer in the same test finds the first one's sockets in TIME_WAIT.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", PORT))
        listener.listen(1)
        client = c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP)
        result = exchange(
            listener,
            client,
            SERVER,
            SIZE,
            after_greeting=after_greeting,
            while_open=lambda: (ours(c1), so.mptcp_info(client)),
        )
    assert result.content_ok, "data corrupted in transit"
    assert result.client_mptcp and result.server_mptcp, "the connection fell back to TCP"
    subflows, info = result.observed
    result.observed = subflows  # what every test reads: c1's subflows while open
    result.info = info  # type: ignore[attr-defined]  # c1's MPTCP_INFO while open
    return result, nstat.delta(before["c1"], mib(c1), watch), nstat.delta(before["s1"], mib(s1), watch)


def only(counters: dict[str, int], **expected: int) -> None:
    """Exactly these counters moved, by exactly these amounts; every other of ALL stayed put."""
    want = {f"MPTcpExt{k}": v for k, v in expected.items()}
    assert nstat.nonzero(counters) == want, f"counters {counters}, expected {want}"


def test_signal_address_adds_subflow_and_echo(topo):
    c1, s1 = topo["c1"], topo["s1"]
    ip_mptcp(s1, "endpoint", "add", "10.0.2.2", "signal")
    result, c1_mib, s1_mib = transfer(topo, after_greeting=lambda: wait_subflows(c1, 2))
    subs = result.observed
    assert sorted(s.peer.host for s in subs) == ["10.0.1.2", "10.0.2.2"], describe(subs)
    for sub in subs:
        assert sub.bytes_acked >= MIN_SHARE and sub.bytes_received >= MIN_SHARE, describe(subs)
    only(s1_mib, AddAddrTx=1, EchoAdd=1, MPJoinSynRx=1, MPJoinAckRx=1)
    only(c1_mib, AddAddr=1, EchoAddTx=1, MPJoinSynTx=1, MPJoinSynAckRx=1)


def test_add_addr_ignored_when_limit_is_zero(topo):
    """Negative control: with add_addr_accepted 0 the ADD_ADDR arrives and is
    echoed, but the client opens no subflow towards it."""
    c1, s1 = topo["c1"], topo["s1"]
    ip_mptcp(c1, "limits", "set", "add_addr_accepted", "0")
    ip_mptcp(s1, "endpoint", "add", "10.0.2.2", "signal")

    def announced_and_ignored() -> None:
        poll(lambda: mib(c1)["MPTcpExtAddAddr"], lambda n: n >= 1, timeout=WAIT)
        assert len(established(c1)) == 1

    result, c1_mib, s1_mib = transfer(topo, after_greeting=announced_and_ignored)
    assert len(result.observed) == 1 and result.observed[0].is_initial, describe(result.observed)
    only(s1_mib, AddAddrTx=1, EchoAdd=1)
    only(c1_mib, AddAddr=1, EchoAddTx=1)


def test_remove_addr_closes_subflow(topo):
    """Deleting a signalled endpoint sends REMOVE_ADDR; the peer closes the
    subflow to it and the transfer finishes on the remaining one."""
    c1, s1 = topo["c1"], topo["s1"]
    ip_mptcp(s1, "endpoint", "add", "10.0.2.2", "id", "7", "signal")

    def remove() -> None:
        wait_subflows(c1, 2)
        ip_mptcp(s1, "endpoint", "delete", "id", "7")
        wait_subflows(c1, 1)

    result, c1_mib, s1_mib = transfer(topo, after_greeting=remove)
    assert [s.peer.host for s in result.observed] == ["10.0.1.2"], describe(result.observed)
    only(s1_mib, AddAddrTx=1, EchoAdd=1, MPJoinSynRx=1, MPJoinAckRx=1, RmAddrTx=1, RmSubflow=1)
    # The remover counts RmAddrTx and the subflow it closes itself (RmSubflow);
    # the peer counts the REMOVE_ADDR it processed (RmAddr) and no RmSubflow.
    only(c1_mib, AddAddr=1, EchoAddTx=1, MPJoinSynTx=1, MPJoinSynAckRx=1, RmAddr=1)

    # A removed endpoint yields no new subflow on the next connection.
    result, c1_mib, s1_mib = transfer(topo)
    assert len(result.observed) == 1, describe(result.observed)
    only(c1_mib)
    only(s1_mib)


def test_remove_subflow_endpoint(topo):
    """The client deletes its own subflow endpoint: REMOVE_ADDR goes to the
    server, both ends drop the subflow (mptcp_join.sh "remove single subflow").
    Counted as in the signalled case: RmSubflow only on the side that removed."""
    c1 = topo["c1"]
    ip_mptcp(c1, "endpoint", "add", "10.0.2.1", "dev", "eth1", "id", "3", "subflow")

    def remove() -> None:
        wait_subflows(c1, 2)
        ip_mptcp(c1, "endpoint", "delete", "id", "3")
        wait_subflows(c1, 1)

    result, c1_mib, s1_mib = transfer(topo, after_greeting=remove)
    assert [s.local.host for s in result.observed] == ["10.0.1.1"], describe(result.observed)
    only(c1_mib, MPJoinSynTx=1, MPJoinSynAckRx=1, RmAddrTx=1, RmSubflow=1)
    only(s1_mib, MPJoinSynRx=1, MPJoinAckRx=1, RmAddr=1)


def test_backup_subflow_carries_no_data_while_primary_works(topo):
    c1 = topo["c1"]
    ip_mptcp(c1, "endpoint", "add", "10.0.2.1", "dev", "eth1", "subflow", "backup")
    eth1_before = link_stats(c1, "eth1")
    result, c1_mib, s1_mib = transfer(topo, after_greeting=lambda: wait_subflows(c1, 2))
    subs = {s.local.host: s for s in result.observed}
    assert set(subs) == {"10.0.1.1", "10.0.2.1"}, describe(result.observed)
    backup = subs["10.0.2.1"]
    assert "b" in backup.flags.lower() and backup.is_join, describe(result.observed)
    assert backup.bytes_acked < MIN_SHARE and backup.bytes_received < MIN_SHARE, describe(result.observed)
    assert subs["10.0.1.1"].bytes_acked >= SIZE and subs["10.0.1.1"].bytes_received >= SIZE
    moved = link_stats(c1, "eth1") - eth1_before
    assert moved.tx_bytes < MIN_SHARE and moved.rx_bytes < MIN_SHARE, f"backup link carried the transfer: {moved}"
    only(c1_mib, MPJoinSynTx=1, MPJoinSynAckRx=1)
    only(s1_mib, MPJoinSynRx=1, MPJoinSynBackupRx=1, MPJoinAckRx=1)


def test_mp_prio_clears_backup_and_data_uses_both(topo):
    """Changing the endpoint to nobackup on a live connection sends MP_PRIO;
    afterwards the former backup subflow carries data (backup_tests "mpc
    switch to backup" in reverse)."""
    c1 = topo["c1"]
    ip_mptcp(c1, "endpoint", "add", "10.0.2.1", "dev", "eth1", "id", "4", "subflow", "backup")

    def unbackup() -> None:
        wait_subflows(c1, 2)
        ip_mptcp(c1, "endpoint", "change", "id", "4", "nobackup")
        poll(lambda: mib(c1)["MPTcpExtMPPrioTx"], lambda n: n >= 1, timeout=WAIT)

    result, c1_mib, s1_mib = transfer(topo, after_greeting=unbackup)
    for sub in result.observed:
        assert "b" not in sub.flags.lower(), f"still backup after MP_PRIO: {describe(result.observed)}"
        assert sub.bytes_acked >= MIN_SHARE, describe(result.observed)
    only(c1_mib, MPJoinSynTx=1, MPJoinSynAckRx=1, MPPrioTx=1)
    only(s1_mib, MPJoinSynRx=1, MPJoinSynBackupRx=1, MPJoinAckRx=1, MPPrioRx=1)


def test_fullmesh_subflow_to_every_announced_address(topo):
    """A fullmesh endpoint opens a subflow to each address the peer knows
    (its primary and each one it announced), not only one."""
    c1, s1 = topo["c1"], topo["s1"]
    ip_mptcp(c1, "limits", "set", "subflows", "4", "add_addr_accepted", "4")
    ip_mptcp(s1, "limits", "set", "subflows", "4", "add_addr_accepted", "4")
    ip_mptcp(s1, "endpoint", "add", "10.0.2.2", "signal")
    ip_mptcp(c1, "endpoint", "add", "10.0.2.1", "subflow", "fullmesh")
    result, c1_mib, s1_mib = transfer(topo, after_greeting=lambda: wait_subflows(c1, FULLMESH_SUBFLOWS))
    pairs = sorted((s.local.host, s.peer.host) for s in result.observed)
    assert pairs == FULLMESH_PAIRS, describe(result.observed)
    joins = FULLMESH_SUBFLOWS - 1
    only(c1_mib, AddAddr=1, EchoAddTx=1, MPJoinSynTx=joins, MPJoinSynAckRx=joins)
    only(s1_mib, AddAddrTx=1, EchoAdd=1, MPJoinSynRx=joins, MPJoinAckRx=joins)


FULLMESH_SUBFLOWS = 3
FULLMESH_PAIRS = [("10.0.1.1", "10.0.1.2"), ("10.0.2.1", "10.0.1.2"), ("10.0.2.1", "10.0.2.2")]


def test_join_limited_by_client(topo):
    """subflows_tests "single subflow, limited by client": with its subflows
    limit at 0 the client never sends MP_JOIN despite a subflow endpoint."""
    c1 = topo["c1"]
    ip_mptcp(c1, "limits", "set", "subflows", "0")
    ip_mptcp(c1, "endpoint", "add", "10.0.2.1", "dev", "eth1", "subflow")

    def stays_single() -> None:
        time.sleep(0.3)
        assert len(established(c1)) == 1

    result, c1_mib, s1_mib = transfer(topo, after_greeting=stays_single)
    assert len(result.observed) == 1, describe(result.observed)
    only(c1_mib)
    only(s1_mib)


def test_join_limited_by_server(topo):
    """subflows_tests "single subflow, limited by server" (chk_join_nr 1 1 0):
    the server answers the MP_JOIN SYN but, over its subflows limit of 0,
    refuses the third ACK, so no subflow is added."""
    c1, s1 = topo["c1"], topo["s1"]
    ip_mptcp(s1, "limits", "set", "subflows", "0")
    ip_mptcp(c1, "endpoint", "add", "10.0.2.1", "dev", "eth1", "subflow")

    def join_refused() -> None:
        poll(lambda: mib(c1)["MPTcpExtMPJoinSynAckRx"], lambda n: n >= 1, timeout=WAIT)
        time.sleep(0.2)
        assert len(established(c1)) == 1

    result, c1_mib, s1_mib = transfer(topo, after_greeting=join_refused)
    assert len(result.observed) == 1, describe(result.observed)
    only(c1_mib, MPJoinSynTx=1, MPJoinSynAckRx=1)
    only(s1_mib, MPJoinSynRx=1)


def test_endpoints_added_to_live_connection(topo):
    """add_tests "add single subflow" and "add signal address": endpoints
    added while the connection is up act on it at once."""
    c1, s1 = topo["c1"], topo["s1"]
    ip_mptcp(c1, "limits", "set", "subflows", "3", "add_addr_accepted", "3")
    ip_mptcp(s1, "limits", "set", "subflows", "3", "add_addr_accepted", "3")

    def add() -> None:
        time.sleep(0.2)
        assert len(established(c1)) == 1
        ip_mptcp(c1, "endpoint", "add", "10.0.2.1", "dev", "eth1", "subflow")
        wait_subflows(c1, 2)
        ip_mptcp(s1, "endpoint", "add", "10.0.2.2", "signal")
        wait_subflows(c1, 3)

    result, c1_mib, s1_mib = transfer(topo, after_greeting=add)
    assert sorted((s.local.host, s.peer.host) for s in result.observed) == [
        ("10.0.1.1", "10.0.1.2"), ("10.0.2.1", "10.0.1.2"), ("10.0.2.1", "10.0.2.2")], describe(result.observed)
    only(c1_mib, AddAddr=1, EchoAddTx=1, MPJoinSynTx=2, MPJoinSynAckRx=2)
    only(s1_mib, AddAddrTx=1, EchoAdd=1, MPJoinSynRx=2, MPJoinAckRx=2)


CSUM_COUNTERS = ("MPTcpExtDataCsumErr",)


@pytest.mark.parametrize(
    ("client", "server", "used"),
    [(1, 1, True), (0, 1, True), (1, 0, True), (0, 0, False)],
    ids=["both", "server-only", "client-only", "neither"],
)
def test_dss_checksums_are_used_when_either_end_asks(topo, client, server, used):
    """checksum_tests: with net.mptcp.checksum_enabled on either end, the
    connection and its joins carry DSS checksums (MPTCP_INFO csum_enabled)
    without errors; with neither, none (the negative control)."""
    c1, s1 = topo["c1"], topo["s1"]
    c1.set_sysctl("net.mptcp.checksum_enabled", client)
    s1.set_sysctl("net.mptcp.checksum_enabled", server)
    ip_mptcp(s1, "endpoint", "add", "10.0.2.2", "signal")
    result, c1_mib, s1_mib = transfer(topo, after_greeting=lambda: wait_subflows(c1, 2),
                                      watch=ALL + CSUM_COUNTERS)
    assert bool(result.info["csum_enabled"]) is used, result.info
    assert len(result.observed) == 2, describe(result.observed)
    only(s1_mib, AddAddrTx=1, EchoAdd=1, MPJoinSynRx=1, MPJoinAckRx=1)
    only(c1_mib, AddAddr=1, EchoAddTx=1, MPJoinSynTx=1, MPJoinSynAckRx=1)


def test_joins_complete_through_syn_cookies(topo):
    """syncookies_tests: with net.ipv4.tcp_syncookies=2 the server answers
    every SYN, MP_CAPABLE and MP_JOIN alike, with a cookie; both subflows still
    come up and carry data."""
    c1, s1 = topo["c1"], topo["s1"]
    s1.set_sysctl("net.ipv4.tcp_syncookies", 2)
    ip_mptcp(s1, "endpoint", "add", "10.0.2.2", "signal")
    cookies_before = nstat.counters(s1, "TcpExtSyncookies")
    result, c1_mib, s1_mib = transfer(topo, after_greeting=lambda: wait_subflows(c1, 2))
    cookies = nstat.delta(cookies_before, nstat.counters(s1, "TcpExtSyncookies"), ["TcpExtSyncookiesSent",
                                                                                   "TcpExtSyncookiesRecv"])
    assert cookies["TcpExtSyncookiesSent"] >= 2 and cookies["TcpExtSyncookiesRecv"] >= 2, cookies
    for sub in result.observed:
        assert sub.bytes_acked >= MIN_SHARE and sub.bytes_received >= MIN_SHARE, describe(result.observed)
    only(s1_mib, AddAddrTx=1, EchoAdd=1, MPJoinSynRx=1, MPJoinAckRx=1)
    only(c1_mib, AddAddr=1, EchoAddTx=1, MPJoinSynTx=1, MPJoinSynAckRx=1)


PORT_COUNTERS = ("MPTcpExtPortAdd", "MPTcpExtMPJoinPortSynRx", "MPTcpExtMPJoinPortSynAckRx",
                 "MPTcpExtMPJoinPortAckRx", "MPTcpExtMismatchPortSynRx", "MPTcpExtMismatchPortAckRx")


def test_signal_address_with_port_gets_its_own_listener(topo):
    """add_addr_ports_tests "signal address with port": an endpoint with a
    port opens an extra listener; the ADD_ADDR carries the port and the join
    goes to it, counted by the port-specific MIBs, with no port mismatch."""
    c1, s1 = topo["c1"], topo["s1"]
    ip_mptcp(s1, "endpoint", "add", "10.0.2.2", "signal", "port", str(SIGNAL_PORT))
    result, c1_mib, s1_mib = transfer(topo, after_greeting=lambda: wait_subflows(c1, 2),
                                      watch=ALL + PORT_COUNTERS)
    peers = sorted((s.peer.host, s.peer.port) for s in result.observed)
    assert peers == [("10.0.1.2", PORT), ("10.0.2.2", SIGNAL_PORT)], describe(result.observed)
    # PortAdd counts every received ADD_ADDR with a port: the echo brings it back to s1 too.
    only(s1_mib, AddAddrTx=1, EchoAdd=1, PortAdd=1, MPJoinSynRx=1, MPJoinAckRx=1, MPJoinPortSynRx=1,
         MPJoinPortAckRx=1)
    only(c1_mib, AddAddr=1, EchoAddTx=1, PortAdd=1, MPJoinSynTx=1, MPJoinSynAckRx=1, MPJoinPortSynAckRx=1)

"""MPTCP's socket options as mptcp_sockopt.sh checks them: MPTCP_INFO,
MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS on a live two-subflow connection,
cross-checked against what the test sent and against ``ss``; a fallen-back
connection as the negative control.

Topology mptcp-2path (c1 has a subflow endpoint 10.0.2.1 dev eth1).
"""

from __future__ import annotations

import errno
import socket

import pytest

from suitelib import mptcp
from suitelib import mptcp_sockopt as so
from suitelib.transfer import exchange
from suitelib.wait import poll

pytestmark = [pytest.mark.topology("mptcp-2path"), pytest.mark.requires(kconfig=["INET_TCP_DIAG"], tools=["ss"])]

PORT = 5203
SERVER = ("10.0.1.2", PORT)
SIZE = 1 << 20


def test_info_tcpinfo_and_subflow_addrs_on_two_subflows(topo):
    c1, s1 = topo["c1"], topo["s1"]
    client = c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP)

    def two_subflows() -> None:
        seen = poll(lambda: [s for s in mptcp.subflows(c1, PORT) if s.fully_established],
                    lambda s: len(s) == 2, timeout=5.0)
        assert len(seen) == 2, seen

    def look():
        ss_pairs = [((s.local.host, s.local.port), (s.peer.host, s.peer.port)) for s in mptcp.subflows(c1, PORT)]
        return (so.mptcp_info(client), so.subflow_addrs(client), so.subflow_tcpinfo(client),
                so.subflow_addrs(client, 1), ss_pairs)

    with s1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP) as listener:
        listener.bind(("0.0.0.0", PORT))
        listener.listen(1)
        result = exchange(listener, client, SERVER, SIZE, after_greeting=two_subflows, while_open=look)
    assert result.content_ok and result.client_mptcp
    info, (n_addrs, addrs), (n_tcp, tcpinfo), (n_small, addrs_small), ss_pairs = result.observed

    assert info["subflows"] == 1, info  # additional subflows, the initial one not counted
    assert info["subflows_max"] == 2 and info["add_addr_accepted_max"] == 2, info
    assert info["flags"] & so.INFO_FLAG_REMOTE_KEY_RECEIVED and not info["flags"] & so.INFO_FLAG_FALLBACK, info
    assert info["token"] != 0
    if "bytes_sent" in info:  # 6.5+
        greeting = 17
        assert info["bytes_sent"] >= SIZE + greeting and info["bytes_received"] == SIZE + greeting, info
        assert info["subflows_total"] == 2, info

    assert n_addrs == 2, addrs
    assert sorted((local[0], remote) for local, remote in addrs) == [("10.0.1.1", SERVER), ("10.0.2.1", SERVER)], addrs
    assert sorted(addrs) == sorted(ss_pairs), f"getsockopt {addrs} vs ss {ss_pairs}"
    # room for one element: the kernel still reports both subflows but stores one
    assert n_small == 2 and len(addrs_small) == 1 and addrs_small[0] in addrs

    assert n_tcp == 2 and len(tcpinfo) == 2, tcpinfo
    assert sum(acked for acked, _ in tcpinfo) >= SIZE and sum(rcvd for _, rcvd in tcpinfo) >= SIZE, tcpinfo


def test_fallback_socket_reports_fallback(topo):
    """Negative control: against a plain TCP listener the connection falls
    back and the MPTCP-level options refuse with EOPNOTSUPP (there is no
    MPTCP state to report)."""
    c1, s1 = topo["c1"], topo["s1"]
    client = c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP)

    def look():
        try:
            info = so.mptcp_info(client)
        except OSError as exc:
            info = exc.errno
        try:
            addrs = so.subflow_addrs(client)
        except OSError as exc:
            addrs = exc.errno
        return info, addrs

    with s1.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as listener:
        listener.bind(("0.0.0.0", PORT))
        listener.listen(1)
        result = exchange(listener, client, SERVER, 4096, while_open=look)
    assert result.content_ok and not result.client_mptcp
    info, addrs = result.observed
    assert info == errno.EOPNOTSUPP, f"MPTCP_INFO on a fallen-back socket: {info}"
    assert addrs == errno.EOPNOTSUPP, f"MPTCP_SUBFLOW_ADDRS on a fallen-back socket: {addrs}"


@pytest.mark.requires(kconfig=["INET_MPTCP_DIAG"], tools=["nstat"])
def test_diag_lists_listener_and_connections(topo):
    """diag.sh: ``ss -M`` (MPTCP inet_diag) shows the listener and one msk per
    side with the remote key and no fallback; MPCurrEstab counts the
    established msk and drops back to 0 after close."""
    from suitelib import nstat
    from suitelib.ss import parse_ss

    c1, s1 = topo["c1"], topo["s1"]
    assert parse_ss(s1.run(["ss", "-MnH"]).stdout) == [], "msk in a fresh namespace"

    def look():
        return {name: (node.run(["ss", "-MinH"]).stdout, nstat.counters(node, "MPTcpExtMPCurrEstab"))
                for name, node in (("c1", c1), ("s1", s1))}

    with s1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP) as listener:
        listener.bind(("0.0.0.0", PORT))
        listener.listen(1)
        listening = [s for s in parse_ss(s1.run(["ss", "-MlnH"]).stdout) if s.local.port == PORT]
        assert len(listening) == 1 and listening[0].state == "LISTEN", listening
        result = exchange(listener, c1.socket(socket.AF_INET, socket.SOCK_STREAM, mptcp.IPPROTO_MPTCP),
                          SERVER, 4096, while_open=look)
    assert result.content_ok
    for name, (text, curr) in result.observed.items():
        conns = mptcp.parse_connections(text, PORT)
        assert len(conns) == 1 and not conns[0].fallback and conns[0].token, f"{name}: {text}"
        assert "remote_key" in text, f"{name}: no remote_key in {text}"
        assert curr == {"MPTcpExtMPCurrEstab": 1}, f"{name}: {curr}"
    for node in (c1, s1):
        assert poll(lambda node=node: nstat.counters(node, "MPTcpExtMPCurrEstab")["MPTcpExtMPCurrEstab"],
                    lambda n: n == 0, timeout=5.0) == 0

"""TCP_AO_REPAIR: reading and restoring the ISNs and sequence number
extensions (SNE, RFC 5925 section 6.2) of a connection, and SNE across a
sequence number wrap.

Topology tcp-ao-pair. Reference: ``restore.c``, ``seq-ext.c``,
``lib/repair.c`` of the kernel selftests.

The wrap test migrates both ends of an idle connection, as seq-ext.c
does: checkpoint each socket in TCP_REPAIR mode, close it silently, and
rebuild it on a new port with its sequence numbers moved to just below
2^32 (same ISNs, so same traffic keys). A megabyte each way then crosses
the wrap in both directions; both ends must count SNE 1 both ways and see
no bad MAC. Moving to new ports keeps stray segments of the old
connection from meeting the new sequence numbers.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from suitelib import tcp_ao as ao
from suitelib import tcp_ao_util as util
from suitelib.tcp_ao_util import MibDelta

pytestmark = [pytest.mark.topology("tcp-ao-pair"), pytest.mark.requires(tools=["nstat"])]

KEY = b"key of the repair tests"
SIZE = 32 << 10
U32 = 0xFFFFFFFF
MSG = 1000  # as seq-ext.c: the wraps happen 1000 bytes into one stream ...
QUOTA = 1000 * MSG  # ... and near the end of the other


def connected(pair, sockets):
    f = pair.family
    listener = sockets.listener(pair.b, f, setup=lambda s: ao.add_key(s, pair.a_addr, KEY, 100, 100))
    client = sockets.tcp(pair.a, f)
    ao.add_key(client, pair.b_addr, KEY, 100, 100)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    return client, server


def test_repair_reports_isns_and_zero_sne(pair, sockets):
    client, server = connected(pair, sockets)
    util.exchange(client, server, SIZE)
    util.wait_all_acked(client)
    util.wait_all_acked(server)
    seen = {}
    for name, sock in (("client", client), ("server", server)):
        with ao.repair_mode(sock):
            seen[name] = (
                ao.get_repair(sock),
                util.queue_seq(sock, ao.TCP_SEND_QUEUE),
                util.queue_seq(sock, ao.TCP_RECV_QUEUE),
            )
    (c, c_snd, c_rcv), (s, s_snd, s_rcv) = seen["client"], seen["server"]
    assert (c.snt_isn, c.rcv_isn) == (s.rcv_isn, s.snt_isn), (c, s)
    assert (c.snd_sne, c.rcv_sne, s.snd_sne, s.rcv_sne) == (0, 0, 0, 0)
    # ISN + SYN + the bytes each side sent: the ISNs are the real ones, in host order.
    assert c_snd == (c.snt_isn + 1 + SIZE) & U32 == s_rcv
    assert s_snd == (s.snt_isn + 1 + SIZE) & U32 == c_rcv
    util.exchange(client, server, 4096)  # leaving repair mode left the connection intact


def test_sequence_number_extension_across_wrap(pair, sockets):
    f = pair.family
    client, server = connected(pair, sockets)
    util.exchange(client, server, SIZE)
    for sock in (client, server):
        util.wait_all_acked(sock)
    mib_a, mib_b = MibDelta(pair.a), MibDelta(pair.b)

    points = {}
    for name, sock in (("client", client), ("server", server)):
        ao.set_tcp_repair(sock, ao.TCP_REPAIR_ON)
        points[name] = util.checkpoint(sock)
        sock.close()  # in repair mode: no FIN, no RST
    c_cp = util.shift_sequences(points["client"], snd_seq=U32 - MSG, rcv_seq=U32 - (QUOTA - 2 * MSG))
    s_cp = util.shift_sequences(points["server"], snd_seq=U32 - (QUOTA - 2 * MSG), rcv_seq=U32 - MSG)

    new_client, new_server = sockets.tcp(pair.a, f), sockets.tcp(pair.b, f)
    new_client.bind(f.sockaddr(pair.a_addr, 0))
    new_server.bind(f.sockaddr(pair.b_addr, 0))
    util.restore(new_client, c_cp, f.sockaddr(pair.b_addr, util.port_of(new_server)),
                 lambda s: ao.add_key(s, pair.b_addr, KEY, 100, 100))
    util.restore(new_server, s_cp, f.sockaddr(pair.a_addr, util.port_of(new_client)),
                 lambda s: ao.add_key(s, pair.a_addr, KEY, 100, 100))
    for sock, cp in ((new_client, c_cp), (new_server, s_cp)):
        with ao.repair_mode(sock):
            assert ao.get_repair(sock) == cp.ao, "TCP_AO_REPAIR did not restore ISNs/SNEs"
    good = {name: ao.get_info(s).pkt_good for name, s in (("client", new_client), ("server", new_server))}

    util.pump(new_client, new_server, QUOTA, timeout=120)
    util.pump(new_server, new_client, QUOTA, timeout=120)

    for name, sock in (("client", new_client), ("server", new_server)):
        with ao.repair_mode(sock):
            state = ao.get_repair(sock)
        assert (state.snd_sne, state.rcv_sne) == (1, 1), f"{name}: SNE after the wrap: {state}"
        info = ao.get_info(sock)
        assert info.pkt_good > good[name] and info.pkt_bad == 0, f"{name}: {info}"
    for delta in (mib_a.now(), mib_b.now()):
        assert delta["TcpExtTCPAOGood"] > 0 and delta["TcpExtTCPAOBad"] == 0, delta
        assert delta["TcpExtTCPAOKeyNotFound"] == delta["TcpExtTCPAORequired"] == 0, delta


@pytest.mark.parametrize(
    "field, bad_on",
    [("snt_isn", "b"), ("rcv_isn", "b"), ("snd_sne", "b"), ("rcv_sne", "a")],
)
def test_restore_with_wrong_ao_state_breaks_verification(pair, sockets, field, bad_on):
    """restore.c "wrong send/receive ISN", "wrong send/receive SEQ ext
    number": the negative controls of the migration above. The client is
    restored with one TCP_AO_REPAIR field off by one; both ends then send.
    A wrong ISN changes both traffic keys (the KDF context holds both ISNs)
    and a wrong send SNE the client's MACs, so b sees bad MACs; a wrong
    receive SNE makes the client (a) reject b's segments."""
    f = pair.family
    client, server = connected(pair, sockets)
    util.exchange(client, server, 4096)
    for sock in (client, server):
        util.wait_all_acked(sock)
    points = {}
    for name, sock in (("client", client), ("server", server)):
        ao.set_tcp_repair(sock, ao.TCP_REPAIR_ON)
        points[name] = util.checkpoint(sock)
        sock.close()
    good_ao = points["client"].ao
    broken = replace(points["client"], ao=replace(good_ao, **{field: (getattr(good_ao, field) + 1) & U32}))
    new_client, new_server = sockets.tcp(pair.a, f), sockets.tcp(pair.b, f)
    new_client.bind(f.sockaddr(pair.a_addr, 0))
    new_server.bind(f.sockaddr(pair.b_addr, 0))
    util.restore(new_client, broken, f.sockaddr(pair.b_addr, util.port_of(new_server)),
                 lambda s: ao.add_key(s, pair.b_addr, KEY, 100, 100))
    util.restore(new_server, points["server"], f.sockaddr(pair.a_addr, util.port_of(new_client)),
                 lambda s: ao.add_key(s, pair.a_addr, KEY, 100, 100))
    mib = MibDelta({"a": pair.a, "b": pair.b}[bad_on])
    new_client.send(b"c" * 100)
    new_server.send(b"s" * 100)
    assert mib.wait_for("TcpExtTCPAOBad")["TcpExtTCPAOBad"] >= 1
    victim = new_server if bad_on == "b" else new_client
    assert util.wait_info(victim, "pkt_bad").pkt_bad >= 1
    for sock in (new_client, new_server):
        util.kill(sock)

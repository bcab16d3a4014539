"""TCP-AO handshakes: matching keys connect and carry data; every kind of
mismatch stalls the handshake and is counted where the kernel says it is.

Topology tcp-ao-pair: client a (10.0.1.1, 2001:db8:1::1), server b
(10.0.1.2, 2001:db8:1::2). Reference: kernel selftests
``tools/testing/selftests/net/tcp_ao/connect.c`` and ``connect-deny.c``.

A rejected handshake is observed without waiting for connect() to time out
(that would take 1 s per SYN retransmission): the client starts a
non-blocking connect, the test polls the counter that the dropped segment
must move (per-socket TCP_AO_INFO and the namespace's TcpExt MIB), then
checks that the client is still in SYN-SENT and that the listener has
nothing to accept.
"""

from __future__ import annotations

import errno
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pytest

from suitelib import tcp_ao as ao
from suitelib import tcp_ao_util as util
from suitelib.tcp_ao_util import MibDelta

pytestmark = [pytest.mark.topology("tcp-ao-pair"), pytest.mark.requires(tools=["nstat"])]

KEY = b"netharness TCP-AO master key"
OTHER_KEY = b"not the key the peer has"
WRONG_PEER = {4: "10.0.253.1", 6: "2001:db8:253::1"}  # no such host on the link
NEEDS_CMAC = pytest.mark.requires(kconfig=["CRYPTO_CMAC", "CRYPTO_AES"])  # RFC 5926 AES-128-CMAC-96
NEEDS_SHA256 = pytest.mark.requires(kconfig=["CRYPTO_SHA256"])


def assert_clean(delta: dict[str, int], *allowed: str) -> None:
    """No failure counter moved, except ``allowed``."""
    failures = {k: v for k, v in delta.items() if k != "TcpExtTCPAOGood" and k not in allowed and v}
    assert failures == {}, f"unexpected failure counters: {failures}"


def test_matching_keys_connect_and_carry_data(pair, sockets):
    """Smoke test: same MKT on both sides, data both ways, every counter as expected."""
    f = pair.family
    mib_a, mib_b = MibDelta(pair.a), MibDelta(pair.b)
    listener = sockets.listener(pair.b, f, setup=lambda s: ao.add_key(s, pair.a_addr, KEY, 100, 100))
    client = sockets.tcp(pair.a, f)
    ao.add_key(client, pair.b_addr, KEY, 100, 100)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    util.exchange(client, server)

    for name, sock in (("client", client), ("server", server)):
        info = ao.get_info(sock)
        assert info.pkt_good > 0, f"{name}: {info}"
        assert (info.pkt_bad, info.pkt_key_not_found, info.pkt_ao_required, info.pkt_dropped_icmp) == (0, 0, 0, 0), info
        assert (info.current_key, info.rnext) == (100, 100), f"{name}: {info}"
        assert not info.ao_required and not info.accept_icmps, f"{name}: {info}"

    [key] = ao.get_keys(server)
    assert key.peer == ipaddress.ip_network(pair.a_addr)
    assert (key.alg_name, key.key, key.maclen, key.sndid, key.rcvid) == ("hmac(sha1)", KEY, 12, 100, 100)
    assert key.is_current and key.is_rnext and key.pkt_good > 0 and key.pkt_bad == 0

    delta_a, delta_b = mib_a.now(), mib_b.now()
    assert delta_a["TcpExtTCPAOGood"] > 0 and delta_b["TcpExtTCPAOGood"] > 0, (delta_a, delta_b)
    assert_clean(delta_a)
    assert_clean(delta_b)


def test_unsigned_connection_moves_no_ao_counter(pair, sockets):
    """Control for the counters: plain TCP between the same hosts leaves them alone."""
    f = pair.family
    mib_b = MibDelta(pair.b)
    listener = sockets.listener(pair.b, f)
    client = sockets.tcp(pair.a, f)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    util.exchange(client, server)
    assert mib_b.now() == dict.fromkeys(mib_b.names, 0)
    with pytest.raises(OSError) as exc:
        ao.get_info(server)
    assert exc.value.errno == errno.ENOENT


@dataclass(frozen=True)
class Accepted:
    id: str
    server: dict[str, Any] = field(default_factory=dict)  # add_key overrides; "peer": "network"|"any"
    client: dict[str, Any] = field(default_factory=dict)
    alg_reported: str = "hmac(sha1)"


ACCEPTED = [
    # connect-deny.c "rcv id != snd id": the IDs are per direction
    Accepted("asymmetric-ids", server={"sndid": 200, "rcvid": 100}, client={"sndid": 100, "rcvid": 200}),
    Accepted("server-prefix-key", server={"peer": "network"}),
    Accepted("client-prefix-key", client={"peer": "network"}),
    Accepted("server-any-peer-key", server={"peer": "any"}),
    pytest.param(
        Accepted("cmac-aes128", server={"alg": "cmac(aes128)"}, client={"alg": "cmac(aes128)"}, alg_reported="cmac(aes)"),
        marks=NEEDS_CMAC, id="cmac-aes128",
    ),
    pytest.param(
        Accepted("hmac-sha256", server={"alg": "hmac(sha256)"}, client={"alg": "hmac(sha256)"},
                 alg_reported="hmac(sha256)"),
        marks=NEEDS_SHA256, id="hmac-sha256",
    ),
    Accepted("maclen-4", server={"maclen": 4}, client={"maclen": 4}),
    Accepted("maclen-16", server={"maclen": 16}, client={"maclen": 16}),
]


def key_args(pair, own: dict[str, Any], peer_addr) -> dict[str, Any]:
    args = {"peer": peer_addr, "key": KEY, "sndid": 100, "rcvid": 100}
    args.update(own)
    if args["peer"] == "network":
        args["peer"] = pair.network
    elif args["peer"] == "any":
        args["peer"] = ipaddress.ip_network(f"{pair.family.any}/0")
    elif args["peer"] == "wrong":
        args["peer"] = ipaddress.ip_address(WRONG_PEER[pair.family.version])
    return args


def add(sock, args: dict[str, Any]) -> None:
    args = dict(args)
    ao.add_key(sock, args.pop("peer"), args.pop("key"), args.pop("sndid"), args.pop("rcvid"), **args)


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.id)  # pytest.param ids win
def test_handshake_accepted(pair, sockets, case: Accepted):
    f = pair.family
    server_key = key_args(pair, case.server, pair.a_addr)
    client_key = key_args(pair, case.client, pair.b_addr)
    listener = sockets.listener(pair.b, f, setup=lambda s: add(s, server_key))
    client = sockets.tcp(pair.a, f)
    add(client, client_key)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    util.exchange(client, server)

    info = ao.get_info(client)
    assert info.pkt_good > 0 and info.pkt_bad == 0, info
    assert (info.current_key, info.rnext) == (client_key["sndid"], client_key["rcvid"])
    [key] = ao.get_keys(server)
    assert key.alg_name == case.alg_reported
    assert key.maclen == (server_key.get("maclen") or ao.DEFAULT_MACLEN)
    expected_peer = server_key["peer"]
    assert key.peer == ao.peer_network(expected_peer), "the accepted socket got another key than the listener's"
    assert ao.get_info(server).pkt_good > 0


@NEEDS_CMAC
def test_cmac_aes128_derives_a_16_byte_key(pair, sockets):
    """RFC 5926 KDF_AES_128_CMAC: a key that is not 16 bytes long is run
    through AES-CMAC with a zero key first; GET_KEYS shows the result."""
    sock = sockets.tcp(pair.a, pair.family)
    ao.add_key(sock, pair.b_addr, KEY, 1, 1, alg="cmac(aes128)")
    ao.add_key(sock, pair.b_addr, b"0123456789abcdef", 2, 2, alg="cmac(aes128)")
    keys = {k.sndid: k for k in ao.get_keys(sock)}
    assert keys[1].alg_name == "cmac(aes)" and len(keys[1].key) == 16 and keys[1].key != KEY[:16]
    assert keys[2].key == b"0123456789abcdef", "a 16-byte key must be used as is"


@dataclass(frozen=True)
class Rejected:
    id: str
    server: dict[str, Any] | None  # listener's key (None: no TCP-AO on the listener)
    client: dict[str, Any] | None  # client's key (None: unsigned client)
    mib_node: str  # where the drop is counted: "a" (client) or "b" (server)
    mib: str
    info_on: str | None = None  # "listener" / "client": socket whose TCP_AO_INFO counts it
    info: str | None = None
    reference: str = "connect-deny.c"


REJECTED = [
    Rejected("wrong-password", {"key": OTHER_KEY}, {}, "b", "TcpExtTCPAOBad", "listener", "pkt_bad"),
    Rejected("wrong-rcvid", {"rcvid": 101}, {}, "b", "TcpExtTCPAOKeyNotFound", "listener", "pkt_key_not_found"),
    Rejected("different-maclen", {"maclen": 8}, {}, "b", "TcpExtTCPAOBad", "listener", "pkt_bad"),
    Rejected("server-key-for-other-peer", {"peer": "wrong"}, {}, "b", "TcpExtTCPAOKeyNotFound", "listener",
             "pkt_key_not_found"),
    Rejected("unsigned-client", {}, None, "b", "TcpExtTCPAORequired", "listener", "pkt_ao_required"),
    Rejected("unsigned-server", None, {}, "b", "TcpExtTCPAOKeyNotFound"),
    # The SYN verifies (TCPAOGood) but asks, with RNextKeyID 100, for a SYN-ACK
    # signed with SendID 100, a key the server lacks: it sends no SYN-ACK at all
    # (tcp_make_synack(), trace event tcp_ao_synack_no_key).
    Rejected("wrong-sndid", {"sndid": 101}, {}, "b", "TcpExtTCPAOGood", "listener", "pkt_good"),
]


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: c.id)
def test_handshake_rejected(pair, sockets, case: Rejected):
    """Negative controls: the handshake stalls and the right counter moves."""
    f = pair.family
    nodes = {"a": pair.a, "b": pair.b}
    mib = MibDelta(nodes[case.mib_node])

    def setup(sock):
        if case.server is not None:
            add(sock, key_args(pair, case.server, pair.a_addr))

    listener = sockets.listener(pair.b, f, setup=setup)
    client = sockets.tcp(pair.a, f)
    if case.client is not None:
        add(client, key_args(pair, case.client, pair.b_addr))

    util.start_connect(client, f, pair.b_addr, util.port_of(listener))
    delta = mib.wait_for(case.mib)
    assert delta[case.mib] >= 1, f"{case.mib} did not move on {case.mib_node}: {delta}"
    if case.info_on is not None:
        sock = listener if case.info_on == "listener" else client
        info = util.wait_info(sock, case.info)
        assert getattr(info, case.info) >= 1, info
        others = {k for k in ("pkt_bad", "pkt_key_not_found", "pkt_ao_required") if k != case.info}
        assert {k: getattr(info, k) for k in others} == dict.fromkeys(others, 0), info
    util.assert_handshake_stalled(client, listener)
    if case.mib != "TcpExtTCPAORequired":
        assert delta["TcpExtTCPAORequired"] == 0, delta


def test_client_without_key_for_peer_cannot_connect(pair, sockets):
    """connect-deny.c "Client: Wrong addr": a socket with TCP-AO keys, none
    of them for the peer, is refused at connect() with EKEYREJECTED."""
    f = pair.family
    listener = sockets.listener(pair.b, f)
    client = sockets.tcp(pair.a, f)
    ao.add_key(client, ipaddress.ip_address(WRONG_PEER[f.version]), KEY, 100, 100)
    with pytest.raises(OSError) as exc:
        util.connect(client, f, pair.b_addr, util.port_of(listener))
    assert exc.value.errno == errno.EKEYREJECTED


def test_connect_keeps_only_keys_for_the_peer(pair, sockets):
    """key-management.c "connect() => established key matching": connect()
    drops the keys that do not match the peer and picks current/rnext
    among the others."""
    f = pair.family
    wrong = ipaddress.ip_address(WRONG_PEER[f.version])
    listener = sockets.listener(pair.b, f, setup=lambda s: ao.add_key(s, pair.a_addr, KEY, 7, 7))
    client = sockets.tcp(pair.a, f)
    ao.add_key(client, wrong, OTHER_KEY, 1, 1)
    ao.add_key(client, pair.b_addr, KEY, 7, 7)
    ao.add_key(client, ipaddress.ip_network(f"{wrong}/{f.max_prefix - 8}", strict=False), OTHER_KEY, 2, 2)
    assert len(ao.get_keys(client)) == 3
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    util.exchange(client, server, 1024)
    assert [(k.sndid, k.rcvid) for k in ao.get_keys(client)] == [(7, 7)]
    info = ao.get_info(client)
    assert (info.current_key, info.rnext) == (7, 7), info


@pytest.mark.parametrize("keyids", ["same", "different"])
def test_self_connect(topo, family, sockets, keyids):
    """self-connect.c: a socket connected to itself (simultaneous open on
    lo) signs and verifies its own segments. With keys 5/7 and 7/5 (same
    secret) it asks itself, by RNextKeyID, to change its current key, and
    settles where current SendID equals rnext RecvID."""
    node = topo["a"]
    lo = "127.0.0.1" if family.version == 4 else "::1"
    mib = MibDelta(node)
    sock = sockets.tcp(node, family)
    if keyids == "same":
        ao.add_key(sock, lo, KEY, 100, 100)
    else:
        ao.add_key(sock, lo, KEY, 5, 7)
        ao.add_key(sock, lo, KEY, 7, 5)
    sock.bind(family.sockaddr(lo, 0))
    util.connect(sock, family, lo, util.port_of(sock))
    util.pump(sock, sock, 64 << 10)
    info = ao.get_info(sock)
    assert info.pkt_good > 0 and info.pkt_bad == info.pkt_key_not_found == 0, info
    assert info.current_key == info.rnext, info
    assert mib.now()["TcpExtTCPAOGood"] > 0

"""TCP-MD5 (RFC 2385) next to TCP-AO: a peer is signed with one or the
other, never both, and each side drops what it does not expect.

Topology tcp-ao-pair (client a, server b); one test uses tcp-ao-star for a
listener serving an AO peer and an MD5 peer at once. Reference:
``unsigned-md5.c`` (on-wire cases, "TCP-AO/TCP-MD5 established: add ..."
and "key intersects" cases), ``setsockopt-closed.c`` ("ao required with
MD5 key"), ``connect-deny.c``.

Rules (net/ipv4/tcp_ao.c, tcp_ipv4.c, tcp_output.c): adding an AO key for a
peer that has an MD5 key, or an MD5 key for a peer that has an AO key (or
on an ao_required socket), fails with EKEYREJECTED; so does ao_required on
a socket with MD5 keys; connect() refuses (EKEYREJECTED) a socket that
has both kinds matching the peer; the first TCP-AO option on an
established socket that has no TCP-AO yet fails with EISCONN.
"""

from __future__ import annotations

import errno

import pytest

from suitelib import tcp_ao as ao
from suitelib import tcp_ao_util as util
from suitelib.tcp_ao_util import MibDelta

pytestmark = [
    pytest.mark.topology("tcp-ao-pair"),
    pytest.mark.requires(kconfig=["TCP_MD5SIG"], tools=["nstat"]),
]

AO_KEY = b"the TCP-AO key"
MD5_KEY = b"Some evil genius, enemy to mankind, must have been the first contriver."


def failures(delta: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in delta.items() if v and k != "TcpExtTCPAOGood"}


def test_md5_connection_carries_data(pair, sockets):
    """Positive control of set_md5_key(): MD5 on both sides works, and moves no AO counter."""
    f = pair.family
    mib_b = MibDelta(pair.b)
    listener = sockets.listener(pair.b, f, setup=lambda s: ao.set_md5_key(s, pair.a_addr, MD5_KEY))
    client = sockets.tcp(pair.a, f)
    ao.set_md5_key(client, pair.b_addr, MD5_KEY)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    util.exchange(client, server)
    assert failures(mib_b.now()) == {}
    assert mib_b.now()["TcpExtTCPAOGood"] == 0
    with pytest.raises(OSError) as exc:
        ao.get_info(server)
    assert exc.value.errno == errno.ENOENT


def test_md5_prefix_key_on_listener(pair, sockets):
    """TCP_MD5SIG_EXT with TCP_MD5SIG_FLAG_PREFIX: a subnet key on the listener."""
    f = pair.family
    listener = sockets.listener(pair.b, f, setup=lambda s: ao.set_md5_key(s, pair.network, MD5_KEY))
    client = sockets.tcp(pair.a, f)
    ao.set_md5_key(client, pair.b_addr, MD5_KEY)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    util.exchange(client, server, 4096)


# (id, listener's signing, client's signing, counter on b)
ON_WIRE = [
    ("ao-server-md5-client", "ao", "md5", "TcpExtTCPMD5Unexpected"),
    ("md5-server-ao-client", "md5", "ao", "TcpExtTCPAOKeyNotFound"),
    ("unsigned-server-md5-client", None, "md5", "TcpExtTCPMD5Unexpected"),
    ("md5-server-unsigned-client", "md5", None, "TcpExtTCPMD5NotFound"),
    ("md5-wrong-password", "md5", "md5-other", "TcpExtTCPMD5Failure"),
]


def sign(sock, how: str | None, peer) -> None:
    if how == "ao":
        ao.add_key(sock, peer, AO_KEY, 100, 100)
    elif how == "md5":
        ao.set_md5_key(sock, peer, MD5_KEY)
    elif how == "md5-other":
        ao.set_md5_key(sock, peer, b"another MD5 password")


@pytest.mark.parametrize("case, server, client, counter", ON_WIRE, ids=[c[0] for c in ON_WIRE])
def test_signature_mismatch_is_dropped(pair, sockets, case, server, client, counter):
    f = pair.family
    mib_b = MibDelta(pair.b)
    listener = sockets.listener(pair.b, f, setup=lambda s: sign(s, server, pair.a_addr))
    sock = sockets.tcp(pair.a, f)
    sign(sock, client, pair.b_addr)
    util.start_connect(sock, f, pair.b_addr, util.port_of(listener))
    delta = mib_b.wait_for(counter)
    assert delta[counter] >= 1, delta
    util.assert_handshake_stalled(sock, listener)
    assert set(failures(delta)) == {counter}, delta


@pytest.mark.parametrize("first", ["md5", "ao"])
def test_ao_and_md5_keys_for_same_peer_exclude_each_other(pair, sockets, first):
    sock = sockets.tcp(pair.a, pair.family)
    if first == "md5":
        ao.set_md5_key(sock, pair.b_addr, MD5_KEY)
        with pytest.raises(OSError) as exc:
            ao.add_key(sock, pair.b_addr, AO_KEY, 100, 100)
    else:
        ao.add_key(sock, pair.b_addr, AO_KEY, 100, 100)
        with pytest.raises(OSError) as exc:
            ao.set_md5_key(sock, pair.b_addr, MD5_KEY)
    assert exc.value.errno == errno.EKEYREJECTED


def test_ao_required_and_md5_exclude_each_other(pair, sockets):
    """setsockopt-closed.c "ao required with MD5 key", unsigned-md5.c
    "TCP-AO required on socket + TCP-MD5 key": either order is refused."""
    f = pair.family
    with_md5 = sockets.tcp(pair.a, f)
    ao.set_md5_key(with_md5, pair.b_addr, MD5_KEY)
    with pytest.raises(OSError) as exc:
        ao.set_info(with_md5, ao_required=True)
    assert exc.value.errno == errno.EKEYREJECTED

    required = sockets.tcp(pair.a, f)
    ao.set_info(required, ao_required=True)
    with pytest.raises(OSError) as exc:
        ao.set_md5_key(required, pair.b_addr, MD5_KEY)  # any peer: ao_required covers all
    assert exc.value.errno == errno.EKEYREJECTED


def test_keys_for_different_peers_coexist(pair, sockets):
    sock = sockets.tcp(pair.a, pair.family)
    ao.set_md5_key(sock, pair.b_addr, MD5_KEY)
    other = "10.0.253.1" if pair.family.version == 4 else "2001:db8:253::1"
    ao.add_key(sock, other, AO_KEY, 100, 100)
    assert [str(k.peer.network_address) for k in ao.get_keys(sock)] == [other]


@pytest.mark.parametrize("md5_on", ["host", "subnet"])
def test_connect_refuses_md5_and_ao_both_matching(pair, sockets, md5_on):
    """A host key and a subnet key do not "intersect" for the setsockopt()
    checks (they compare the new key's address only), so one socket can
    end up with an MD5 and an AO key that both match the peer. connect()
    then refuses with EKEYREJECTED (tcp_connect(): needs_md5 && needs_ao)."""
    f = pair.family
    listener = sockets.listener(pair.b, f)
    sock = sockets.tcp(pair.a, f)
    if md5_on == "host":
        ao.set_md5_key(sock, pair.b_addr, MD5_KEY)
        ao.add_key(sock, pair.network, AO_KEY, 100, 100)
    else:
        ao.add_key(sock, pair.b_addr, AO_KEY, 100, 100)
        ao.set_md5_key(sock, pair.network, MD5_KEY)
    with pytest.raises(OSError) as exc:
        util.connect(sock, f, pair.b_addr, util.port_of(listener))
    assert exc.value.errno == errno.EKEYREJECTED


def test_ao_connection_refuses_md5_key(pair, sockets):
    """unsigned-md5.c "TCP-AO established: add TCP-MD5 key"."""
    f = pair.family
    listener = sockets.listener(pair.b, f, setup=lambda s: ao.add_key(s, pair.a_addr, AO_KEY, 100, 100))
    client = sockets.tcp(pair.a, f)
    ao.add_key(client, pair.b_addr, AO_KEY, 100, 100)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    for sock, peer in ((client, pair.b_addr), (server, pair.a_addr)):
        with pytest.raises(OSError) as exc:
            ao.set_md5_key(sock, peer, MD5_KEY)
        assert exc.value.errno == errno.EKEYREJECTED
    util.exchange(client, server, 4096)


@pytest.mark.parametrize("signing", ["md5", None], ids=["md5-connection", "unsigned-connection"])
def test_established_connection_refuses_first_ao_key(pair, sockets, signing):
    """unsigned-md5.c "TCP-MD5 established: add TCP-AO key", "non-signed
    established: add TCP-AO key": TCP-AO is decided at the SYN (RFC 5925
    7.4.1), so an established socket without it refuses AO options
    (EISCONN, from do_tcp_setsockopt()), TCP_AO_INFO included."""
    f = pair.family
    listener = sockets.listener(pair.b, f, setup=lambda s: sign(s, signing, pair.a_addr))
    client = sockets.tcp(pair.a, f)
    sign(client, signing, pair.b_addr)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    for sock, peer in ((client, pair.b_addr), (server, pair.a_addr)):
        with pytest.raises(OSError) as exc:
            ao.add_key(sock, peer, AO_KEY, 100, 100)
        assert exc.value.errno == errno.EISCONN
        with pytest.raises(OSError) as exc:
            ao.set_info(sock, ao_required=True)
        assert exc.value.errno == errno.EISCONN
    util.exchange(client, server, 4096)


@pytest.mark.topology("tcp-ao-star")
def test_listener_serves_ao_and_md5_peers(topo, family, sockets):
    """unsigned-md5.c "AO+MD5 server": MD5 for one peer, AO for another,
    on one listener; each peer connects with its own kind of signature."""
    s, c1, c2 = topo["s"], topo["c1"], topo["c2"]
    s1, s2 = util.address(s, "eth1", family.version), util.address(s, "eth2", family.version)
    c1_addr, c2_addr = util.address(c1, "eth0", family.version), util.address(c2, "eth0", family.version)

    def setup(sock):
        ao.add_key(sock, c1_addr, AO_KEY, 100, 100)
        ao.set_md5_key(sock, c2_addr, MD5_KEY)

    listener = sockets.listener(s, family, setup=setup)
    ao_client = sockets.tcp(c1, family)
    ao.add_key(ao_client, s1, AO_KEY, 100, 100)
    md5_client = sockets.tcp(c2, family)
    ao.set_md5_key(md5_client, s2, MD5_KEY)
    for client, dst in ((ao_client, s1), (md5_client, s2)):
        server = util.connect_pair(sockets, family, client, listener, dst)
        util.exchange(client, server, 4096)
    assert ao.get_info(ao_client).pkt_good > 0
    with pytest.raises(OSError) as exc:
        ao.get_info(md5_client)
    assert exc.value.errno == errno.ENOENT


# unsigned-md5.c client_vrf_tests(): which (TCP-AO key, TCP-MD5 key) pairs for
# one peer may coexist, by the L3 domain each is bound to: "none" (no
# IFINDEX flag: any VRF), "default" (flag, ifindex 0) or "vrf" (flag, a VRF).
VRF_ALLOWED = {("default", "vrf"), ("vrf", "default")}  # (AO, MD5); every other pair is refused


@pytest.mark.requires(kconfig=["NET_VRF"], tools=["ip"])
def test_md5_ao_exclusion_across_vrfs(pair, sockets):
    """All 18 cases of the selftest's table (9 pairs, each in both orders)
    run here on fresh sockets; mismatches are reported together."""
    f = pair.family
    pair.a.run(["ip", "link", "add", "vrf-ao", "type", "vrf", "table", "42"])
    vrf = pair.a.link("vrf-ao")["index"]
    ao_args = {"none": {}, "default": {"ifindex": 0, "keyflags": ao.TCP_AO_KEYF_IFINDEX}, "vrf": {"ifindex": vrf}}
    md5_args = {"none": {"l3flag": False}, "default": {"l3flag": True}, "vrf": {"ifindex": vrf}}

    def add_ao(sock, kind):
        ao.add_key(sock, pair.b_addr, AO_KEY, 100, 100, **ao_args[kind])

    def add_md5(sock, kind):
        ao.set_md5_key(sock, pair.b_addr, MD5_KEY, **md5_args[kind])

    wrong = []
    for ao_kind in ao_args:
        for md5_kind in md5_args:
            allowed = (ao_kind, md5_kind) in VRF_ALLOWED
            for order in ("ao-first", "md5-first"):
                sock = sockets.tcp(pair.a, f)
                first, second = (add_ao, add_md5) if order == "ao-first" else (add_md5, add_ao)
                kinds = (ao_kind, md5_kind) if order == "ao-first" else (md5_kind, ao_kind)
                first(sock, kinds[0])
                try:
                    second(sock, kinds[1])
                    outcome = "allowed"
                except OSError as exc:
                    outcome = "refused" if exc.errno == errno.EKEYREJECTED else errno.errorcode[exc.errno]
                if outcome != ("allowed" if allowed else "refused"):
                    wrong.append(f"AO key ({ao_kind}) + MD5 key ({md5_kind}), {order}: {outcome}")
                sock.close()
    assert wrong == []

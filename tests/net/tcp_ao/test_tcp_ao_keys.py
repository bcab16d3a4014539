"""TCP-AO key management: rollover on a live connection (RFC 5925 section
3.3: RNextKeyID asks the peer to switch), deleting keys in use, and the
rules for current/rnext keys on closed, listening and established sockets.

Topology tcp-ao-pair. Reference: kernel selftest
``tools/testing/selftests/net/tcp_ao/key-management.c``.

How the kernel moves keys: every segment carries KeyID (the SendID of the
sender's current key) and RNextKeyID (the RecvID of its rnext key). A
receiver whose current key's SendID differs from the RNextKeyID it sees
switches its current key to the key with that SendID. So setting rnext on
one side moves the *other* side's current key, once a segment got through.
"""

from __future__ import annotations

import errno
import ipaddress

import pytest

from suitelib import tcp_ao as ao
from suitelib import tcp_ao_util as util
from suitelib.tcp_ao_util import MibDelta

pytestmark = [pytest.mark.topology("tcp-ao-pair"), pytest.mark.requires(tools=["nstat"])]

OLD = b"the key of last year"
NEW = b"the key of this year"
WRONG_PEER = {4: "10.0.253.1", 6: "2001:db8:253::1"}


def keyids(sock) -> tuple[int | None, int | None]:
    info = ao.get_info(sock)
    return info.current_key, info.rnext


def connected(pair, sockets, keys: list[tuple[bytes, int, int]]):
    """A connection whose both ends have ``keys`` [(key, sndid, rcvid)] as
    seen from the client (the server gets them with the ids swapped); the
    first key is current and rnext on both ends."""
    f = pair.family

    def setup(listener):
        for key, sndid, rcvid in keys:
            ao.add_key(listener, pair.a_addr, key, rcvid, sndid)

    listener = sockets.listener(pair.b, f, setup=setup)
    client = sockets.tcp(pair.a, f)
    for i, (key, sndid, rcvid) in enumerate(keys):
        ao.add_key(client, pair.b_addr, key, sndid, rcvid, set_current=i == 0, set_rnext=i == 0)
    server = util.connect_pair(sockets, f, client, listener, pair.b_addr)
    util.exchange(client, server, 1024)
    return client, server


def test_key_rollover_on_live_connection(pair, sockets):
    mib_a, mib_b = MibDelta(pair.a), MibDelta(pair.b)
    client, server = connected(pair, sockets, [(OLD, 1, 1)])
    assert keyids(client) == keyids(server) == (1, 1)

    # Both sides learn the new key; nothing changes on the wire yet.
    ao.add_key(client, pair.b_addr, NEW, 2, 2)
    ao.add_key(server, pair.a_addr, NEW, 2, 2)
    util.exchange(client, server)
    assert keyids(client) == keyids(server) == (1, 1)

    # The client asks for key 2 (RNextKeyID=2): the server starts sending with it.
    ao.set_info(client, rnext=2)
    util.exchange(client, server)
    assert keyids(server) == (2, 1), "the server did not switch its current key on the client's RNextKeyID"
    assert keyids(client) == (1, 2), "the client must keep sending with key 1 until asked"

    # The server asks likewise: now both send and expect key 2.
    ao.set_info(server, rnext=2)
    util.exchange(client, server)
    assert keyids(client) == keyids(server) == (2, 2)
    new_good = {k.sndid: k.pkt_good for k in ao.get_keys(client)}[2]

    # The old key can go, and traffic continues on the new one.
    ao.del_key(client, pair.b_addr, 1, 1)
    ao.del_key(server, pair.a_addr, 1, 1)
    util.exchange(client, server)
    for sock, peer in ((client, pair.b_addr), (server, pair.a_addr)):
        [key] = ao.get_keys(sock)
        assert (key.sndid, key.rcvid, key.key) == (2, 2, NEW)
        assert key.peer == ipaddress.ip_network(peer)
        assert key.is_current and key.is_rnext
    assert {k.sndid: k.pkt_good for k in ao.get_keys(client)}[2] > new_good
    assert ao.get_info(client).pkt_bad == ao.get_info(server).pkt_bad == 0
    for delta in (mib_a.now(), mib_b.now()):
        assert delta["TcpExtTCPAOBad"] == delta["TcpExtTCPAOKeyNotFound"] == delta["TcpExtTCPAORequired"] == 0, delta


def test_rotate_over_several_keys(pair, sockets):
    """key-management.c "Rotate over all different keys": the client asks
    for each key in turn and the server follows every time."""
    keys = [(f"key number {i}".encode(), 10 + i, 20 + i) for i in range(4)]
    client, server = connected(pair, sockets, keys)
    for i in [1, 2, 3, 0, 2]:
        _key, _sndid, rcvid = keys[i]
        before = {k.rcvid: k.pkt_good for k in ao.get_keys(client)}[rcvid]
        ao.set_info(client, rnext=rcvid)
        util.exchange(client, server, 4096)
        # The server's SendID is the client's RecvID.
        assert ao.get_info(server).current_key == rcvid, f"rotation to key {i}"
        [current] = ao.get_keys(server, is_current=True)
        assert current.sndid == rcvid
        # Per-key counters count received segments: the client verified
        # segments signed with the key it asked for.
        assert {k.rcvid: k.pkt_good for k in ao.get_keys(client)}[rcvid] > before, f"rotation to key {i}"
    assert ao.get_info(client).pkt_bad == ao.get_info(server).pkt_bad == 0


def test_current_key_flaps_back_on_peer_rnext(pair, sockets):
    """key-management.c "current flapping back": setting our current key
    alone is undone as soon as the peer's RNextKeyID asks for the old one."""
    client, server = connected(pair, sockets, [(OLD, 1, 1), (NEW, 2, 2)])
    ao.set_info(client, current_key=2)
    assert keyids(client) == (2, 1)
    util.exchange(client, server)
    assert keyids(client) == (1, 1), "the peer's RNextKeyID=1 must bring the current key back"
    assert {k.sndid: k.pkt_good for k in ao.get_keys(server)}[1] > 0
    assert ao.get_info(server).pkt_bad == 0


def test_keys_in_use_cannot_be_deleted(pair, sockets):
    client, server = connected(pair, sockets, [(OLD, 1, 1), (NEW, 2, 2)])
    for sock, peer in ((client, pair.b_addr), (server, pair.a_addr)):
        with pytest.raises(OSError) as exc:
            ao.del_key(sock, peer, 1, 1)
        assert exc.value.errno == errno.EBUSY, "deleted the current/rnext key of a connection"
    # ... unless the same call names replacements (force-delete).
    ao.del_key(client, pair.b_addr, 1, 1, current_key=2, rnext=2)
    assert keyids(client) == (2, 2)
    assert [k.sndid for k in ao.get_keys(client)] == [2]
    # The server still sends with key 1, which the client no longer has:
    # its segments are now dropped as key-not-found. Switch it too.
    ao.del_key(server, pair.a_addr, 1, 1, current_key=2, rnext=2)
    util.exchange(client, server)
    assert ao.get_info(client).pkt_good > 0


def test_established_socket_refuses_key_for_other_peer(pair, sockets):
    """key-management.c: "Can't add a key with non-matching ip-address for established sk"."""
    client, _server = connected(pair, sockets, [(OLD, 1, 1)])
    with pytest.raises(OSError) as exc:
        ao.add_key(client, ipaddress.ip_address(WRONG_PEER[pair.family.version]), NEW, 2, 2)
    assert exc.value.errno == errno.EINVAL
    ao.add_key(client, pair.network, NEW, 3, 3)  # a prefix that covers the peer is fine


def test_closed_socket_current_and_rnext(pair, sockets):
    """key-management.c check_closed_socket(): before connect(), current and
    rnext can be set, and keys holding those roles cannot be deleted."""
    sock = sockets.tcp(pair.a, pair.family)
    peer = pair.b_addr
    ao.add_key(sock, peer, OLD, 100, 100)
    ao.add_key(sock, peer, NEW, 200, 200)
    ao.set_info(sock, current_key=100, rnext=200)
    assert keyids(sock) == (100, 200)
    for sndid in (100, 200):
        with pytest.raises(OSError) as exc:
            ao.del_key(sock, peer, sndid, sndid)
        assert exc.value.errno == errno.EBUSY
    ao.add_key(sock, peer, b"third", 10, 11)
    ao.add_key(sock, peer, b"fourth", 12, 13)
    ao.del_key(sock, peer, 100, 100, current_key=10, rnext=13)  # delete + set current/rnext
    assert keyids(sock) == (10, 13)
    ao.add_key(sock, peer, b"fifth", 20, 21, set_current=True)  # add + change current
    assert keyids(sock) == (20, 13)
    ao.add_key(sock, peer, b"sixth", 30, 31, set_rnext=True)  # add + change rnext
    assert keyids(sock) == (20, 31)
    with pytest.raises(OSError) as exc:
        ao.set_info(sock, current_key=99)
    assert exc.value.errno == errno.ENOENT


def test_listen_socket_has_no_current_or_rnext(pair, sockets):
    """key-management.c check_listen_socket(): a listener has keys but no
    current/rnext (EINVAL), and deletes keys freely, also asynchronously."""
    f = pair.family

    def setup(sock):
        ao.add_key(sock, pair.a_addr, OLD, 100, 100)
        ao.add_key(sock, pair.a_addr, NEW, 200, 200)

    listener = sockets.listener(pair.b, f, setup=setup)
    info = ao.get_info(listener)
    assert (info.current_key, info.rnext) == (None, None)
    for kwargs in ({"current_key": 100}, {"rnext": 200}):
        with pytest.raises(OSError) as exc:
            ao.set_info(listener, **kwargs)
        assert exc.value.errno == errno.EINVAL
    with pytest.raises(OSError) as exc:
        ao.add_key(listener, pair.a_addr, b"third", 1, 1, set_current=True)
    assert exc.value.errno == errno.EINVAL
    ao.del_key(listener, pair.a_addr, 200, 200, del_async=True)
    ao.del_key(listener, pair.a_addr, 100, 100)
    assert ao.get_keys(listener) == []

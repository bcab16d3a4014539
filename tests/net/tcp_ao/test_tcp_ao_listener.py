"""A listener with TCP-AO keys for several peer prefixes, and ao_required.

Topology tcp-ao-star: server s with one link each to c1 (10.0.1.0/24,
2001:db8:1::/64), c2 (10.0.2.0/24, 2001:db8:2::/64) and c3 (10.0.3.0/24,
2001:db8:3::/64). The listener holds one key for c1's subnet and another
for c2's, both with KeyIDs 1/1: IDs may repeat across non-overlapping
prefixes (RFC 5925 section 3.1 forbids overlap only where connection
identifiers overlap). c3's subnet has no key.

References: ``connect-deny.c`` (prefix match, wrong address),
``unsigned-md5.c`` ("no sign client (unmatched)", "AO_REQUIRED" cases).
"""

from __future__ import annotations

import errno
import ipaddress

import pytest

from suitelib import tcp_ao as ao
from suitelib import tcp_ao_util as util
from suitelib.tcp_ao_util import MibDelta

pytestmark = [pytest.mark.topology("tcp-ao-star"), pytest.mark.requires(tools=["nstat"])]

KEYS = {"c1": b"key for the first subnet", "c2": b"key for the second subnet"}
LINK = {"c1": "eth1", "c2": "eth2", "c3": "eth3"}  # s's interface towards each client


def subnet(topo, family, client: str):
    return util.interface(topo["s"], LINK[client], family.version).network


def server_addr(topo, family, client: str):
    return util.address(topo["s"], LINK[client], family.version)


def prefix_listener(topo, family, sockets, *, ao_required: bool = False):
    def setup(sock):
        for name, key in KEYS.items():
            ao.add_key(sock, subnet(topo, family, name), key, 1, 1)
        if ao_required:
            ao.set_info(sock, ao_required=True)

    return sockets.listener(topo["s"], family, setup=setup)


def client_for(topo, family, sockets, name: str, key: bytes | None):
    sock = sockets.tcp(topo[name], family)
    if key is not None:
        ao.add_key(sock, server_addr(topo, family, name), key, 1, 1)
    return sock


def test_each_peer_gets_its_prefix_key(topo, family, sockets):
    listener = prefix_listener(topo, family, sockets)
    assert {k.peer for k in ao.get_keys(listener)} == {subnet(topo, family, n) for n in KEYS}
    for name, key in KEYS.items():
        client = client_for(topo, family, sockets, name, key)
        server = util.connect_pair(sockets, family, client, listener, server_addr(topo, family, name))
        util.exchange(client, server, 4096)
        [child_key] = ao.get_keys(server)
        assert child_key.peer == subnet(topo, family, name), f"{name}: the accepted socket got the wrong key"
        assert child_key.key == key and child_key.is_current and child_key.is_rnext
        assert ao.get_info(server).pkt_good > 0


def test_get_keys_filters_by_peer_and_ids(topo, family, sockets):
    listener = prefix_listener(topo, family, sockets)
    for name, expected in KEYS.items():
        [key] = ao.get_keys(listener, peer=subnet(topo, family, name), sndid=1, rcvid=1)
        assert key.key == expected
    assert ao.get_keys(listener, peer=subnet(topo, family, "c1"), sndid=1, rcvid=2) == []
    assert ao.get_keys(listener, peer=subnet(topo, family, "c3"), sndid=1, rcvid=1) == []


@pytest.mark.parametrize(
    "name, key, mib, info",
    [
        ("c2", KEYS["c1"], "TcpExtTCPAOBad", "pkt_bad"),  # a key, but the other prefix's
        ("c3", KEYS["c1"], "TcpExtTCPAOKeyNotFound", "pkt_key_not_found"),  # no key for c3's prefix
    ],
    ids=["other-prefix-key", "no-key-for-prefix"],
)
def test_peer_without_its_key_is_rejected(topo, family, sockets, name, key, mib, info):
    s_mib = MibDelta(topo["s"])
    listener = prefix_listener(topo, family, sockets)
    client = client_for(topo, family, sockets, name, key)
    util.start_connect(client, family, server_addr(topo, family, name), util.port_of(listener))
    assert s_mib.wait_for(mib)[mib] >= 1
    assert getattr(util.wait_info(listener, info), info) >= 1
    util.assert_handshake_stalled(client, listener)


def test_unsigned_peer_outside_key_prefixes_is_accepted(topo, family, sockets):
    """unsigned-md5.c "no sign client (unmatched)": without ao_required,
    TCP-AO applies only to peers some key matches."""
    listener = prefix_listener(topo, family, sockets)
    client = client_for(topo, family, sockets, "c3", None)
    server = util.connect_pair(sockets, family, client, listener, server_addr(topo, family, "c3"))
    util.exchange(client, server, 4096)
    with pytest.raises(OSError) as exc:
        ao.get_keys(server)
    assert exc.value.errno == errno.ENOENT, "an unsigned connection must not carry TCP-AO state"


@pytest.mark.parametrize("name", ["c1", "c3"], ids=["peer-with-key", "peer-without-key"])
def test_ao_required_rejects_unsigned_peers(topo, family, sockets, name):
    """With ao_required, unsigned SYNs are dropped and counted as TCPAORequired
    (for a peer without a key too); signed peers still connect."""
    s_mib = MibDelta(topo["s"])
    listener = prefix_listener(topo, family, sockets, ao_required=True)
    assert ao.get_info(listener).ao_required
    client = client_for(topo, family, sockets, name, None)
    util.start_connect(client, family, server_addr(topo, family, name), util.port_of(listener))
    assert s_mib.wait_for("TcpExtTCPAORequired")["TcpExtTCPAORequired"] >= 1
    assert util.wait_info(listener, "pkt_ao_required").pkt_ao_required >= 1
    util.assert_handshake_stalled(client, listener)

    signed = client_for(topo, family, sockets, "c2", KEYS["c2"])
    server = util.connect_pair(sockets, family, signed, listener, server_addr(topo, family, "c2"))
    util.exchange(signed, server, 4096)
    assert ao.get_info(server).ao_required, "the accepted socket must inherit ao_required"


def test_ao_required_listener_without_keys(topo, family, sockets):
    """TCP_AO_INFO alone (no key) makes a socket TCP-AO: every unsigned peer is refused."""
    s_mib = MibDelta(topo["s"])
    listener = sockets.listener(topo["s"], family, setup=lambda s: ao.set_info(s, ao_required=True))
    assert ao.get_keys(listener) == []
    client = client_for(topo, family, sockets, "c1", None)
    util.start_connect(client, family, server_addr(topo, family, "c1"), util.port_of(listener))
    assert s_mib.wait_for("TcpExtTCPAORequired")["TcpExtTCPAORequired"] >= 1
    util.assert_handshake_stalled(client, listener)


def test_same_ids_on_overlapping_prefixes_are_refused(topo, family, sockets):
    """RFC 5925 3.1, setsockopt-closed.c duplicate tests: IDs must not repeat
    where peers overlap (a host inside a keyed subnet)."""
    listener = prefix_listener(topo, family, sockets)
    host = server_addr(topo, family, "c1")  # any address inside c1's subnet
    inside = ipaddress.ip_network(f"{host}/{family.max_prefix}")
    for sndid, rcvid in ((1, 9), (9, 1)):
        with pytest.raises(OSError) as exc:
            ao.add_key(listener, inside, b"x", sndid, rcvid)
        assert exc.value.errno == errno.EEXIST
    ao.add_key(listener, inside, b"x", 9, 9)

"""netdevsim peering (``link_device``): two ports in different namespaces
joined by netdevsim's software "wire", as the topology's ``kind: netdevsim``
link builds them.

Reference: drivers/net/netdevsim/peer.sh (link refusals, a transfer across
the pair, unlink). The bus files take ``netnsfd:ifindex`` pairs, the fds
being the writer's own: the test process holds an fd of each node's
namespace (``node.handle.fd``), so it writes them directly.

Topology offloads-peer: sv/np0 192.0.2.1/24 and cl/np0 192.0.2.2/24, peered.
"""

from __future__ import annotations

import errno
import itertools

import pytest

from harness.topology.live import LiveNode

from suitelib.kernel_files import write_errno
from suitelib.netdevsim import BUS
from suitelib.transfer import exchange

pytestmark = pytest.mark.topology("offloads-peer")

LINK = BUS / "link_device"
SERVER = "192.0.2.1"
_ports = itertools.count(5500)


def end(node: LiveNode, ifname: str = "np0") -> str:
    """``netnsfd:ifindex`` of a node's interface, as the bus files take it."""
    return f"{node.handle.fd}:{node.link(ifname)['index']}"


def transfer_ok(topo, size: int = 256 * 1024, timeout: float = 30.0) -> bool:
    """A TCP transfer cl -> sv (and back) over the pair; True if it completed intact."""
    port = next(_ports)
    listener = topo["sv"].socket()
    listener.bind((SERVER, port))
    listener.listen(1)
    try:
        result = exchange(listener, topo["cl"].socket(), (SERVER, port), size, timeout=timeout)
    except (OSError, AssertionError):
        return False
    finally:
        listener.close()
    return result.content_ok


def test_peered_ports_carry_a_checksummed_transfer(topo):
    assert transfer_ok(topo)


def test_linking_an_already_linked_port_is_busy(topo):
    sv, cl = topo["sv"], topo["cl"]
    assert write_errno(LINK, f"{end(sv)} {end(cl)}") == errno.EBUSY
    assert transfer_ok(topo)  # the existing link is untouched

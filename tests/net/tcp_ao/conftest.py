"""Fixtures of the TCP-AO suite.

- ``family``: parametrizes a test over IPv4 and IPv6 (ids ``ipv4``/``ipv6``).
- ``sockets``: a :class:`suitelib.tcp_ao_util.Sockets` whose every
  socket is closed when the test ends.
- ``pair``: the addresses of topology ``tcp-ao-pair`` (client a, server b)
  in the test's family.

Tests in this suite are plain socket code in one process: the server side
is a listener in node b, the client a socket in node a; sockets stay in the
namespace they were created in, so no threads or helper processes are
needed (transfers use non-blocking sockets under select()).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from suitelib import tcp_ao_util as util
from suitelib.tcp_ao_pair import Pair


@pytest.fixture(params=util.FAMILIES, ids=lambda f: f.name)
def family(request: pytest.FixtureRequest) -> util.Family:
    return request.param


@pytest.fixture
def sockets() -> Iterator[util.Sockets]:
    with contextlib.ExitStack() as stack:
        yield util.Sockets(stack)


@pytest.fixture
def pair(topo, family: util.Family) -> Pair:
    a, b = topo["a"], topo["b"]
    return Pair(
        a=a, b=b, family=family,
        a_addr=util.address(a, "eth0", family.version),
        b_addr=util.address(b, "eth0", family.version),
    )

"""Validation of the TCP-AO socket options: every malformed request fails
with the errno the kernel documents in code, and the well-formed variants
next to them succeed (each refusal has its acceptance as control).

Reference: ``setsockopt-closed.c`` (einval, duplicate and extend tests),
``key-management.c`` (TCP_AO_REPAIR on listeners), net/ipv4/tcp_ao.c.

These need sockets only, no traffic: one tcp-ao-pair topology serves the
whole module (its node a's namespace; peer address = b's), which keeps the
~100 cases fast in a TCG guest. ``test_optmem_limit`` changes a sysctl
and builds its own topology.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from suitelib import tcp_ao as ao
from suitelib import tcp_ao_util as util

# One pair for the whole module: socket options change no link, address,
# route or sysctl, and the plugin checks that after every test.
pytestmark = pytest.mark.topology("tcp-ao-pair", scope="module")

KEY = b"setsockopt test key"


@dataclass
class Env:
    node: Any
    family: util.Family
    sockets: util.Sockets
    peer: Any  # b's address: the peer of every key
    local: Any  # a's own address

    def sock(self) -> socket.socket:
        return self.sockets.tcp(self.node, self.family)

    def listen(self, sock: socket.socket) -> socket.socket:
        sock.bind(self.family.sockaddr(self.family.any, 0))
        sock.listen(1)
        return sock

    def add(self, sock: socket.socket, sndid: int = 100, rcvid: int = 100, **kwargs: Any) -> None:
        ao.add_key(sock, self.peer, KEY, sndid, rcvid, **kwargs)

    def add_cmd(self, **kwargs: Any) -> ao.TcpAoAdd:
        return ao.ao_add_struct(self.family.af, self.peer, KEY, 100, 100, **kwargs)

    def del_cmd(self, **kwargs: Any) -> ao.TcpAoDel:
        return ao.ao_del_struct(self.family.af, self.peer, 100, 100, **kwargs)

    def keyed(self) -> socket.socket:
        sock = self.sock()
        self.add(sock)
        return sock


@pytest.fixture
def env(topo, family, sockets) -> Env:
    a, b = topo["a"], topo["b"]
    return Env(
        node=a, family=family, sockets=sockets,
        peer=util.address(b, "eth0", family.version), local=util.address(a, "eth0", family.version),
    )


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[Env], Any]
    errno: int  # 0: must succeed

    def __str__(self) -> str:
        return self.id


def check(env: Env, case: Case) -> None:
    if case.errno == 0:
        case.run(env)
        return
    with pytest.raises(OSError) as exc:
        case.run(env)
    assert exc.value.errno == case.errno, (
        f"{case.id}: got {errno.errorcode.get(exc.value.errno, exc.value.errno)}, "
        f"expected {errno.errorcode[case.errno]}"
    )


def setopt(sock: socket.socket, optname: int, cmd: ctypes.Structure, optlen: int | None = None) -> None:
    ao.setsockopt_struct(sock, optname, cmd, optlen)


def mutated(make: Callable[[Env], ctypes.Structure], **fields: Any) -> Callable[[Env], ctypes.Structure]:
    def build(env: Env) -> ctypes.Structure:
        cmd = make(env)
        for name, value in fields.items():
            setattr(cmd, name, value(env) if callable(value) else value)
        return cmd

    return build


def add_case(id: str, err: int, listen: bool = False, **fields: Any) -> Case:
    """TCP_AO_ADD_KEY with the default key's struct, ``fields`` overwritten."""
    build = mutated(lambda env: env.add_cmd(), **fields)

    def run(env: Env) -> None:
        sock = env.sock()
        if listen:
            env.listen(sock)
        setopt(sock, ao.TCP_AO_ADD_KEY, build(env))

    return Case(id, run, err)


def any_addr(env: Env) -> ao.SockaddrStorage:
    return ao.pack_sockaddr(env.family.af, env.family.any)


ADD_CASES = [
    add_case("default-key", 0),
    add_case("keylen-too-big", errno.EINVAL, keylen=ao.TCP_AO_MAXKEYLEN + 1),
    add_case("keylen-max", 0, keylen=ao.TCP_AO_MAXKEYLEN),
    add_case("reserved-bits", errno.EINVAL, reserved=1),
    add_case("reserved2", errno.EINVAL, reserved2=1),
    add_case("wrong-address-family", errno.EINVAL, addr=lambda env: ao.pack_sockaddr(
        socket.AF_INET6 if env.family.version == 4 else socket.AF_INET, "10.0.1.2")),
    add_case("port-set", errno.EINVAL, addr=lambda env: ao.pack_sockaddr(env.family.af, env.peer, port=1234)),
    add_case("no-prefix-with-address", errno.EINVAL, prefix=0),
    add_case("no-prefix-any-address", 0, prefix=0, addr=any_addr),
    add_case("prefix-with-any-address", errno.EINVAL, addr=any_addr),
    add_case("prefix-too-long", errno.EINVAL, prefix=lambda env: env.family.max_prefix + 1),
    add_case("host-bits-beyond-prefix", errno.EINVAL, prefix=2),
    add_case("bad-keyflags", errno.EINVAL, keyflags=0xFF),
    add_case("exclude-opt-keyflag", 0, keyflags=ao.TCP_AO_KEYF_EXCLUDE_OPT),
    add_case("ifindex-without-keyflag", errno.EINVAL, ifindex=42, keyflags=0),
    add_case("ifindex-no-such-device", errno.EINVAL, ifindex=4242, keyflags=ao.TCP_AO_KEYF_IFINDEX),
    add_case("ifindex-not-l3-master", errno.EINVAL, ifindex=1, keyflags=ao.TCP_AO_KEYF_IFINDEX),  # lo
    add_case("ifindex-keyflag-default-vrf", 0, ifindex=0, keyflags=ao.TCP_AO_KEYF_IFINDEX),
    add_case("current-on-listener", errno.EINVAL, listen=True, set_current=1),
    add_case("rnext-on-listener", errno.EINVAL, listen=True, set_rnext=1),
    add_case("current-and-rnext-on-listener", errno.EINVAL, listen=True, set_current=1, set_rnext=1),
    add_case("key-on-listener", 0, listen=True),
    add_case("current-and-rnext-on-closed", 0, set_current=1, set_rnext=1),
    # tcp_ao_parse_crypto(): 4-byte option header + MAC, 4-aligned, must fit in
    # the 20 bytes a SYN has left beside MSS, timestamps and window scale.
    add_case("maclen-bigger-than-tcp-header", errno.EMSGSIZE, maclen=100),
    add_case("maclen-17", errno.EMSGSIZE, maclen=17),
    add_case("maclen-16", 0, maclen=16),
    add_case("unknown-algorithm", errno.ENOENT, alg_name=b"imaginary hash algo"),
]


def add_optlen_case(id: str, err: int, optlen: Callable[[], int], tail: bytes = b"") -> Case:
    def run(env: Env) -> None:
        data = bytes(env.add_cmd())[: optlen()] + tail
        env.sock().setsockopt(socket.IPPROTO_TCP, ao.TCP_AO_ADD_KEY, data)

    return Case(id, run, err)


LENGTH_CASES = [
    add_optlen_case("add-short-optlen", errno.EINVAL, lambda: ao.TcpAoAdd.key.offset),
    add_optlen_case("add-extended-zero-tail", 0, lambda: ctypes.sizeof(ao.TcpAoAdd), bytes(64)),
    pytest.param(
        add_optlen_case(
            "add-extended-nonzero-tail", errno.E2BIG, lambda: ctypes.sizeof(ao.TcpAoAdd), b"\x01" + bytes(63)
        ),
        id="add-extended-nonzero-tail",
        # Measured on 6.12: accepted. copy_struct_from_sockptr() hands
        # copy_struct_from_user() min(ksize, usize) as the user size, so the
        # bytes past the kernel's struct are never looked at. The E2BIG rule
        # is the one copy_struct_from_user() documents and the comment above
        # tcp_ao_copy_mkts_to_user() promises.
        marks=pytest.mark.xfail(reason="kernel ignores non-zero bytes past its struct (copy_struct_from_sockptr)",
                                strict=False),
    ),
    Case("del-short-optlen", lambda env: setopt(env.keyed(), ao.TCP_AO_DEL_KEY, env.del_cmd(),
                                                ao.TcpAoDel.keyflags.offset), errno.EINVAL),
    Case("info-short-optlen", lambda env: setopt(env.keyed(), ao.TCP_AO_INFO, ao.TcpAoInfoOpt(),
                                                 ao.TcpAoInfoOpt.pkt_dropped_icmp.offset), errno.EINVAL),
    Case("info-extended", lambda env: setopt(env.keyed(), ao.TCP_AO_INFO, ao.TcpAoInfoOpt(),
                                             ctypes.sizeof(ao.TcpAoInfoOpt) + 64), 0),
]


def dup_case(id: str, second: Callable[[Env, socket.socket], None], first_any: bool = False) -> Case:
    def run(env: Env) -> None:
        sock = env.sock()
        if first_any:
            ao.add_key(sock, f"{env.family.any}/0", KEY, 100, 100)
        else:
            env.add(sock)
        second(env, sock)

    return Case(id, run, errno.EEXIST)


DUPLICATE_CASES = [
    dup_case("duplicate-full-copy", lambda env, s: env.add(s)),
    dup_case("duplicate-rcvid-differs", lambda env, s: env.add(s, 100, 101)),
    dup_case("duplicate-sndid-differs", lambda env, s: env.add(s, 101, 100)),
    dup_case("duplicate-over-any-address-key", lambda env, s: env.add(s), first_any=True),
    dup_case("duplicate-any-address-key", lambda env, s: ao.add_key(s, f"{env.family.any}/0", KEY, 100, 100)),
    dup_case("duplicate-subnet-key", lambda env, s: ao.add_key(s, subnet_of(env), KEY, 100, 100)),
    Case("distinct-ids-same-peer", lambda env: distinct_ids(env), 0),
]


def subnet_of(env: Env) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A subnet around the peer, so overlapping the default key."""
    return ipaddress.ip_network(f"{env.peer}/{env.family.max_prefix - 16}", strict=False)


def distinct_ids(env: Env) -> None:
    sock = env.sock()
    env.add(sock)
    env.add(sock, 101, 101)


def del_case(id: str, err: int, listen: bool = False, keyed: bool = True, **fields: Any) -> Case:
    build = mutated(lambda env: env.del_cmd(), **fields)

    def run(env: Env) -> None:
        sock = env.sock()
        if keyed:
            env.add(sock)
        if listen:
            env.listen(sock)
        setopt(sock, ao.TCP_AO_DEL_KEY, build(env))

    return Case(id, run, err)


DEL_CASES = [
    del_case("delete", 0),
    del_case("no-ao-info", errno.ENOENT, keyed=False),
    del_case("reserved-bits", errno.EINVAL, reserved=1),
    del_case("reserved2", errno.EINVAL, reserved2=1),
    del_case("bad-keyflags", errno.EINVAL, keyflags=0xFF),
    del_case("ifindex-without-keyflag", errno.EINVAL, ifindex=42, keyflags=0),
    # No check of the device: a VRF may be gone and its keys must stay deletable.
    del_case("ifindex-no-such-key", errno.ENOENT, ifindex=42, keyflags=ao.TCP_AO_KEYF_IFINDEX),
    del_case("current-on-listener", errno.EINVAL, listen=True, set_current=1),
    del_case("rnext-on-listener", errno.EINVAL, listen=True, set_rnext=1),
    del_case("async-on-listener", 0, listen=True, del_async=1),
    del_case("async-on-closed", errno.EINVAL, del_async=1),
    del_case("set-missing-current", errno.ENOENT, set_current=1, current_key=7),
    del_case("set-missing-rnext", errno.ENOENT, set_rnext=1, rnext=7),
    del_case("set-deleted-key-current", errno.ENOENT, set_current=1, current_key=100),
    del_case("set-deleted-key-rnext", errno.ENOENT, set_rnext=1, rnext=100),
    del_case("wrong-sndid", errno.ENOENT, sndid=101),
    del_case("wrong-rcvid", errno.ENOENT, rcvid=101),
    del_case("wrong-address", errno.ENOENT, addr=lambda env: ao.pack_sockaddr(env.family.af, env.local)),
    del_case("wrong-prefix", errno.ENOENT, prefix=lambda env: env.family.max_prefix - 1),
    del_case("port-set", errno.EINVAL, addr=lambda env: ao.pack_sockaddr(env.family.af, env.peer, port=1234)),
]


def info_case(id: str, err: int, listen: bool = False, keyed: bool = True, **fields: Any) -> Case:
    def run(env: Env) -> None:
        sock = env.sock()
        if keyed:
            env.add(sock)
        if listen:
            env.listen(sock)
        opt = ao.TcpAoInfoOpt()
        for name, value in fields.items():
            setattr(opt, name, value)
        setopt(sock, ao.TCP_AO_INFO, opt)

    return Case(id, run, err)


INFO_CASES = [
    info_case("no-op", 0),
    info_case("first-option-without-key", 0, keyed=False, ao_required=1),
    info_case("reserved-bits", errno.EINVAL, reserved=1),
    info_case("reserved2", errno.EINVAL, reserved2=1),
    info_case("current-on-listener", errno.EINVAL, listen=True, set_current=1, current_key=100),
    info_case("rnext-on-listener", errno.EINVAL, listen=True, set_rnext=1, rnext=100),
    info_case("set-missing-current", errno.ENOENT, set_current=1, current_key=7),
    info_case("set-missing-rnext", errno.ENOENT, set_rnext=1, rnext=7),
    info_case("set-current-and-rnext", 0, set_current=1, current_key=100, set_rnext=1, rnext=100),
    info_case("flags-on-listener", 0, listen=True, ao_required=1, accept_icmps=1),
]


def get_info_raw(env: Env, keyed: bool = True, **fields: Any) -> None:
    sock = env.sock()
    if keyed:
        env.add(sock)
    opt = ao.TcpAoInfoOpt()
    for name, value in fields.items():
        setattr(opt, name, value)
    ao.getsockopt_into(sock, ao.TCP_AO_INFO, opt)


GET_INFO_CASES = [
    Case("get-info", lambda env: get_info_raw(env), 0),
    Case("get-info-no-ao-info", lambda env: get_info_raw(env, keyed=False), errno.ENOENT),
    Case("get-info-reserved-input", lambda env: get_info_raw(env, reserved=1), errno.EINVAL),
    Case("get-info-reserved2-input", lambda env: get_info_raw(env, reserved2=1), errno.EINVAL),
]


def get_keys_raw(env: Env, keyed: bool = True, get_all: int = 1, addr: str | None = None, **fields: Any) -> int:
    sock = env.sock()
    if keyed:
        env.add(sock)
    buf = (ao.TcpAoGetsockopt * 1)()
    opt = buf[0]
    opt.nkeys = 1
    opt.get_all = get_all
    if addr == "peer":
        opt.addr = ao.pack_sockaddr(env.family.af, env.peer)
    elif addr == "any":
        opt.addr = ao.pack_sockaddr(env.family.af, env.family.any)
    for name, value in fields.items():
        setattr(opt, name, value(env) if callable(value) else value)
    optlen = ao.getsockopt_into(sock, ao.TCP_AO_GET_KEYS, buf)
    assert optlen == ctypes.sizeof(ao.TcpAoGetsockopt), "the kernel reports its struct size in optlen"
    return buf[0].nkeys


def gk(id: str, err: int, **kwargs: Any) -> Case:
    return Case(id, lambda env: get_keys_raw(env, **kwargs), err)


GET_KEYS_CASES = [
    gk("get-all", 0),
    gk("no-ao-info", errno.ENOENT, keyed=False),
    gk("out-only-pkt-good-set", errno.EINVAL, pkt_good=643),
    gk("out-only-pkt-bad-set", errno.EINVAL, pkt_bad=94),
    gk("bad-keyflags", errno.EINVAL, keyflags=0xFF),
    gk("ifindex-without-keyflag", errno.EINVAL, ifindex=42),
    gk("reserved-bits", errno.EINVAL, reserved=1),
    gk("no-prefix-with-address", errno.EINVAL, get_all=0, addr="peer", prefix=0),
    gk("no-prefix-any-address", 0, get_all=0, addr="any", prefix=0),
    gk("prefix-with-any-address", errno.EINVAL, get_all=0, addr="any", prefix=lambda env: env.family.max_prefix),
    gk("prefix-too-long", errno.EINVAL, get_all=0, addr="peer", prefix=129),
    gk("host-bits-beyond-prefix", errno.EINVAL, get_all=0, addr="peer", prefix=2),
    gk("prefix-and-address", 0, get_all=0, addr="peer", prefix=lambda env: env.family.max_prefix),
    gk("no-address-family", errno.EAFNOSUPPORT, get_all=0),
    gk("get-all-with-prefix", errno.EINVAL, prefix=lambda env: env.family.max_prefix),
    gk("get-all-with-address", errno.EINVAL, addr="peer"),
    gk("get-all-with-sndid", errno.EINVAL, sndid=1),
    gk("get-all-with-rcvid", errno.EINVAL, rcvid=1),
    gk("get-all-with-current", errno.EINVAL, is_current=1),
    gk("get-all-with-rnext", errno.EINVAL, is_rnext=1),
    gk("current-with-address", errno.EINVAL, get_all=0, is_current=1, addr="peer"),
    gk("current-with-sndid", errno.EINVAL, get_all=0, is_current=1, sndid=1),
    gk("rnext-with-prefix", errno.EINVAL, get_all=0, is_rnext=1, prefix=lambda env: env.family.max_prefix),
    gk("current-and-rnext", 0, get_all=0, is_current=1, is_rnext=1),
]


def repair_get(env: Env, repair: bool, keyed: bool = True, listen: bool = False) -> None:
    sock = env.sock()
    if keyed:
        env.add(sock)
    if repair:
        ao.set_tcp_repair(sock, ao.TCP_REPAIR_ON)
    if listen:
        env.listen(sock)
    ao.get_repair(sock)


def repair_set(env: Env, repair: bool, optlen: int | None = None, listen: bool = False) -> None:
    sock = env.keyed()
    if repair:
        ao.set_tcp_repair(sock, ao.TCP_REPAIR_ON)
    if listen:
        env.listen(sock)
    setopt(sock, ao.TCP_AO_REPAIR, ao.TcpAoRepair(), optlen)


REPAIR_CASES = [
    Case("repair-get-without-repair-mode", lambda env: repair_get(env, repair=False), errno.EPERM),
    Case("repair-set-without-repair-mode", lambda env: repair_set(env, repair=False), errno.EPERM),
    Case("repair-get-in-repair-mode", lambda env: repair_get(env, repair=True), 0),
    Case("repair-set-in-repair-mode", lambda env: repair_set(env, repair=True), 0),
    Case("repair-get-no-ao-info", lambda env: repair_get(env, repair=True, keyed=False), errno.ENOENT),
    Case("repair-get-on-listener", lambda env: repair_get(env, repair=True, listen=True), errno.EPERM),
    Case("repair-set-on-listener", lambda env: repair_set(env, repair=True, listen=True), errno.EPERM),
    Case("repair-set-short-optlen", lambda env: repair_set(env, repair=True, optlen=8), errno.EINVAL),
]


def _ids(cases: list[Any]) -> list[str]:
    return [c.id for c in cases]  # Case or pytest.param: both have .id


@pytest.mark.parametrize("case", ADD_CASES, ids=_ids(ADD_CASES))
def test_add_key(env, case):
    check(env, case)


@pytest.mark.parametrize("case", LENGTH_CASES, ids=_ids(LENGTH_CASES))
def test_option_length(env, case):
    """copy_struct_from_sockptr(): shorter than the struct is EINVAL; longer is
    fine if the extra bytes are zero (a newer userspace), E2BIG if not."""
    check(env, case)


@pytest.mark.parametrize("case", DUPLICATE_CASES, ids=_ids(DUPLICATE_CASES))
def test_duplicate_key_ids(env, case):
    """RFC 5925 3.1: KeyIDs of MKTs must not overlap for overlapping peers (EEXIST)."""
    check(env, case)


@pytest.mark.parametrize("case", DEL_CASES, ids=_ids(DEL_CASES))
def test_del_key(env, case):
    check(env, case)


@pytest.mark.parametrize("case", INFO_CASES, ids=_ids(INFO_CASES))
def test_set_info(env, case):
    check(env, case)


@pytest.mark.parametrize("case", GET_INFO_CASES, ids=_ids(GET_INFO_CASES))
def test_get_info(env, case):
    check(env, case)


@pytest.mark.parametrize("case", GET_KEYS_CASES, ids=_ids(GET_KEYS_CASES))
def test_get_keys(env, case):
    check(env, case)


@pytest.mark.parametrize("case", REPAIR_CASES, ids=_ids(REPAIR_CASES))
def test_ao_repair_option(env, case):
    """TCP_AO_REPAIR needs TCP_REPAIR mode, which listeners cannot enter (EPERM)."""
    check(env, case)


def test_info_roundtrip(env):
    """setsockopt-closed.c test_vefify_ao_info(): what is set is what is read."""
    sock = env.keyed()
    ao.add_key(sock, env.peer, b"second", 7, 8)
    counters = {"pkt_good": 321, "pkt_bad": 888, "pkt_key_not_found": 654, "pkt_ao_required": 987654, "pkt_dropped_icmp": 10000}
    ao.set_info(sock, ao_required=True, accept_icmps=True, current_key=7, rnext=100, counters=counters)
    info = ao.get_info(sock)
    assert (info.current_key, info.rnext, info.ao_required, info.accept_icmps) == (7, 100, True, True)
    assert {k: getattr(info, k) for k in counters} == counters
    ao.set_info(sock, accept_icmps=False)  # ao_required=None keeps the present value
    info = ao.get_info(sock)
    assert info.ao_required and not info.accept_icmps
    assert {k: getattr(info, k) for k in counters} == counters, "counters changed without set_counters"


@pytest.mark.requires(kconfig=["CRYPTO_SHA256"])
def test_get_keys_reports_everything_added(env):
    sock = env.sock()
    ao.add_key(sock, env.peer, b"k1" * 5, 1, 2, alg="hmac(sha256)", maclen=16)
    ao.add_key(sock, env.peer, b"k2", 3, 4, keyflags=ao.TCP_AO_KEYF_EXCLUDE_OPT, set_current=True)
    ao.add_key(sock, f"{env.family.any}/0", b"k3", 5, 6, set_rnext=True)
    keys = {k.sndid: k for k in ao.get_keys(sock)}
    assert set(keys) == {1, 3, 5}
    assert (keys[1].alg_name, keys[1].key, keys[1].maclen, keys[1].rcvid) == ("hmac(sha256)", b"k1" * 5, 16, 2)
    assert keys[3].keyflags == ao.TCP_AO_KEYF_EXCLUDE_OPT and keys[3].is_current and not keys[3].is_rnext
    assert keys[5].prefix == 0 and keys[5].is_rnext and not keys[5].is_current
    [current] = ao.get_keys(sock, is_current=True)
    [rnext] = ao.get_keys(sock, is_rnext=True)
    assert (current.sndid, rnext.sndid) == (3, 5)
    assert len(ao.get_keys(sock, max_keys=1)) == 3, "get_keys() must grow its buffer"


@pytest.mark.requires(kconfig=["NET_VRF"], tools=["ip"])
def test_vrf_keys(env):
    """TCP_AO_KEYF_IFINDEX with an L3 master device (a VRF created in the
    node's namespace for this test): allowed on a socket that is not
    established without SO_BINDTODEVICE; the same KeyIDs may exist once per
    VRF (not duplicates); GET_KEYS reports the ifindex; deleting names it."""
    name = f"vrf-ao{env.family.version}"
    env.node.run(["ip", "link", "add", name, "type", "vrf", "table", str(100 + env.family.version)])
    try:
        ifindex = env.node.link(name)["index"]
        sock = env.sock()
        ao.add_key(sock, env.peer, KEY, 1, 1, ifindex=ifindex)
        ao.add_key(sock, env.peer, KEY, 1, 1)  # default VRF, same peer and KeyIDs
        keys = sorted((k.ifindex, k.keyflags) for k in ao.get_keys(sock))
        assert keys == [(0, 0), (ifindex, ao.TCP_AO_KEYF_IFINDEX)]
        ao.del_key(sock, env.peer, 1, 1, ifindex=ifindex)
        assert [k.ifindex for k in ao.get_keys(sock)] == [0]
    finally:
        env.node.run(["ip", "link", "del", name], check=False)


@pytest.mark.requires(tools=["ip"])
def test_optmem_limit(topo, family, sockets):
    """setsockopt-closed.c test_optmem_limit(): keys are charged to the
    socket's option memory; past net.core.optmem_max adding one fails
    with ENOMEM, and a larger limit admits more keys."""
    node = topo["a"]

    def keys_until_full(limit: int) -> int:
        """How many keys (one per peer address, as the selftest does) fit."""
        node.set_sysctl("net.core.optmem_max", limit)
        sock = sockets.tcp(node, family)
        base = ipaddress.ip_address("192.0.2.0" if family.version == 4 else "2001:db8:ff::")
        for n in range(10_000):
            try:
                ao.add_key(sock, base + n + 1, KEY, 1, 1)
            except OSError as exc:
                assert exc.errno == errno.ENOMEM, exc
                return n
        raise AssertionError(f"10000 keys fit in {limit} bytes of option memory")

    small = keys_until_full(4096)
    large = keys_until_full(16384)
    assert 0 < small < large, (small, large)

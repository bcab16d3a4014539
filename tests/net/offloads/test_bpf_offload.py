"""XDP program offload on netdevsim: loading bound to the device, attaching
in offload (HW) mode, and the refusals on both sides.

The program is "return XDP_PASS", loaded with the raw bpf(2) syscall
(suitelib/bpf.py: no bpftool or BPF toolchain is needed) and attached
through rtnetlink IFLA_XDP with pyroute2. netdevsim shows bound programs in
debugfs ``bpf_bound_progs/`` and the offloaded one in the port's
``bpf_offloaded_id``; its ``bpf_*_accept`` knobs make it refuse.

Reference: net/bpf_offload.py (its XDP offload part: bound program listing,
offload attach/detach, refusals for unbound programs, missing HW_MODE and a
device that declines). TC (cls_bpf skip_sw) and map offload are not covered:
they need tc's BPF object loader or a hand-built map-using program.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from harness import netns as nsutil

from suitelib import bpf
from suitelib.kernel_files import write_file
from suitelib.offload_port import Port, nsim_port
from suitelib.wait import poll

pytestmark = [
    pytest.mark.topology("offloads-dev"),
    pytest.mark.requires(kconfig=["BPF_SYSCALL"]),
]


@pytest.fixture
def port(topo) -> Port:
    port = nsim_port(topo, "dut", "nsim0", "np0")
    if not (port.dev_debugfs / "bpf_bound_progs").is_dir():
        pytest.skip(f"{port.dev_debugfs / 'bpf_bound_progs'} missing (netdevsim built without BPF support)")
    return port


@pytest.fixture
def fds() -> Iterator[list[int]]:
    """Program fds the test opens; closed at the end (which frees the programs)."""
    opened: list[int] = []
    yield opened
    for fd in opened:
        os.close(fd)


def load_bound(port: Port, fds: list[int]) -> int:
    # The kernel resolves prog_ifindex in the caller's namespace: the node's.
    with nsutil.entered(port.node.handle.fd):
        fd = bpf.load_xdp(ifindex=port.ifindex())
    fds.append(fd)
    return fd


def attach(port: Port, fd: int, flags: int) -> None:
    port.node.ipr.link("set", index=port.ifindex(), xdp={"attrs": [("IFLA_XDP_FD", fd), ("IFLA_XDP_FLAGS", flags)]})


def bound_ids(port: Port) -> set[int]:
    """Ids of the programs bound to the device. An entry can vanish between
    listing and reading while a program is being freed (ENOENT, or EIO from
    debugfs for a file being removed): that one is gone."""
    ids = set()
    for entry in (port.dev_debugfs / "bpf_bound_progs").iterdir():
        try:
            ids.add(int((entry / "id").read_text()))
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.EIO):
                raise
    return ids


def offloaded_id(port: Port) -> int:
    return int((port.debugfs / "bpf_offloaded_id").read_text())


def hw_prog_id(port: Port) -> int | None:
    """IFLA_XDP_HW_PROG_ID (or the single PROG_ID in offload mode) as rtnetlink reports it."""
    link = port.node.ipr.get_links(port.ifindex())[0]
    xdp = link.get_attr("IFLA_XDP")
    if xdp is None or xdp.get_attr("IFLA_XDP_ATTACHED") != "xdpoffload":
        return None
    return xdp.get_attr("IFLA_XDP_HW_PROG_ID") or xdp.get_attr("IFLA_XDP_PROG_ID")


def test_bound_program_is_listed_by_the_device_until_freed(port, fds):
    fd = load_bound(port, fds)
    prog = bpf.prog_id(fd)
    assert prog in bound_ids(port)
    os.close(fds.pop())
    # Freed asynchronously (RCU): wait for the listing to drop it.
    assert prog not in poll(lambda: bound_ids(port), lambda ids: prog not in ids, timeout=10.0)


def test_device_refusing_to_bind_fails_the_load(port, fds):
    write_file(port.dev_debugfs / "bpf_bind_accept", "N")
    with pytest.raises(OSError) as refused:
        load_bound(port, fds)
    assert refused.value.errno == errno.EOPNOTSUPP
    assert bound_ids(port) == set()
    write_file(port.dev_debugfs / "bpf_bind_accept", "Y")
    load_bound(port, fds)  # the same request now works


def test_offloaded_program_attaches_and_detaches(port, fds):
    fd = load_bound(port, fds)
    prog = bpf.prog_id(fd)
    attach(port, fd, bpf.XDP_FLAGS_HW_MODE)
    assert offloaded_id(port) == prog
    assert hw_prog_id(port) == prog
    attach(port, -1, bpf.XDP_FLAGS_HW_MODE)
    assert offloaded_id(port) == 0 and hw_prog_id(port) is None


@pytest.mark.parametrize(
    ("case", "flags", "code", "needle"),
    [
        pytest.param(case, flags, code, needle, id=case)
        for case, flags, code, needle in (
            ("unbound-program-in-hw-mode", bpf.XDP_FLAGS_HW_MODE, errno.EINVAL, "xdpoffload of non-bound program"),
            ("bound-program-in-driver-mode", bpf.XDP_FLAGS_DRV_MODE, errno.EINVAL, "without HW_MODE"),
            ("device-declines-offload", bpf.XDP_FLAGS_HW_MODE, errno.EOPNOTSUPP, "XDP offload disabled in DebugFS"),
        )
    ],
)
def test_offload_refusals_leave_nothing_attached(port, fds, case, flags, code, needle):
    if case == "unbound-program-in-hw-mode":
        fd = bpf.load_xdp()
        fds.append(fd)
    else:
        fd = load_bound(port, fds)
    if case == "device-declines-offload":
        write_file(port.debugfs / "bpf_xdpoffload_accept", "N")
    with pytest.raises(NetlinkError) as refused:
        attach(port, fd, flags)
    assert refused.value.code == code
    assert needle in str(refused.value), str(refused.value)
    assert offloaded_id(port) == 0 and hw_prog_id(port) is None

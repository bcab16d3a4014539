"""Network namespaces, created and entered in-process.

pyroute2 forks a helper process for every namespace it creates and for every
socket it opens inside one; at 50 namespaces that costs more than the shell
script it replaces (DESIGN.md). Network namespaces are per thread, so the
calling thread can instead ``unshare``/``setns`` itself, create what it needs
(the bind mount that names the namespace, a netlink socket, an open sysctl
file), and switch back. A socket stays in the namespace it was created in.

This module is the only place that switches namespaces. Every switch is
undone before the function returns, also on error.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

NETNS_RUN_DIR = Path("/run/netns")

_CLONE_NEWNET = 0x40000000
_MS_REC = 0x4000
_MS_BIND = 0x1000
_MS_SHARED = 1 << 20
_MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]

# Only one namespace switch at a time per process keeps the code simple to
# reason about; the switches are microseconds long.
_switch_lock = threading.RLock()

_SYSCTL_SWAP = str.maketrans("./", "/.")


def _check(result: int, what: str, target: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what} {target}: {os.strerror(err)}")


def _ensure_run_dir() -> None:
    """Make /run/netns a shared mount point, as `ip netns add` does.

    Without it a namespace bind-mounted here would not be visible to other
    mount namespaces (for example `ip netns exec` children).
    """
    NETNS_RUN_DIR.mkdir(parents=True, exist_ok=True)
    path = bytes(NETNS_RUN_DIR)
    if _libc.mount(b"", path, b"none", _MS_SHARED | _MS_REC, None) == 0:
        return
    _check(_libc.mount(path, path, b"none", _MS_BIND | _MS_REC, None), "bind-mount", str(NETNS_RUN_DIR))
    _check(_libc.mount(b"", path, b"none", _MS_SHARED | _MS_REC, None), "make shared", str(NETNS_RUN_DIR))


def netns_path(name: str) -> Path:
    return NETNS_RUN_DIR / name


def exists(name: str) -> bool:
    return netns_path(name).exists()


def list_names() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def create(name: str) -> int:
    """Create the named namespace; return an O_RDONLY fd referring to it.

    Fails with EEXIST rather than reusing a namespace someone else owns.
    """
    _ensure_run_dir()
    path = netns_path(name)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    with _switch_lock:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.unshare(_CLONE_NEWNET), "unshare for", name)
            try:
                _check(
                    _libc.mount(b"/proc/thread-self/ns/net", bytes(path), b"none", _MS_BIND, None),
                    "bind-mount",
                    name,
                )
                return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            finally:
                _check(_libc.setns(home, _CLONE_NEWNET), "return from", name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        finally:
            os.close(home)


def open_fd(name: str) -> int:
    return os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)


def remove(name: str) -> bool:
    """Unmount and unlink a named namespace; False if it was already gone.

    The kernel frees the namespace (and every link in it) once the last
    reference (mount, open fd, process) is gone.
    """
    path = netns_path(name)
    if _libc.umount2(bytes(path), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise OSError(err, f"unmount {path}: {os.strerror(err)}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def entered(netns_fd: int) -> Iterator[None]:
    """Run the block with the calling thread inside the namespace ``netns_fd``."""
    with _switch_lock:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(netns_fd, _CLONE_NEWNET), "enter namespace fd", str(netns_fd))
            try:
                yield
            finally:
                _check(_libc.setns(home, _CLONE_NEWNET), "return to home namespace", "")
        finally:
            os.close(home)


def socket_in(netns_fd: int, family: int, type_: int, proto: int = 0) -> socket.socket:
    """A socket that lives in the namespace ``netns_fd``."""
    with entered(netns_fd):
        return socket.socket(family, type_ | socket.SOCK_CLOEXEC, proto)


def sysctl_path(key: str) -> Path:
    """/proc/sys path for a dotted sysctl key.

    As in sysctl(8), a '/' in a key stands for a '.' inside one component, so
    the VLAN interface eth0.10 is written ``net.ipv4.conf.eth0/10.forwarding``.
    """
    return Path("/proc/sys") / key.translate(_SYSCTL_SWAP)


def write_sysctl(netns_fd: int, key: str, value: str) -> None:
    """Write a sysctl as seen from inside the namespace.

    /proc/sys/net resolves the namespace of the opening thread, so the open
    happens inside the namespace; the write may happen anywhere.
    """
    with entered(netns_fd):
        fd = os.open(sysctl_path(key), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def read_sysctl(netns_fd: int, key: str) -> str:
    with entered(netns_fd):
        fd = os.open(sysctl_path(key), os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536).decode().strip()
    finally:
        os.close(fd)


def write_file_in(netns_fd: int, path: str, data: str) -> None:
    """Write a sysfs control file while inside the namespace.

    netdevsim creates its devices in the namespace of the writer of
    /sys/bus/netdevsim/new_device, so the write itself must happen inside.
    """
    with entered(netns_fd):
        with open(path, "w", encoding="ascii") as f:
            f.write(data)

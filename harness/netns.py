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
import re
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from . import sysctl as sysctl_keys

NETNS_RUN_DIR = Path("/run/netns")

_CLONE_NEWNET = 0x40000000
_MS_REC = 0x4000
_MS_BIND = 0x1000
_MS_SHARED = 1 << 20
_MNT_DETACH = 2
_UMOUNT_NOFOLLOW = 8

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]

# Only one namespace switch at a time per process keeps the code simple to
# reason about; the switches are microseconds long.
_switch_lock = threading.RLock()



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


class NotANamespaceError(OSError):
    """A /run/netns entry that is not a namespace mount (nor an interrupted creation's empty file).

    ``remove`` refuses it instead of unmounting or unlinking something that
    is not ours to touch.
    """


def check_name(name: object) -> str:
    """``name`` if it can only mean an entry directly inside /run/netns, else ValueError.

    Defence in depth: journals are validated before cleanup reads them, but
    this module is where a name turns into a path that gets unmounted, so it
    refuses '', '.', '..', '/' and NUL itself.
    """
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"{name!r} is not a namespace name")
    return name


def netns_path(name: str) -> Path:
    return NETNS_RUN_DIR / check_name(name)


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


def _unescape_mountinfo(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_types() -> dict[str, str]:
    """Mount point -> filesystem type for this mount namespace (the topmost mount wins).

    Read from /proc/self/mountinfo rather than statfs(2): it needs no
    per-architecture struct layout and tells a mount point from a file.
    """
    types: dict[str, str] = {}
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            try:
                sep = fields.index("-", 6)
            except ValueError:
                continue
            types[_unescape_mountinfo(fields[4])] = fields[sep + 1]
    return types


def _is_empty_regular_file(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == 0


def remove(name: str, mounts: dict[str, str] | None = None) -> bool:
    """Unmount and unlink a named namespace; False if it was already gone.

    Only two kinds of entry are removed: an nsfs mount (a namespace), and a
    plain empty file that is not a mount point (a creation interrupted
    between open(O_CREAT) and the bind mount). Anything else raises
    NotANamespaceError and is left as it is; nothing but nsfs is unmounted.
    ``mounts`` (from ``mount_types()``) saves re-reading mountinfo when
    removing many. The kernel frees the namespace (and every link in it)
    once the last reference (mount, open fd, process) is gone.
    """
    path = netns_path(name)
    if not os.path.lexists(path):
        return False
    fstype = (mounts if mounts is not None else mount_types()).get(str(path))
    if fstype is not None:
        if fstype != "nsfs":
            raise NotANamespaceError(errno.EPERM, f"{path} is a {fstype} mount, not a namespace; left alone")
        if _libc.umount2(bytes(path), _MNT_DETACH | _UMOUNT_NOFOLLOW) != 0:
            err = ctypes.get_errno()
            if err not in (errno.EINVAL, errno.ENOENT):
                raise OSError(err, f"unmount {path}: {os.strerror(err)}")
        if str(path) in mount_types():
            raise NotANamespaceError(errno.EBUSY, f"{path} is still a mount point after unmounting a namespace")
    if not _is_empty_regular_file(path):
        if not os.path.lexists(path):
            return False
        raise NotANamespaceError(errno.EPERM, f"{path} is neither a namespace nor an empty file; left alone")
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
    """The /proc/sys file of a per-namespace ``net.`` key; ValueError for any other key.

    ``harness.sysctl`` decides which keys are safe (only ``net.``, every
    component a plain word or interface name), so no key can name a path
    outside /proc/sys/net.
    """
    return Path(sysctl_keys.proc_path(key))


class HostWideSysctlError(PermissionError):
    """The sysctl opened inside a namespace is the very file the host sees: writing it changes the host."""


def _open_sysctl(netns_fd: int, key: str, flags: int) -> int:
    """Open ``key``'s file as seen inside ``netns_fd``, refusing a host-wide one.

    A per-namespace sysctl is a different /proc inode in every network
    namespace; a global one (any table registered only in init_net, e.g.
    ``kernel.*``) is one inode everywhere. So the file opened inside is
    compared with the same path opened in the caller's home namespace: equal
    identities mean the write would reach the host, and it is refused. This
    is the runtime half of the rule ``harness.sysctl`` checks at validation.
    """
    path = str(sysctl_path(key))
    with entered(netns_fd):
        fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        inside = os.fstat(fd)
        try:
            home = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            home = None  # e.g. a per-interface key of an interface only the namespace has
        if home is not None and (home.st_dev, home.st_ino) == (inside.st_dev, inside.st_ino):
            raise HostWideSysctlError(
                errno.EPERM, f"sysctl {key} is the same file in every namespace (host-wide); refused"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_sysctl(netns_fd: int, key: str, value: str) -> None:
    """Write a per-namespace sysctl as seen from inside the namespace.

    /proc/sys/net resolves the namespace of the opening thread, so the open
    happens inside the namespace; the write may happen anywhere. A key
    outside ``net.`` raises ValueError and a host-wide file
    HostWideSysctlError, before anything is written.
    """
    fd = _open_sysctl(netns_fd, key, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def read_sysctl(netns_fd: int, key: str) -> str:
    with entered(netns_fd):
        fd = os.open(sysctl_path(key), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
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

"""Sysctl keys from untrusted files: which ones a topology may set, and where they live.

A key from a topology file becomes a path under /proc/sys that root writes.
Two rules keep that write inside the run's own namespaces:

- only ``net.`` keys: outside ``net`` (``kernel.domainname``, ``vm.*``,
  ``fs.*``) every sysctl is host-wide, whichever namespace writes it;
- every path component is a plain word (or, in the interface position of
  ``conf``/``neigh`` keys, a valid interface name), so no component can be
  empty, ``.``, ``..`` or carry a ``/``: the path cannot leave /proc/sys/net.

Inside ``net`` a non-initial namespace sees only per-namespace tables (the
kernel registers global net tables in init_net alone); the applier still
checks at write time that the file it opened is not the one the host sees
(``harness.netns.write_sysctl``). This module is pure: no I/O.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from .names import ifname_problem

PROC_SYS = PurePosixPath("/proc/sys")
_WORD = re.compile(r"[A-Za-z0-9_-]{1,64}")
# sysctl(8) writes a '.' inside one component as '/': net.ipv4.conf.eth0/10.forwarding
_SWAP = str.maketrans("./", "/.")
_PER_INTERFACE = ("conf", "neigh")
INTERFACE_WILDCARDS = ("all", "default")


def components(key: str) -> list[str]:
    """The path components of a dotted key, with '/' turned back into '.' inside each."""
    return [part.translate(_SWAP) for part in key.split(".")]


def interface_of(key: str) -> str | None:
    """The interface a per-interface key names (``net.ipv4.conf.eth0/10.rp_filter`` -> ``eth0.10``).

    None for namespace-wide keys, including the ``all`` and ``default`` entries.
    """
    parts = components(key)
    if len(parts) >= 5 and parts[0] == "net" and parts[2] in _PER_INTERFACE:
        return None if parts[3] in INTERFACE_WILDCARDS else parts[3]
    return None


def key_problem(key: str) -> str | None:
    """Why a topology may not set ``key``, or None when it is a safe per-namespace key."""
    if not isinstance(key, str) or not key:
        return "the key is empty"
    if "\0" in key:
        return "the key contains a NUL character"
    raw = key.split(".")
    if raw[0] != "net":
        return (f"{raw[0]!r} sysctls are host-wide (only net. keys belong to a network namespace); "
                "a topology may not change the host")
    if len(raw) < 3:
        return "a network sysctl has at least three parts (net.<group>.<name>)"
    parts = components(key)
    interface_slot = 3 if len(parts) >= 5 and parts[2] in _PER_INTERFACE else None
    for index, (written, part) in enumerate(zip(raw, parts)):
        if index == interface_slot:
            why = ifname_problem(part)
            if why is not None:
                return f"the interface name {part!r} is not valid: {why}"
        elif not _WORD.fullmatch(written):
            return (f"part {index + 1} ({written!r}) is not a plain word (letters, digits, '_' and '-'); "
                    "only the interface part of conf/neigh keys may contain '/' (for '.')")
    return None


def relative_path(key: str) -> PurePosixPath:
    """``net/ipv4/ip_forward`` for ``net.ipv4.ip_forward``; ValueError for an unsafe key."""
    why = key_problem(key)
    if why is not None:
        raise ValueError(f"sysctl {key!r} refused: {why}")
    return PurePosixPath(*components(key))


def proc_path(key: str) -> PurePosixPath:
    """The /proc/sys file of a safe key; ValueError for an unsafe one."""
    return PROC_SYS / relative_path(key)

"""The ground floor: where the harness keeps state on this machine, and who
a process is.

Both the topology journals and the VM records name processes that may be
long gone by the time someone reads them; a pid alone is reused by the
kernel, so a process is identified by its pid *and* its start time (field
22 of /proc/PID/stat, clock ticks since boot), and where it matters by its
command line too. Nothing here imports from the rest of the harness.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE_DIR_ENV = "NETHARNESS_STATE_DIR"
CACHE_DIR_ENV = "NETHARNESS_CACHE"
DEFAULT_STATE_DIR = Path("/run/netharness")


def state_dir() -> Path:
    """Machine-wide run state (journals, locks): a tmpfs, gone on reboot with the objects.

    Read on every call, so that tests (and users) can point a process at a
    throwaway directory with ``NETHARNESS_STATE_DIR``.
    """
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def cache_dir() -> Path:
    """Per-user caches that survive reboots (kernel builds, VM consoles, probes)."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "netharness")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat, or None when there is no such process.

    The command name (field 2) may contain spaces and ')'; fields after the
    last ')' are well formed.
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    except OSError:
        return None
    try:
        return stat[stat.rindex(")") + 2 :].split()
    except ValueError:
        return None


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it does not exist."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    return int(fields[19])


def process_group(pid: int) -> int | None:
    """The process group id of ``pid`` (field 5 of /proc/PID/stat)."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 3:
        return None
    return int(fields[2])


def process_cmdline(pid: int) -> list[str] | None:
    """The argv of ``pid`` as the kernel shows it, or None if it is gone (or a kernel thread)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:
        return None
    return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")]


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as recorded: its pid and its start time (which defeats pid reuse)."""

    pid: int
    start: int | None

    @classmethod
    def of(cls, pid: int) -> "ProcessIdentity":
        return cls(pid=pid, start=process_start_time(pid))

    @classmethod
    def me(cls) -> "ProcessIdentity":
        return cls.of(os.getpid())

    def alive(self) -> bool:
        """True while this very process exists (same pid, same start time).

        A record without a start time cannot tell a reused pid apart, so it
        counts as alive only while the pid exists: the safe side for cleanup,
        which must never remove a live run's objects.
        """
        start = process_start_time(self.pid)
        return start is not None and (self.start is None or start == self.start)

"""The run journal: what one run created, written before it is created.

Each run owns one JSON file under ``/run/netharness/runs/``. An object is
recorded *before* the kernel is asked to create it (write-ahead), so after a
crash at any point the journal names a superset of what exists, and
teardown only has to tolerate "already gone". The journal also records the
owning process (pid plus its start time, which defeats pid reuse), so that
``netharness clean`` can tell a dead run's leftovers from a live run's
objects. Cleanup never goes by name pattern alone: it removes exactly the
namespaces and netdevsim ids a dead run's journal lists.

``/run`` is a tmpfs: journals vanish on reboot together with the objects.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_DIR = Path(os.environ.get("NETHARNESS_STATE_DIR", "/run/netharness"))


def runs_dir() -> Path:
    return STATE_DIR / "runs"


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and ')'; fields after the
    # last ')' are well formed.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


@dataclass
class Journal:
    run_id: str
    topology: str
    source: str | None
    pid: int
    pid_start: int | None
    created_at: float
    netns: dict[str, str] = field(default_factory=dict)  # node -> netns name
    netdevsim: dict[str, int] = field(default_factory=dict)  # "node/device" -> device id
    complete: bool = False
    # Brought up by `netharness topo up` to outlive its process: only
    # `topo down` removes it, never `clean`.
    detached: bool = False

    @property
    def path(self) -> Path:
        return runs_dir() / f"{self.run_id}.json"

    def save(self) -> None:
        """Atomically replace the journal file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, self.path)

    def delete(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def owner_alive(self) -> bool:
        """True while the process that made this run still exists."""
        start = process_start_time(self.pid)
        return start is not None and (self.pid_start is None or start == self.pid_start)

    @classmethod
    def new(cls, run_id: str, topology: str, source: str | None) -> "Journal":
        pid = os.getpid()
        return cls(
            run_id=run_id,
            topology=topology,
            source=source,
            pid=pid,
            pid_start=process_start_time(pid),
            created_at=time.time(),
        )

    @classmethod
    def load(cls, path: Path) -> "Journal":
        data = json.loads(path.read_text())
        return cls(**data)


def all_journals() -> list[Journal]:
    """Every readable journal on this machine, oldest first."""
    journals = []
    for path in sorted(runs_dir().glob("*.json")):
        try:
            journals.append(Journal.load(path))
        except (OSError, ValueError, TypeError):
            # A journal being replaced right now, or garbage: not ours to judge.
            continue
    return sorted(journals, key=lambda j: j.created_at)


@contextlib.contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """An flock serialising one kind of machine-global allocation (netdevsim ids)."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(STATE_DIR / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

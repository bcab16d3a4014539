"""The run journal: what one run created, written before it is created.

Each run owns one JSON file under ``<state dir>/runs/`` (``harness.host.state_dir``,
``/run/netharness`` unless ``NETHARNESS_STATE_DIR`` says otherwise). An
object is recorded *before* the kernel is asked to create it (write-ahead),
so after a crash at any point the journal names a superset of what exists,
and teardown only has to tolerate "already gone". The journal also records
the owning process (pid plus its start time, which defeats pid reuse), so
that ``netharness clean`` can tell a dead run's leftovers from a live run's
objects. Cleanup never goes by name pattern alone: it removes exactly the
namespaces and netdevsim ids a dead run's journal lists.

A journal is input that cleanup acts on as root, so it is not trusted: every
record is checked against ``harness/schema/journal.schema.json`` plus the
cross-field rules below before anything reads its names, and a record that
fails is moved aside into ``runs/invalid/`` (never acted on, never seen
again by a later ``clean``).

The run id is reserved atomically: the first version of the file is linked
into place with ``link(2)``, which fails with EEXIST like ``O_CREAT|O_EXCL``
but publishes the file complete, so a concurrent reader never sees an empty
journal. ``/run`` is a tmpfs: journals vanish on reboot with the objects.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..host import ProcessIdentity, state_dir
from ..host import process_start_time as process_start_time  # re-export: harness.vm.reaper, tests
from .plan import netns_name

SCHEMA_PACKAGE = "harness.schema"
SCHEMA_FILE = "journal.schema.json"
RUN_ID_RE = re.compile(r"[a-z0-9]{1,12}")
MAX_JOURNAL_BYTES = 1 << 20
INVALID_DIR = "invalid"


class InvalidJournal(ValueError):
    """A journal that must not be acted on; ``reason`` says why in one line."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class SetAside:
    """An invalid journal found by a scan, and where it was moved (None: someone else moved it first)."""

    path: Path
    reason: str
    moved_to: Path | None


def runs_dir() -> Path:
    return state_dir() / "runs"


def invalid_dir() -> Path:
    return runs_dir() / INVALID_DIR


def check_run_id(run_id: object) -> str:
    """``run_id`` if it is safe inside file and namespace names, else ValueError.

    Lowercase letters and digits only (what ``new_run_id`` makes, and short
    ids tests pass): no '/', '.', or '-', so ``nh-<run_id>-<node>`` parses
    one way and ``<run_id>.json`` stays inside the runs directory.
    """
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r} is not 1 to 12 lowercase letters and digits")
    return run_id


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
    # False until the build finished: an incomplete run whose owner is dead
    # is cleaned whatever ``detached`` says.
    complete: bool = False
    # Brought up by `netharness topo up` to outlive its process: once
    # complete, only `topo down` removes it, never `clean`.
    detached: bool = False

    @property
    def path(self) -> Path:
        return runs_dir() / f"{check_run_id(self.run_id)}.json"

    @property
    def owner(self) -> ProcessIdentity:
        return ProcessIdentity(pid=self.pid, start=self.pid_start)

    def owner_alive(self) -> bool:
        """True while the process that made this run still exists."""
        return self.owner.alive()

    def _write_temp(self) -> Path:
        """The record in a private temporary file next to the journal (not matched by ``*.json``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.parent / f".{self.run_id}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(asdict(self), indent=1))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return tmp

    def reserve(self) -> None:
        """Create the journal file, failing with FileExistsError if the run id is taken.

        ``link`` is the exclusive create (same EEXIST contract as
        O_CREAT|O_EXCL) that also makes the complete record appear at once.
        """
        tmp = self._write_temp()
        try:
            os.link(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def save(self) -> None:
        """Atomically replace the journal file."""
        tmp = self._write_temp()
        try:
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    def is_mine(self) -> bool:
        """True if the file at ``path`` is this record (same owner and creation time), not another run's."""
        try:
            theirs = json.loads(_read_bounded(self.path))
        except (OSError, ValueError):
            return False
        return isinstance(theirs, dict) and all(
            theirs.get(key) == getattr(self, key) for key in ("run_id", "pid", "pid_start", "created_at")
        )

    def delete(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    @classmethod
    def new(cls, run_id: str, topology: str, source: str | None) -> "Journal":
        me = ProcessIdentity.me()
        return cls(
            run_id=check_run_id(run_id),
            topology=topology,
            source=source,
            pid=me.pid,
            pid_start=me.start,
            created_at=time.time(),
        )

    @classmethod
    def load(cls, path: Path) -> "Journal":
        """The journal at ``path``, checked; InvalidJournal when it must not be used."""
        data = _parse(path, _read_bounded(path))
        reason = record_problem(data, path.stem)
        if reason is not None:
            raise InvalidJournal(path, reason)
        return cls(**data)


# --- checking a record ------------------------------------------------------------


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, refusing anything but a small regular file (not a symlink or FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise InvalidJournal(path, f"cannot be opened as a plain file ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidJournal(path, "is not a regular file")
        if st.st_size > MAX_JOURNAL_BYTES:
            raise InvalidJournal(path, f"is {st.st_size} bytes, more than {MAX_JOURNAL_BYTES}")
        return os.read(fd, MAX_JOURNAL_BYTES + 1)
    finally:
        os.close(fd)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse(path: Path, raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidJournal(path, f"is not JSON ({_short(str(exc))})") from None


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@lru_cache(maxsize=1)
def journal_schema() -> dict[str, Any]:
    text = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Any:
    """A 2020-12 validator whose "integer" means a Python int: 4000.0 and true are not ids."""
    # Imported here: jsonschema is slow to import in a TCG guest, and only
    # code that reads journals needs it.
    from jsonschema import Draft202012Validator, validators

    def strict_int(_checker: Any, instance: object) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", strict_int)
    cls = validators.extend(Draft202012Validator, type_checker=checker)
    return cls(journal_schema())


def record_problem(data: Any, stem: str) -> str | None:
    """Why ``data`` (read from ``<stem>.json``) must not be acted on, or None if it is sound."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(data))
    if error is not None:
        where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "record"
        return f"{where.lstrip('.')}: {_short(error.message)}"
    if data["run_id"] != stem:
        return f"run_id {_short(repr(data['run_id']))} is not the file's name {stem!r}"
    for node, name in data["netns"].items():
        if name != netns_name(data["run_id"], node):
            return f"netns.{node}: {_short(repr(name))} is not {netns_name(data['run_id'], node)!r}"
    return None


# --- finding journals ------------------------------------------------------------------


def _journal_paths() -> list[Path]:
    try:
        return sorted(runs_dir().glob("*.json"))
    except OSError:
        return []


def scan(set_aside: bool = True) -> tuple[list[Journal], list[SetAside]]:
    """Every sound journal (oldest first) and every unsound one.

    With ``set_aside`` each unsound record is moved into ``runs/invalid/``
    so that no later scan acts on it (or reports it again).
    """
    journals, invalid = [], []
    for path in _journal_paths():
        try:
            journals.append(Journal.load(path))
        except FileNotFoundError:
            continue  # removed by its owner while we listed the directory
        except InvalidJournal as exc:
            moved = quarantine(path, exc.reason) if set_aside else None
            invalid.append(SetAside(path=path, reason=exc.reason, moved_to=moved))
    return sorted(journals, key=lambda j: j.created_at), invalid


def all_journals() -> list[Journal]:
    """Every sound journal on this machine, oldest first; unsound ones are skipped, not moved."""
    return scan(set_aside=False)[0]


def quarantine(path: Path, reason: str) -> Path | None:
    """Move an unsound journal into ``runs/invalid/`` under a unique name; None if it is already gone.

    The reason goes into a ``.why`` file beside it, for whoever looks later.
    """
    target_dir = invalid_dir()
    target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = target_dir / f"{path.name}.{time.time_ns()}.{secrets.token_hex(3)}"
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    with contextlib.suppress(OSError):
        (target_dir / f"{target.name}.why").write_text(reason + "\n", encoding="utf-8")
    return target


@contextlib.contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """An flock serialising one kind of machine-global allocation (netdevsim ids)."""
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

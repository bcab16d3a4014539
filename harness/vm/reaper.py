"""No VM outlives the pytest process that started it.

vng, QEMU and virtiofsd run in their own session (a terminal's Ctrl-C must
not reach the guest behind the harness's back), so when a pytest process dies
without unwinding (an xdist worker torn down by its controller, SIGKILL), its
VM would run on. Each VM therefore leaves a record next to its console: the
process group it runs in, with its leader's start time and command line, and
the pytest process that owns it. A record whose owner is gone names an
orphan.

A record is a file, and a file is untrusted input (it may be stale, corrupt
or forged): ``parse_record`` checks its schema before anything reads a field;
an invalid record is reported and moved aside, never acted on. A valid one
is acted on only while its process group is still the VM's:

- never a process group id <= 1 or the reaper's own group;
- with the leader present: only when the leader (pid == pgid) has the
  recorded start time *and* the recorded command line, and that command line
  is one of the VM's programs (vng/virtme, qemu-system-*, virtiofsd);
- with the leader gone (vng died, QEMU or virtiofsd of its group still
  running): the group as a whole is not signalled; only members of that
  group that started no earlier than the recorded leader and run one of the
  VM's programs are killed, one by one. A pid's group id is only ever the id
  of a live group, and a process started after the leader in that group was
  started by the VM (or by its children), so with the program check a
  stranger cannot be hit.

Reaped by the controller of an interrupted run, at the end of every
``--kernel`` session, and by ``netharness clean``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..host import process_cmdline, process_group, process_start_time

RECORD = "vm-owner.json"
INVALID_SUFFIX = ".invalid"
MAX_RECORD_BYTES = 64 * 1024
MAX_CMDLINE_ARGS = 4096

# Programs a VM's process group runs: vng (virtme-ng's launcher, a Python
# console script, so /proc shows "python vng ..."), QEMU, and virtiofsd (the
# C daemon, or the harness's shell shim named virtiofsd, run by /bin/sh).
_VM_PROGRAM_RE = re.compile(r"^(vng|virtme-ng|virtme-run|virtme|qemu-system-[a-z0-9_]+|virtiofsd)$")
_INTERPRETER_RE = re.compile(r"^(python[0-9.]*|sh|bash|dash)$")


class InvalidRecord(ValueError):
    """A vm-owner.json that does not follow the schema: never acted on."""


@dataclass(frozen=True)
class VMRecord:
    pgid: int  # the vng process, leader of the VM's process group
    pgid_start: int  # the leader's start time (clock ticks since boot)
    owner_pid: int  # the pytest process (controller or xdist worker) that started it
    owner_start: int | None
    owner_ppid: int  # its parent: an xdist worker's controller
    leader_cmdline: tuple[str, ...] = ()  # the leader's argv as /proc showed it at record time

    def owner_alive(self) -> bool:
        start = process_start_time(self.owner_pid)
        return start is not None and (self.owner_start is None or start == self.owner_start)


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def parse_record(data: Any) -> VMRecord:
    """A VMRecord from decoded JSON, or InvalidRecord saying what is wrong.

    Pure. Everything is checked that a later decision reads: a kill must
    never follow from a field of the wrong type or range.
    """
    if not isinstance(data, dict):
        raise InvalidRecord(f"not a JSON object but {type(data).__name__}")
    expected = {"pgid", "pgid_start", "owner_pid", "owner_start", "owner_ppid", "leader_cmdline"}
    unknown = sorted(set(data) - expected)
    if unknown:
        raise InvalidRecord(f"unknown keys {unknown}")
    absent = sorted(expected - set(data))
    if absent:
        raise InvalidRecord(f"missing keys {absent}")
    if not _is_int(data["pgid"], 2):
        raise InvalidRecord(f"pgid must be an integer > 1, not {data['pgid']!r}")
    if not _is_int(data["pgid_start"], 0):
        raise InvalidRecord(f"pgid_start must be an integer >= 0, not {data['pgid_start']!r}")
    if not _is_int(data["owner_pid"], 1):
        raise InvalidRecord(f"owner_pid must be a positive integer, not {data['owner_pid']!r}")
    if data["owner_start"] is not None and not _is_int(data["owner_start"], 0):
        raise InvalidRecord(f"owner_start must be an integer >= 0 or null, not {data['owner_start']!r}")
    if not _is_int(data["owner_ppid"], 0):
        raise InvalidRecord(f"owner_ppid must be an integer >= 0, not {data['owner_ppid']!r}")
    cmdline = data["leader_cmdline"]
    if (not isinstance(cmdline, list) or not cmdline or len(cmdline) > MAX_CMDLINE_ARGS
            or not all(isinstance(arg, str) for arg in cmdline)):
        raise InvalidRecord("leader_cmdline must be a non-empty list of strings")
    return VMRecord(pgid=data["pgid"], pgid_start=data["pgid_start"], owner_pid=data["owner_pid"],
                    owner_start=data["owner_start"], owner_ppid=data["owner_ppid"],
                    leader_cmdline=tuple(cmdline))


def is_vm_program(cmdline: list[str] | tuple[str, ...] | None) -> bool:
    """Whether ``cmdline`` runs one of a VM's programs (pure).

    Looks at the program's base name, or for an interpreter (vng is a Python
    script, the virtiofsd shim a shell script) at its script's.
    """
    if not cmdline:
        return False
    name = os.path.basename(cmdline[0])
    if _VM_PROGRAM_RE.match(name):
        return True
    if _INTERPRETER_RE.match(name):
        for arg in cmdline[1:]:
            if arg in ("-c", "-m"):
                return False  # a command string or module, not a script file
            if not arg.startswith("-"):
                return bool(_VM_PROGRAM_RE.match(os.path.basename(arg)))
    return False


def record(vm_dir: Path, pgid: int, wait: float = 2.0) -> bool:
    """Write the record of a VM just started by this process; False if none was written.

    ``pgid`` is the pid of the vng process just started in its own session
    (so it leads its group). Its start time and command line are read now:
    they are what the reaper later requires of the group's leader. Popen
    returns while the child's exec may still be under way (/proc shows the
    forked pytest's argv, then nothing, then vng's), so this waits up to
    ``wait`` seconds for a VM program's command line. A leader that never
    shows one (or is already gone) gets no record: a record the reaper would
    refuse anyway is of no use, and the run's own ``kill`` still stops it.
    """
    deadline = time.monotonic() + wait
    while True:
        cmdline = process_cmdline(pgid)
        if is_vm_program(cmdline) or time.monotonic() >= deadline:
            break
        time.sleep(0.005)
    start = process_start_time(pgid)
    if start is None or not is_vm_program(cmdline) or process_group(pgid) != pgid:
        return False
    assert cmdline is not None
    me = os.getpid()
    rec = VMRecord(pgid=pgid, pgid_start=start, owner_pid=me, owner_start=process_start_time(me),
                   owner_ppid=os.getppid(), leader_cmdline=tuple(cmdline))
    data = asdict(rec)
    data["leader_cmdline"] = list(rec.leader_cmdline)
    tmp = vm_dir / f".{RECORD}.{me}"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, vm_dir / RECORD)
    return True


def forget(vm_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (vm_dir / RECORD).unlink()


def _stderr(message: str) -> None:
    print(f"netharness: {message}", file=sys.stderr)


def _read_record(path: Path) -> VMRecord:
    """Read and schema-check one record file; InvalidRecord for anything odd."""
    try:
        if not path.is_file() or path.is_symlink():
            raise InvalidRecord("not a regular file")
        with open(path, "rb") as f:
            raw = f.read(MAX_RECORD_BYTES + 1)
    except OSError as exc:
        raise InvalidRecord(f"unreadable: {exc.strerror or exc}") from None
    if len(raw) > MAX_RECORD_BYTES:
        raise InvalidRecord(f"larger than {MAX_RECORD_BYTES} bytes")
    try:
        data = json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRecord(f"not JSON: {exc}") from None
    return parse_record(data)


def _move_aside(path: Path) -> Path | None:
    target = path.with_name(path.name + INVALID_SUFFIX)
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def _records(root: Path, report: Callable[[str], None]) -> list[tuple[Path, VMRecord]]:
    """Valid records under ``root``; invalid ones are reported and moved aside."""
    out = []
    for path in sorted(root.glob(f"*/*/{RECORD}")):
        try:
            out.append((path.parent, _read_record(path)))
        except InvalidRecord as exc:
            moved = _move_aside(path)
            where = f"moved to {moved.name}" if moved else "could not be moved aside"
            report(f"ignored invalid VM record {path}: {exc} ({where}); nothing was killed for it")
    return out


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and process_group(int(entry.name)) == pgid:
            members.append(int(entry.name))
    return members


def group_may_be_signalled(pgid: int, own_group: int) -> bool:
    """Never group 0 or 1 (which killpg/kill read as "mine" and "init"), never our own (pure)."""
    return pgid > 1 and pgid != own_group


def leader_matches(rec: VMRecord, start: int | None, group: int | None, cmdline: list[str] | None) -> bool:
    """Whether the live process ``rec.pgid`` is still the recorded leader (pure)."""
    return (start == rec.pgid_start and group == rec.pgid and cmdline is not None
            and tuple(cmdline) == rec.leader_cmdline and is_vm_program(cmdline))


def straggler_matches(rec: VMRecord, start: int | None, group: int | None, cmdline: list[str] | None) -> bool:
    """Whether a member of a leaderless group is one of the VM's own processes (pure)."""
    return (group == rec.pgid and start is not None and start >= rec.pgid_start
            and is_vm_program(cmdline))


def _kill_group(rec: VMRecord) -> bool:
    """Kill the VM's processes if they are still the ones recorded (see the module docstring)."""
    if not group_may_be_signalled(rec.pgid, os.getpgrp()):
        return False
    leader_start = process_start_time(rec.pgid)
    if leader_start is not None:
        if not leader_matches(rec, leader_start, process_group(rec.pgid), process_cmdline(rec.pgid)):
            return False  # the id now belongs to an unrelated process
        with contextlib.suppress(ProcessLookupError):
            os.killpg(rec.pgid, signal.SIGKILL)
        return True
    killed = False
    for pid in _group_members(rec.pgid):
        if pid == os.getpid():
            continue
        if straggler_matches(rec, process_start_time(pid), process_group(pid), process_cmdline(pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed = True
    return killed


def reap_orphans(root: Path, wait_for_children: float = 0.0,
                 report: Callable[[str], None] = _stderr) -> list[Path]:
    """Kill the VMs under ``root`` whose owning pytest process is gone.

    With ``wait_for_children``, first wait that long for this process's own
    children (interrupted xdist workers) to exit, so their VMs count too.
    Invalid records are passed to ``report`` (stderr by default) and moved
    aside. Returns the VM directories reaped.
    """
    deadline = time.monotonic() + wait_for_children
    while time.monotonic() < deadline:
        mine = [r for _, r in _records(root, report) if r.owner_ppid == os.getpid() and r.owner_alive()]
        if not mine:
            break
        time.sleep(0.1)
    reaped = []
    for vm_dir, rec in _records(root, report):
        if rec.owner_alive():
            continue
        if _kill_group(rec):
            reaped.append(vm_dir)
        forget(vm_dir)
    return reaped

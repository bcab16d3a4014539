"""No VM outlives the pytest process that started it.

vng, QEMU and virtiofsd run in their own session (a terminal's Ctrl-C must
not reach the guest behind the harness's back), so when a pytest process dies
without unwinding (an xdist worker torn down by its controller, SIGKILL), its
VM would run on. Each VM therefore leaves a record next to its console: the
process group it runs in and the pytest process that owns it, both with
their start times. A record whose owner is gone names an orphan; it is
killed by its recorded process group, never by matching names.

Reaped by the controller of an interrupted run, at the end of every
``--kernel`` session, and by ``netharness clean``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..topology.journal import process_start_time

RECORD = "vm-owner.json"


@dataclass(frozen=True)
class VMRecord:
    pgid: int  # the vng process, leader of the VM's process group
    pgid_start: int | None
    owner_pid: int  # the pytest process (controller or xdist worker) that started it
    owner_start: int | None
    owner_ppid: int  # its parent: an xdist worker's controller

    def owner_alive(self) -> bool:
        start = process_start_time(self.owner_pid)
        return start is not None and (self.owner_start is None or start == self.owner_start)


def record(vm_dir: Path, pgid: int) -> None:
    """Write the record of a VM just started by this process."""
    me = os.getpid()
    rec = VMRecord(pgid=pgid, pgid_start=process_start_time(pgid), owner_pid=me,
                   owner_start=process_start_time(me), owner_ppid=os.getppid())
    (vm_dir / RECORD).write_text(json.dumps(asdict(rec)))


def forget(vm_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (vm_dir / RECORD).unlink()


def _records(root: Path) -> list[tuple[Path, VMRecord]]:
    out = []
    for path in sorted(root.glob(f"*/*/{RECORD}")):
        with contextlib.suppress(OSError, ValueError, TypeError):
            out.append((path.parent, VMRecord(**json.loads(path.read_text()))))
    return out


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[2]) == pgid:
                members.append(int(entry.name))
    return members


def _kill_group(rec: VMRecord) -> bool:
    """Kill the VM's process group if it is still the one recorded.

    While any process is in the group, the kernel does not hand its id out
    again; so with the leader gone the remaining members are the VM's, and
    with the leader present its start time must match.
    """
    leader_start = process_start_time(rec.pgid)
    if leader_start is not None and rec.pgid_start is not None and leader_start != rec.pgid_start:
        return False  # the id now belongs to an unrelated process
    if not _group_members(rec.pgid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(rec.pgid, signal.SIGKILL)
    return True


def reap_orphans(root: Path, wait_for_children: float = 0.0) -> list[Path]:
    """Kill the VMs under ``root`` whose owning pytest process is gone.

    With ``wait_for_children``, first wait that long for this process's own
    children (interrupted xdist workers) to exit, so their VMs count too.
    Returns the VM directories reaped.
    """
    deadline = time.monotonic() + wait_for_children
    while time.monotonic() < deadline:
        mine = [r for _, r in _records(root) if r.owner_ppid == os.getpid() and r.owner_alive()]
        if not mine:
            break
        time.sleep(0.1)
    reaped = []
    for vm_dir, rec in _records(root):
        if rec.owner_alive():
            continue
        if _kill_group(rec):
            reaped.append(vm_dir)
        forget(vm_dir)
    return reaped

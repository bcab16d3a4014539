"""harness/vm/reaper.py on real processes: a stand-in VM (a sleeping process
group) is killed only when its recorded owner is gone and its group is the
one recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from harness.topology.journal import process_start_time
from harness.vm import reaper


@pytest.fixture
def vm(tmp_path):
    """A process group like vng's (own session), with its record; killed at the end anyway."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    vm_dir = tmp_path / "run1" / "vm0"
    vm_dir.mkdir(parents=True)
    reaper.record(vm_dir, proc.pid)
    yield proc, vm_dir
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def rewrite(vm_dir: Path, **changes) -> None:
    path = vm_dir / reaper.RECORD
    rec = reaper.VMRecord(**json.loads(path.read_text()))
    path.write_text(json.dumps(asdict(replace(rec, **changes))))


def test_vm_of_a_live_owner_is_left_alone(vm, tmp_path):
    proc, vm_dir = vm
    assert reaper.reap_orphans(tmp_path) == []
    assert proc.poll() is None and (vm_dir / reaper.RECORD).exists()


def test_vm_of_a_dead_owner_is_killed_and_its_record_removed(vm, tmp_path):
    proc, vm_dir = vm
    rewrite(vm_dir, owner_pid=dead_pid(), owner_start=None)
    assert reaper.reap_orphans(tmp_path) == [vm_dir]
    assert proc.wait(timeout=10) == -9
    assert not (vm_dir / reaper.RECORD).exists()


def test_a_reused_group_id_is_not_killed(vm, tmp_path):
    proc, vm_dir = vm
    start = process_start_time(proc.pid)
    assert start is not None
    rewrite(vm_dir, owner_pid=dead_pid(), owner_start=None, pgid_start=start + 1)
    assert reaper.reap_orphans(tmp_path) == []
    assert proc.poll() is None


def test_forget_removes_the_record(vm):
    _, vm_dir = vm
    reaper.forget(vm_dir)
    reaper.forget(vm_dir)  # twice is fine
    assert not (vm_dir / reaper.RECORD).exists()

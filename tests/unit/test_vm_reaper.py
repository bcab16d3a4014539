"""harness/vm/reaper.py on real processes: a stand-in VM (a sleeping process
group whose leader is named like vng) is killed only when its recorded owner
is gone and its group is the one recorded; forged, stale and malformed
records kill nothing."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from harness.host import process_cmdline, process_start_time
from harness.vm import reaper

SLEEP = shutil.which("sleep") or "/bin/sleep"


def start_group(argv0: str) -> subprocess.Popen:
    """A process leading its own session and group (like vng), shown in /proc as ``argv0 120``."""
    return subprocess.Popen([argv0, "120"], executable=SLEEP, start_new_session=True)


@pytest.fixture
def vm(tmp_path):
    """A process group like vng's (own session, argv[0] "vng"), with its record; killed at the end anyway."""
    proc = start_group("vng")
    vm_dir = tmp_path / "run1" / "vm0"
    vm_dir.mkdir(parents=True)
    assert reaper.record(vm_dir, proc.pid)
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


@pytest.fixture
def stranger():
    """A plain ``sleep`` in its own process group: nothing of ours, must survive every forged record."""
    proc = start_group("sleep")
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def forge(tmp_path: Path, name: str, **fields) -> Path:
    """Write a record as an attacker (or a stale file) could; owner is a dead pid."""
    vm_dir = tmp_path / name / "vm0"
    vm_dir.mkdir(parents=True)
    data = {"pgid": 0, "pgid_start": 0, "owner_pid": dead_pid(), "owner_start": None, "owner_ppid": 1,
            "leader_cmdline": ["vng"]}
    data.update(fields)
    (vm_dir / reaper.RECORD).write_text(json.dumps(data))
    return vm_dir


def test_the_record_holds_the_leaders_command_line(vm):
    proc, vm_dir = vm
    data = json.loads((vm_dir / reaper.RECORD).read_text())
    assert data["leader_cmdline"] == ["vng", "120"] == process_cmdline(proc.pid)
    assert data["pgid"] == proc.pid and data["pgid_start"] == process_start_time(proc.pid)


def test_no_record_for_a_process_that_is_not_a_vm(stranger, tmp_path):
    assert not reaper.record(tmp_path, stranger.pid, wait=0.2)
    assert not (tmp_path / reaper.RECORD).exists()


def test_a_plain_sleep_named_by_a_forged_record_survives(stranger, tmp_path):
    start = process_start_time(stranger.pid)
    # Its true start time and command line: only the VM-program check stands in the way.
    forge(tmp_path, "a", pgid=stranger.pid, pgid_start=start, leader_cmdline=process_cmdline(stranger.pid))
    # Its true start time, a vng command line it does not have.
    forge(tmp_path, "b", pgid=stranger.pid, pgid_start=start, leader_cmdline=["vng", "120"])
    assert reaper.reap_orphans(tmp_path, report=lambda m: None) == []
    assert stranger.poll() is None


def test_a_stranger_renamed_vng_is_killed_only_with_matching_start_and_cmdline(tmp_path):
    """Positive control for the test above: same forged shape, a process that matches, is killed."""
    proc = start_group("vng")
    try:
        forge(tmp_path, "a", pgid=proc.pid, pgid_start=process_start_time(proc.pid),
              leader_cmdline=["vng", "120"])
        assert reaper.reap_orphans(tmp_path) == [tmp_path / "a" / "vm0"]
        assert proc.wait(timeout=10) == -9
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.parametrize("pgid", [0, 1, -1, "own"])
def test_group_0_1_negative_and_own_are_never_signalled(tmp_path, pgid, monkeypatch):
    own = os.getpgrp()
    value = own if pgid == "own" else pgid
    killed = []
    monkeypatch.setattr(os, "killpg", lambda *a: killed.append(a))
    monkeypatch.setattr(os, "kill", lambda *a: killed.append(a))
    messages: list[str] = []
    vm_dir = forge(tmp_path, "x", pgid=value, pgid_start=process_start_time(own) or 0,
                   leader_cmdline=process_cmdline(own) or ["vng"])
    assert reaper.reap_orphans(tmp_path, report=messages.append) == []
    assert killed == []
    if pgid in (0, 1, -1):  # refused by the schema: reported and moved aside
        assert messages and "pgid must be an integer > 1" in messages[0]
        assert (vm_dir / (reaper.RECORD + reaper.INVALID_SUFFIX)).exists()


def test_group_checks_are_pure():
    assert not reaper.group_may_be_signalled(0, 500)
    assert not reaper.group_may_be_signalled(1, 500)
    assert not reaper.group_may_be_signalled(500, 500)
    assert reaper.group_may_be_signalled(501, 500)


@pytest.mark.parametrize("content, why", [
    ("not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"pgid": "123", "pgid_start": 1, "owner_pid": 5, "owner_start": null, "owner_ppid": 1,'
     ' "leader_cmdline": ["vng"]}', "pgid must be"),
    ('{"pgid": true, "pgid_start": 1, "owner_pid": 5, "owner_start": null, "owner_ppid": 1,'
     ' "leader_cmdline": ["vng"]}', "pgid must be"),
    ('{"pgid": 1234, "pgid_start": 1, "owner_pid": 5, "owner_start": null, "owner_ppid": 1,'
     ' "leader_cmdline": "vng"}', "leader_cmdline"),
    ('{"pgid": 1234, "pgid_start": null, "owner_pid": 5, "owner_start": null, "owner_ppid": 1,'
     ' "leader_cmdline": ["vng"]}', "pgid_start"),
    ('{"pgid": 1234, "pgid_start": 1, "owner_pid": 5, "owner_start": null, "owner_ppid": 1}', "missing keys"),
    ('{"pgid": 1234, "pgid_start": 1, "owner_pid": 5, "owner_start": null, "owner_ppid": 1,'
     ' "leader_cmdline": ["vng"], "extra": 1}', "unknown keys"),
])
def test_invalid_records_are_reported_moved_aside_and_not_acted_on(tmp_path, content, why, monkeypatch):
    killed = []
    monkeypatch.setattr(os, "killpg", lambda *a: killed.append(a))
    monkeypatch.setattr(os, "kill", lambda *a: killed.append(a))
    vm_dir = tmp_path / "r" / "vm0"
    vm_dir.mkdir(parents=True)
    (vm_dir / reaper.RECORD).write_text(content)
    messages: list[str] = []
    assert reaper.reap_orphans(tmp_path, report=messages.append) == []
    assert killed == []
    assert len(messages) == 1 and why in messages[0] and str(vm_dir) in messages[0]
    assert not (vm_dir / reaper.RECORD).exists()
    assert (vm_dir / (reaper.RECORD + reaper.INVALID_SUFFIX)).read_text() == content
    assert reaper.reap_orphans(tmp_path, report=messages.append) == [] and len(messages) == 1  # once


def test_a_valid_record_passes_the_schema():
    rec = reaper.parse_record({"pgid": 1234, "pgid_start": 1, "owner_pid": 5, "owner_start": None,
                               "owner_ppid": 0, "leader_cmdline": ["python3", "/venv/bin/vng", "--run"]})
    assert rec.pgid == 1234 and rec.leader_cmdline == ("python3", "/venv/bin/vng", "--run")


def test_a_changed_command_line_is_not_killed(vm, tmp_path):
    proc, vm_dir = vm
    rewrite(vm_dir, owner_pid=dead_pid(), owner_start=None, leader_cmdline=["vng", "121"])
    assert reaper.reap_orphans(tmp_path) == []
    assert proc.poll() is None


@pytest.mark.parametrize("argv, expected", [
    (["vng", "--run", "x"], True),
    (["/work/.venv/bin/python3", "/work/.venv/bin/vng", "--run", "x"], True),
    (["/usr/bin/qemu-system-x86_64", "-m", "2G"], True),
    (["/usr/lib/qemu/virtiofsd", "--socket-path=x"], True),
    (["/bin/sh", "/root/.cache/netharness/shim/virtiofsd", "--socket-path", "x"], True),
    (["sleep", "120"], False),
    (["/bin/sh", "-c", "vng"], False),
    (["python3", "-c", "import os"], False),
    (["qemu-system-x86_64-evil/../sleep"], False),
    ([], False),
    (None, False),
])
def test_vm_programs(argv, expected):
    assert reaper.is_vm_program(argv) is expected


LEADER = f"""
import subprocess, sys, time
kids = [subprocess.Popen([name, "120"], executable={SLEEP!r}) for name in sys.argv[1:]]
print(" ".join(str(k.pid) for k in kids), flush=True)
time.sleep(120)
"""


def _gone(pid: int) -> bool:
    return process_start_time(pid) is None


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid) or (process_cmdline(pid) is None):  # gone, or a zombie waiting for init
            return True
        time.sleep(0.02)
    return False


def test_leaderless_group_kills_only_vm_programs_started_after_the_leader(tmp_path):
    """vng gone, its QEMU still running: the group's QEMU-named member dies, a sleep in it survives."""
    leader = subprocess.Popen([sys.executable, "-c", LEADER, "qemu-system-x86_64", "sleep", "qemu-system-x86_64"],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    kids: list[int] = []
    try:
        kids = [int(p) for p in leader.stdout.readline().split()]
        qemu, other, qemu2 = kids
        leader_start = process_start_time(leader.pid)
        assert leader_start is not None
        leader.kill()
        leader.wait()
        assert _gone(leader.pid)
        # A record claiming a leader start after its members: nothing is old enough to be the VM's.
        forge(tmp_path, "b", pgid=leader.pid, pgid_start=(process_start_time(qemu2) or 0) + 10**6,
              leader_cmdline=["vng", "120"])
        assert reaper.reap_orphans(tmp_path) == []
        assert not _gone(qemu) and not _gone(qemu2)
        # The true record: the QEMU-named members die, the plain sleep in the same group does not.
        forge(tmp_path, "a", pgid=leader.pid, pgid_start=leader_start, leader_cmdline=["vng", "120"])
        assert reaper.reap_orphans(tmp_path) == [tmp_path / "a" / "vm0"]
        assert _wait_gone(qemu) and _wait_gone(qemu2)
        assert process_cmdline(other) == ["sleep", "120"]
    finally:
        if leader.poll() is None:
            leader.kill()
        leader.wait()
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)

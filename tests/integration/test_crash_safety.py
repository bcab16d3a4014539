"""Crash safety with real namespaces: malicious journals, a taken run id, and
`netharness topo up` killed (SIGKILL, SIGTERM) at random points of its build.

Every test uses its own state dir (NETHARNESS_STATE_DIR under tmp_path), so
`clean` here only ever sees this test's journals. Machine-wide comparisons
(`ip netns list`, root links, sysctls) allow for other users of the machine
only through their own live journals in the default state dir, never by
name pattern.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from benchmarks import kill_topo_up as kill
from benchmarks.kill_topo_up import netharness, ns_of
from benchmarks.machine_state import Machine
from benchmarks.topology_star import star_yaml
from harness import netns as nsutil
from harness.host import process_start_time
from harness.topology import build as B
from harness.topology import load_topology_text
from harness.topology.live import LiveTopology

KILL_POINTS = 6
STAR_HOSTS = 20
SEED = int(os.environ.get("NH_CRASH_SEED", str(int(time.time()))))


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "state"
    monkeypatch.setenv("NETHARNESS_STATE_DIR", str(directory))
    monkeypatch.setenv("NETHARNESS_CACHE", str(tmp_path / "cache"))
    return directory


# --- malicious journals ------------------------------------------------------------


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def mount_tmpfs(where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    assert _libc.mount(b"nh-test", bytes(where), b"tmpfs", 0, b"size=64k") == 0, os.strerror(ctypes.get_errno())


def unmount(where: Path) -> None:
    _libc.umount2(bytes(where), 2)


def is_mount_point(path: Path, fstype: str) -> bool:
    return nsutil.mount_types().get(str(path)) == fstype


@pytest.fixture
def victims(tmp_path: Path):
    """A file, and a file on a tmpfs mount, that a hostile journal aims at; both must survive."""
    victim = tmp_path / "victim"
    victim.write_text("precious")
    mnt = tmp_path / "mnt"
    mount_tmpfs(mnt)
    (mnt / "inside").write_text("also precious")
    try:
        yield victim, mnt
    finally:
        unmount(mnt)


def hostile_records(run_id: str, victim: Path, mnt: Path) -> dict[str, object]:
    """Journal file name -> content: every way a record could aim cleanup at something else."""
    up = "../" * 8
    pid, start = os.getpid(), (process_start_time(os.getpid()) or 0) + 1  # a dead owner

    def rec(rid: str, netns: object = None, netdevsim: object = None, **extra: object) -> dict[str, object]:
        data = {"run_id": rid, "topology": "evil", "source": None, "pid": pid, "pid_start": start,
                "created_at": 1.0, "netns": {} if netns is None else netns,
                "netdevsim": {} if netdevsim is None else netdevsim, "complete": False, "detached": False}
        data.update(extra)
        return data

    return {
        f"{run_id}a.json": rec(f"{run_id}a", {"a": f"{up}{str(victim).lstrip('/')}"}),
        f"{run_id}b.json": rec(f"{run_id}b", {"a": f"{up}{str(mnt / 'inside').lstrip('/')}"}),
        f"{run_id}c.json": rec(f"{run_id}c", {"a": ".."}),
        f"{run_id}d.json": rec(f"{run_id}d", {"a": ""}),
        f"{run_id}e.json": rec(f"{run_id}e", {"a": str(mnt)}),
        f"{run_id}l.json": rec(f"{run_id}l", {"a": "."}),
        f"{run_id}f.json": rec(f"../{run_id}f", {"a": f"nh-../{run_id}f-a"}),
        f"{run_id}g.json": rec(f"{run_id}g", {"a": 5}, pid="1"),
        f"{run_id}h.json": rec(f"{run_id}h", netdevsim={"a/nsim0": -1}),
        f"{run_id}i.json": rec(f"{run_id}i", netdevsim={"a/nsim0": "x"}),
        f"{run_id}j.json": rec(f"{run_id}j", ["nh-x-a"]),
        f"{run_id}k.json": "{\"run_id\": ",
    }


def test_clean_and_show_set_hostile_journals_aside_and_touch_nothing(state: Path, victims) -> None:
    victim, mnt = victims
    run_netns_mount = nsutil.mount_types().get(str(nsutil.NETNS_RUN_DIR))
    run_id = B.new_run_id()
    runs = state / "runs"
    runs.mkdir(parents=True)
    records = hostile_records(run_id, victim, mnt)
    for name, data in records.items():
        (runs / name).write_text(data if isinstance(data, str) else json.dumps(data))
    before = Machine.now()

    show = netharness(state, "topo", "show")
    assert show.returncode == 0, show.stderr
    assert "Traceback" not in show.stderr
    show_lines = [line for line in show.stderr.splitlines() if line.startswith("invalid journal")]
    assert len(show_lines) == len(records)
    for name in records:
        (line,) = [line for line in show_lines if f"runs/{name}:" in line]
        assert "moved to" in line

    # Put them back (moved as NAME.json.<time>.<random>): clean must do the same on its own.
    for moved in (runs / "invalid").iterdir():
        if not moved.name.endswith(".why"):
            original = moved.name.split(".json.")[0] + ".json"
            os.rename(moved, runs / original)
    out = netharness(state, "clean")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    clean_lines = [line for line in out.stdout.splitlines() if line.startswith("invalid journal")]
    assert len(clean_lines) == len(records), out.stdout
    assert list(runs.glob("*.json")) == []

    again = netharness(state, "clean")
    assert "invalid journal" not in again.stdout and "nothing to clean" in again.stdout

    assert victim.read_text() == "precious"
    assert is_mount_point(mnt, "tmpfs") and (mnt / "inside").read_text() == "also precious"
    assert nsutil.mount_types().get(str(nsutil.NETNS_RUN_DIR)) == run_netns_mount
    assert Machine.now().changes_since(before) == {}


def test_clean_removes_only_namespace_mounts_and_empty_files_a_dead_record_names(state: Path) -> None:
    """Well-formed names, wrong things behind them: a tmpfs mount and a non-empty file stay."""
    run_id = B.new_run_id()
    live = LiveTopology.up(load_topology_text("version: 1\nname: one\nnodes:\n  ns: {}\n", "one.yaml"), run_id)
    live._applier.close()  # as if its owner had died: the namespace stays, the journal is dead
    journal = live.journal
    journal.pid_start = (journal.pid_start or 0) + 1
    mount_dir, full_file, empty_file = (nsutil.NETNS_RUN_DIR / f"nh-{run_id}-{n}" for n in ("mnt", "full", "empty"))
    mount_tmpfs(mount_dir)
    full_file.write_text("not a namespace")
    empty_file.touch()
    try:
        journal.netns.update({"mnt": mount_dir.name, "full": full_file.name, "empty": empty_file.name})
        journal.save()
        out = netharness(state, "clean")
        assert out.returncode == 0, out.stderr
        assert f"netns nh-{run_id}-ns" in out.stdout and f"netns nh-{run_id}-empty" in out.stdout
        assert "tmpfs mount, not a namespace" in out.stdout and "neither a namespace nor an empty file" in out.stdout
        assert sorted(ns_of(run_id)) == sorted([mount_dir.name, full_file.name])
        assert is_mount_point(mount_dir, "tmpfs")
        assert full_file.read_text() == "not a namespace"
    finally:
        unmount(mount_dir)
        mount_dir.rmdir()
        full_file.unlink(missing_ok=True)
        empty_file.unlink(missing_ok=True)
        nsutil.remove(f"nh-{run_id}-ns")
    assert ns_of(run_id) == []


# --- one run id, two builds --------------------------------------------------------------

PAIR = "version: 1\nname: pair\nnodes:\n  a: {interfaces: {eth0: {addresses: [10.5.0.1/24]}}}\n" \
       "  b: {interfaces: {eth0: {addresses: [10.5.0.2/24]}}}\nlinks:\n  - [a:eth0, b:eth0]\n"


def test_a_second_build_with_the_same_run_id_is_refused_and_the_first_is_intact(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topo = load_topology_text(PAIR, "pair.yaml")
    run_id = B.new_run_id()
    first = LiveTopology.up(topo, run_id)
    try:
        names = sorted(ns_of(run_id))
        assert names == [f"nh-{run_id}-a", f"nh-{run_id}-b"]
        journal_bytes = first.journal.path.read_bytes()
        # Same state dir: the journal reservation refuses.
        with pytest.raises(B.RunExistsError, match="already in use"):
            LiveTopology.up(topo, run_id)
        # Another state dir (its own journal reserves fine): the namespace check refuses.
        monkeypatch.setenv("NETHARNESS_STATE_DIR", str(tmp_path / "other"))
        with pytest.raises(B.RunExistsError, match="already exists"):
            LiveTopology.up(topo, run_id)
        # And if a race slips past that check, the exclusive create fails and
        # rollback leaves the first run's namespaces alone.
        monkeypatch.setattr(B, "_taken_names", lambda plan: [])
        with pytest.raises(B.BuildError):
            LiveTopology.up(topo, run_id)
        monkeypatch.setenv("NETHARNESS_STATE_DIR", str(state))
        assert sorted(ns_of(run_id)) == names
        assert first.journal.path.read_bytes() == journal_bytes
        first["a"].run(["ping", "-c1", "-W2", "10.5.0.2"])  # still working
    finally:
        first.down()
    assert ns_of(run_id) == []


# --- topo up killed mid-build ----------------------------------------------------------------
# A small version of benchmarks/kill_topo_up.py (which runs 50 kills of a
# 50-namespace topology): the same kill-and-clean step, asserted here.


@pytest.fixture
def star(tmp_path: Path) -> Path:
    path = tmp_path / "star.yaml"
    path.write_text(star_yaml(STAR_HOSTS))
    return path


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_topo_up_killed_at_random_points_leaves_the_machine_as_before(
    state: Path, star: Path, sig: signal.Signals
) -> None:
    """SIGKILL: `clean` removes what the dead build left. SIGTERM: the build unwinds itself."""
    rng = random.Random(SEED + sig)
    before = Machine.now()
    build_seconds = kill.calibrate(state, star)
    assert Machine.now().changes_since(before) == {}
    outcomes = []
    for _ in range(KILL_POINTS):
        outcome = kill.kill_once(state, star, rng.uniform(0, build_seconds * 1.1), sig)
        outcomes.append(outcome)
        assert outcome.problems == [], (SEED, outcome)
        assert kill.ns_of(outcome.run_id) == []
        assert Machine.now().changes_since(before) == {}, (SEED, outcomes)
        assert list((state / "runs").glob("*.json")) == []
    # Negative control: at least one signal landed mid-build while namespaces
    # existed, so the cleanup above had something to remove.
    assert any(not o.finished and o.at_signal > 0 for o in outcomes), (SEED, outcomes)

"""Journals are untrusted input to cleanup; builds reserve their run id; rollback
removes only what the run made. No root needed: every test uses a throwaway
state dir (NETHARNESS_STATE_DIR) and, where /run/netns would be touched, a
throwaway directory in its place with the kernel calls replaced.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from harness import cli
from harness import netns as nsutil
from harness.host import process_start_time
from harness.topology import build as B
from harness.topology import runs as C
from harness.topology import journal as J
from harness.topology import load_topology_text
from harness.topology import plan as P

TWO_NODES = "version: 1\nname: two\nnodes:\n  a: {}\n  b: {}\n"


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state dir and VM cache for every test: nothing here sees the machine's runs."""
    monkeypatch.setenv("NETHARNESS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NETHARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "state"


@pytest.fixture
def fake_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for /run/netns, with mount/umount replaced: nothing is mounted for real."""
    run_dir = tmp_path / "netns"
    run_dir.mkdir()
    monkeypatch.setattr(nsutil, "NETNS_RUN_DIR", run_dir)
    return run_dir


def dead_identity() -> tuple[int, int]:
    """A (pid, start) pair of no living process: this pid with a start time it never had."""
    start = process_start_time(os.getpid())
    assert start is not None
    return os.getpid(), start + 1


def record(run_id: str = "abc123", **changes: object) -> dict:
    pid, start = dead_identity()
    data = {
        "run_id": run_id, "topology": "two", "source": None, "pid": pid, "pid_start": start,
        "created_at": time.time(), "netns": {"a": f"nh-{run_id}-a", "b": f"nh-{run_id}-b"},
        "netdevsim": {"a/nsim0": 4001}, "complete": True, "detached": False,
    }
    data.update(changes)
    return data


def write(state: Path, name: str, data: object) -> Path:
    path = state / "runs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# --- the record's form ------------------------------------------------------------


def test_a_sound_record_loads(state: Path) -> None:
    journal = J.Journal.load(write(state, "abc123.json", record()))
    assert journal.netns == {"a": "nh-abc123-a", "b": "nh-abc123-b"}
    assert journal.netdevsim == {"a/nsim0": 4001}


UNSOUND = {
    "netns name with a slash": (record(netns={"a": "nh-abc123-a/../../x"}), "netns"),
    "netns name ..": (record(netns={"a": ".."}), "netns"),
    "empty netns name": (record(netns={"a": ""}), "netns"),
    "netns name of another run": (record(netns={"a": "nh-other-a"}), "nh-abc123-a"),
    "node with capitals": (record(netns={"A": "nh-abc123-A"}), "netns"),
    "node too long": (record(netns={"a" * 17: f"nh-abc123-{'a' * 17}"}), "netns"),
    "run_id with ../": (record(run_id="../x"), "run_id"),
    "run_id not the file name": (record(run_id="zzz"), "file's name"),
    "pid a string": (record(pid="1"), "pid"),
    "pid zero": (record(pid=0), "pid"),
    "pid a bool": (record(pid=True), "pid"),
    "netns a list": (record(netns=["nh-abc123-a"]), "netns"),
    "netdevsim id -1": (record(netdevsim={"a/nsim0": -1}), "netdevsim"),
    "netdevsim id x": (record(netdevsim={"a/nsim0": "x"}), "netdevsim"),
    "netdevsim id a float": (record(netdevsim={"a/nsim0": 4001.0}), "netdevsim"),
    "netdevsim id of a selftest": (record(netdevsim={"a/nsim0": 10}), "netdevsim"),
    "netdevsim key with ..": (record(netdevsim={"../x": 4001}), "netdevsim"),
    "complete a string": (record(complete="yes"), "complete"),
    "unknown field": (record(extra=1), "extra"),
    "missing field": ({k: v for k, v in record().items() if k != "pid"}, "pid"),
    "not an object": ([1, 2], "record"),
    "not JSON": ("{nope", "not JSON"),
    "NaN": (json.dumps(record()).replace('"created_at": ', '"created_at": NaN, "x": '), "JSON"),
}


@pytest.mark.parametrize("data, mentions", UNSOUND.values(), ids=list(UNSOUND))
def test_an_unsound_record_is_refused_with_a_reason(state: Path, data: object, mentions: str) -> None:
    path = write(state, "abc123.json", data)
    with pytest.raises(J.InvalidJournal) as err:
        J.Journal.load(path)
    assert mentions in err.value.reason
    assert "\n" not in err.value.reason and len(err.value.reason) < 300


def test_a_symlink_or_fifo_is_not_followed_or_read(state: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(record()))
    (state / "runs").mkdir(parents=True)
    (state / "runs" / "abc123.json").symlink_to(target)
    os.mkfifo(state / "runs" / "fifo1.json")  # reading it would block forever
    journals, invalid = J.scan()
    assert journals == []
    assert sorted(i.path.name for i in invalid) == ["abc123.json", "fifo1.json"]
    assert target.exists()


def test_netns_names_the_planner_makes_pass_the_check(state: Path) -> None:
    """The validator and plan.netns_name agree, for the longest names the topology schema allows."""
    nodes = ["a", "h1", "sw", "x" * 16, "a-b-c", "0a"]
    topo = load_topology_text("version: 1\nname: n\nnodes:\n" + "".join(f"  {n}: {{}}\n" for n in nodes), "n.yaml")
    for run_id in (B.new_run_id(), "f00dfa11", "z" * 12):
        plan = P.make_plan(topo, run_id)
        journal = J.Journal.new(run_id, "n", None)
        journal.netns = dict(plan.netns)
        journal.reserve()
        assert J.Journal.load(journal.path).netns == plan.netns
        assert all(name == f"nh-{run_id}-{node}" for node, name in plan.netns.items())


def test_run_ids_new_run_id_and_callers_make_are_accepted_others_not() -> None:
    for good in [B.new_run_id() for _ in range(50)] + ["f00dfa11", "a", "z" * 12]:
        assert J.check_run_id(good) == good
    for bad in ["", "../x", "a/b", "a-b", "A1", "z" * 13, "a.b", None, 5]:
        with pytest.raises(ValueError):
            J.check_run_id(bad)


def test_schema_floor_for_netdevsim_ids_is_the_allocators_first_id() -> None:
    schema = J.journal_schema()
    assert schema["properties"]["netdevsim"]["additionalProperties"]["minimum"] == B.NETDEVSIM_FIRST_ID


def test_state_dir_is_read_on_every_call(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NETHARNESS_STATE_DIR", str(tmp_path / "one"))
    assert J.runs_dir() == tmp_path / "one" / "runs"
    monkeypatch.setenv("NETHARNESS_STATE_DIR", str(tmp_path / "two"))
    assert J.runs_dir() == tmp_path / "two" / "runs"


# --- setting unsound records aside ----------------------------------------------------


def test_scan_moves_an_unsound_record_aside_once(state: Path) -> None:
    write(state, "abc123.json", record(netns={"a": "../../etc"}))
    journals, invalid = J.scan()
    assert journals == [] and len(invalid) == 1
    moved = invalid[0].moved_to
    assert moved is not None and moved.parent == state / "runs" / "invalid" and moved.exists()
    assert "netns" in Path(f"{moved}.why").read_text()
    assert not (state / "runs" / "abc123.json").exists()
    assert J.scan() == ([], [])  # a later scan neither sees nor reports it


def test_records_set_aside_under_one_name_twice_keep_both(state: Path) -> None:
    for _ in range(2):
        write(state, "abc123.json", "garbage")
        J.scan()
    assert len([p for p in (state / "runs" / "invalid").iterdir() if not p.name.endswith(".why")]) == 2


def test_all_journals_skips_unsound_records_without_moving_them(state: Path) -> None:
    """A build allocating netdevsim ids reads journals but leaves judging them to clean."""
    bad = write(state, "abc123.json", "garbage")
    good = write(state, "def456.json", record("def456"))
    assert [j.run_id for j in J.all_journals()] == ["def456"]
    assert bad.exists() and good.exists()


# --- states -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alive, complete, detached, state",
    [
        (True, False, False, C.BUILDING),
        (True, False, True, C.BUILDING),
        (True, True, False, C.RUNNING),
        (True, True, True, C.DETACHED),
        (False, True, True, C.DETACHED),
        (False, True, False, C.DEAD),
        (False, False, False, C.DEAD_INCOMPLETE),
        (False, False, True, C.DEAD_INCOMPLETE),  # a killed `topo up`
    ],
)
def test_a_run_is_detached_only_once_complete(alive: bool, complete: bool, detached: bool, state: str) -> None:
    journal = J.Journal(**record(complete=complete, detached=detached))
    if alive:
        journal.pid, journal.pid_start = os.getpid(), process_start_time(os.getpid())
    assert C.classify(journal) == state
    assert C.RunState(journal, state).removable == (not alive and not (complete and detached))


# --- clean never acts on what it cannot trust ----------------------------------------------


@pytest.fixture
def kernel_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """Record removals instead of doing them."""
    calls: list[tuple[str, object]] = []
    monkeypatch.setattr(B, "delete_netdevsim", lambda dev_id: calls.append(("netdevsim", dev_id)) or True)
    monkeypatch.setattr(nsutil, "remove", lambda name, mounts=None: calls.append(("netns", name)) or True)
    monkeypatch.setattr(nsutil, "mount_types", lambda: {})
    return calls


@pytest.mark.parametrize("data, mentions", UNSOUND.values(), ids=list(UNSOUND))
def test_clean_reports_and_sets_aside_an_unsound_record_and_acts_on_nothing(
    state: Path, kernel_calls: list, capsys: pytest.CaptureFixture[str], data: object, mentions: str
) -> None:
    write(state, "abc123.json", data)
    assert cli.main(["clean"]) == cli.EXIT_OK
    lines = [line for line in capsys.readouterr().out.splitlines() if "abc123" in line]
    assert len(lines) == 1 and lines[0].startswith(f"invalid journal {state / 'runs' / 'abc123.json'}: ")
    assert mentions in lines[0] and "moved to" in lines[0]
    assert kernel_calls == []
    assert not (state / "runs" / "abc123.json").exists()
    assert cli.main(["clean"]) == cli.EXIT_OK
    assert "invalid journal" not in capsys.readouterr().out  # set aside: not repeated


def test_clean_removes_a_dead_incomplete_detached_run_and_keeps_live_ones(
    state: Path, kernel_calls: list, capsys: pytest.CaptureFixture[str]
) -> None:
    write(state, "dead1.json", record("dead1", complete=False, detached=True, netdevsim={"a/nsim0": 4001}))
    me = {"pid": os.getpid(), "pid_start": process_start_time(os.getpid())}
    write(state, "live1.json", record("live1", complete=False, netdevsim={"a/nsim0": 4002}, **me))
    write(state, "up1.json", record("up1", complete=True, detached=True, netdevsim={}))
    result = C.clean_dead_runs()
    assert [r for r, _, _ in result.cleaned] == ["dead1"]
    assert ("netns", "nh-dead1-a") in kernel_calls and ("netdevsim", 4001) in kernel_calls
    assert not any("live1" in str(name) or "up1" in str(name) for _, name in kernel_calls)
    assert {(r.journal.run_id, r.state) for r in result.kept} == {("live1", C.BUILDING), ("up1", C.DETACHED)}


def test_clean_spares_a_netdevsim_id_a_live_run_holds(state: Path, kernel_calls: list) -> None:
    write(state, "dead1.json", record("dead1", netdevsim={"a/nsim0": 4001, "b/nsim0": 4002}))
    me = {"pid": os.getpid(), "pid_start": process_start_time(os.getpid())}
    write(state, "live1.json", record("live1", netdevsim={"a/nsim0": 4001}, **me))
    result = C.clean_dead_runs()
    assert ("netdevsim", 4001) not in kernel_calls and ("netdevsim", 4002) in kernel_calls
    assert any("4001" in note and "another run" in note for note in result.cleaned[0][2])


def test_topo_show_marks_incomplete_runs_and_reports_unsound_ones(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(state, "dead1.json", record("dead1", complete=False, detached=True))
    write(state, "evil.json", record("evil", netns={"a": "nh-evil-a/../../../run"}))
    assert cli.main(["topo", "show"]) == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert re.search(r"dead1 .* dead \(incomplete\)", out)
    assert "detached" not in out
    (line,) = err.splitlines()
    assert "evil.json" in line and "netns" in line and "moved to" in line


# --- netns.remove: defence in depth ----------------------------------------------------------


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x", "/", "a\0b", None])
def test_netns_remove_refuses_names_that_are_not_one_entry(name: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nsutil, "_libc", None)  # any kernel call would fail loudly
    with pytest.raises(ValueError):
        nsutil.remove(name)  # type: ignore[arg-type]


@pytest.fixture
def umounts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, int]]:
    calls: list[tuple[bytes, int]] = []

    class FakeLibc:
        def umount2(self, path: bytes, flags: int) -> int:
            calls.append((path, flags))
            return 0

    monkeypatch.setattr(nsutil, "_libc", FakeLibc())
    return calls


def test_netns_remove_unlinks_an_interrupted_creations_empty_file(fake_run_dir: Path, umounts: list) -> None:
    (fake_run_dir / "nh-a-x").touch()
    assert nsutil.remove("nh-a-x", mounts={}) is True
    assert not (fake_run_dir / "nh-a-x").exists() and umounts == []
    assert nsutil.remove("nh-a-x", mounts={}) is False


@pytest.mark.parametrize("kind", ["non-empty file", "directory", "symlink"])
def test_netns_remove_leaves_what_is_not_a_namespace(fake_run_dir: Path, tmp_path: Path, umounts: list, kind: str) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    entry = fake_run_dir / "nh-a-x"
    if kind == "non-empty file":
        entry.write_text("data")
    elif kind == "directory":
        entry.mkdir()
    else:
        entry.symlink_to(victim)
    with pytest.raises(nsutil.NotANamespaceError):
        nsutil.remove("nh-a-x", mounts={})
    assert os.path.lexists(entry) and victim.read_text() == "precious" and umounts == []


def test_netns_remove_never_unmounts_a_mount_that_is_not_nsfs(fake_run_dir: Path, umounts: list) -> None:
    (fake_run_dir / "nh-a-x").mkdir()
    with pytest.raises(nsutil.NotANamespaceError, match="tmpfs"):
        nsutil.remove("nh-a-x", mounts={str(fake_run_dir / "nh-a-x"): "tmpfs"})
    assert umounts == []


def test_netns_remove_unmounts_an_nsfs_mount_without_following_links(
    fake_run_dir: Path, umounts: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fake_run_dir / "nh-a-x").touch()
    monkeypatch.setattr(nsutil, "mount_types", lambda: {})  # gone after the unmount
    assert nsutil.remove("nh-a-x", mounts={str(fake_run_dir / "nh-a-x"): "nsfs"}) is True
    ((path, flags),) = umounts
    assert path == bytes(fake_run_dir / "nh-a-x") and flags & nsutil._UMOUNT_NOFOLLOW


def test_mountinfo_is_parsed_with_escapes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "30 25 0:4 net:[4026532] /run/netns/nh-a-x rw shared:5 - nsfs nsfs rw\n"
        "31 25 0:50 / /tmp/a\\040b rw,relatime shared:6 - tmpfs tmpfs rw\n"
    )
    real_open = open
    monkeypatch.setattr("builtins.open", lambda p, *a, **k: real_open(info if p == "/proc/self/mountinfo" else p, *a, **k))
    assert nsutil.mount_types() == {"/run/netns/nh-a-x": "nsfs", "/tmp/a b": "tmpfs"}


@pytest.mark.parametrize("dev_id", [-1, 0, 10, 3999, "4001", True, 4001.0])
def test_delete_netdevsim_refuses_ids_the_harness_never_allocates(dev_id: object) -> None:
    with pytest.raises(ValueError):
        B.delete_netdevsim(dev_id)  # type: ignore[arg-type]


# --- build: reservation and rollback ------------------------------------------------------------


@pytest.fixture
def fake_kernel(fake_run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """nsutil.create makes an empty file (as its O_EXCL step does); handles and links are dummies."""
    state: dict = {"created": [], "fail_on": {}}

    def create(name: str) -> int:
        if name in state["fail_on"]:
            raise state["fail_on"][name]
        os.close(os.open(fake_run_dir / name, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
        state["created"].append(name)
        return os.open("/dev/null", os.O_RDONLY)

    class Handle:
        def __init__(self, name: str, fd: int) -> None:
            self.name, self.fd = name, fd

        def close(self) -> None:
            os.close(self.fd)

    monkeypatch.setattr(nsutil, "create", create)
    monkeypatch.setattr(B.NamespaceHandle, "open", classmethod(lambda cls, name, fd: Handle(name, fd)))
    monkeypatch.setattr(B.Applier, "_do_ConfigureLink", lambda self, op: None)
    monkeypatch.setattr(nsutil, "mount_types", lambda: {})
    return state


def test_a_taken_run_id_is_refused_before_anything_is_created(state: Path, fake_kernel: dict) -> None:
    topo = load_topology_text(TWO_NODES, "two.yaml")
    first, _ = B.build(topo, run_id="same1")
    before = first.path.read_bytes()
    with pytest.raises(B.RunExistsError, match="same1"):
        B.build(topo, run_id="same1")
    assert fake_kernel["created"] == ["nh-same1-a", "nh-same1-b"]  # the first build's only
    assert first.path.read_bytes() == before


def test_a_taken_namespace_name_is_refused_and_left_alone(state: Path, fake_kernel: dict, fake_run_dir: Path) -> None:
    (fake_run_dir / "nh-same2-b").write_text("someone else's")
    with pytest.raises(B.RunExistsError, match="nh-same2-b"):
        B.build(load_topology_text(TWO_NODES, "two.yaml"), run_id="same2")
    assert fake_kernel["created"] == []
    assert (fake_run_dir / "nh-same2-b").read_text() == "someone else's"
    assert list((state / "runs").glob("*.json")) == []  # the reservation is given back


def test_rollback_removes_only_what_this_run_created(
    state: Path, fake_kernel: dict, fake_run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name taken between the check and the create (EEXIST) stays; the run's own namespace goes."""
    fake_kernel["fail_on"]["nh-race1-b"] = FileExistsError(17, "File exists")
    other = fake_run_dir / "nh-race1-b"
    other.touch()  # someone else's, created after our check
    monkeypatch.setattr(B, "_taken_names", lambda plan: [])  # the race: the check saw nothing
    with pytest.raises(B.BuildError):
        B.build(load_topology_text(TWO_NODES, "two.yaml"), run_id="race1")
    assert not (fake_run_dir / "nh-race1-a").exists()
    assert other.exists()
    assert list((state / "runs").glob("*.json")) == []


def test_a_bad_run_id_is_refused_before_anything_is_created(state: Path, fake_kernel: dict) -> None:
    with pytest.raises(ValueError):
        B.build(load_topology_text(TWO_NODES, "two.yaml"), run_id="../x")
    assert fake_kernel["created"] == [] and not (state / "runs").exists()


def test_reserve_is_exclusive_and_leaves_no_temporary_files(state: Path) -> None:
    first = J.Journal.new("resv1", "t", None)
    first.reserve()
    second = J.Journal.new("resv1", "other", None)
    with pytest.raises(FileExistsError):
        second.reserve()
    assert J.Journal.load(first.path).topology == "t"
    assert [p.name for p in (state / "runs").iterdir()] == ["resv1.json"]


# --- topo up: requires, signals ----------------------------------------------------------------------


def test_topo_up_refuses_unmet_requires_creating_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(B, "build", lambda *a, **k: pytest.fail("build must not be called"))
    path = tmp_path / "needs.yaml"
    path.write_text(TWO_NODES + "requires: {tools: [no-such-tool-nh], sysfs: [/sys/no/such/nh]}\n")
    assert cli.main(["topo", "up", str(path)]) == cli.EXIT_FAIL
    (line,) = capsys.readouterr().err.splitlines()
    assert "no-such-tool-nh" in line and "/sys/no/such/nh" in line and "nothing created" in line


def test_sigterm_while_building_unwinds_and_the_handler_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unwound = []

    def slow_build(topo: object, detached: bool = False) -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            pytest.fail("SIGTERM did not interrupt the build")
        except BaseException as exc:
            unwound.append(type(exc))
            raise

    monkeypatch.setattr(B, "build", slow_build)
    path = tmp_path / "two.yaml"
    path.write_text(TWO_NODES)
    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(["topo", "up", str(path)]) == 130
    assert unwound == [KeyboardInterrupt]
    assert signal.getsignal(signal.SIGTERM) == before
    assert "interrupted" in capsys.readouterr().err


def test_a_rollback_that_cannot_remove_everything_says_so_and_keeps_the_journal(
    state: Path, fake_kernel: dict, fake_run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_kernel["fail_on"]["nh-stuck1-b"] = OSError(12, "Cannot allocate memory")

    def remove(name: str, mounts: object = None) -> bool:
        raise OSError(16, f"unmount {name}: Device or resource busy")

    monkeypatch.setattr(nsutil, "remove", remove)
    with pytest.raises(B.BuildError) as info:
        B.build(load_topology_text(TWO_NODES, "two.yaml"), run_id="stuck1")
    assert info.value.left_behind
    assert [p.name for p in (state / "runs").glob("*.json")] == ["stuck1.json"]  # for `clean`


def test_a_clean_rollback_leaves_nothing_and_says_so(state: Path, fake_kernel: dict) -> None:
    fake_kernel["fail_on"]["nh-fine1-b"] = OSError(12, "Cannot allocate memory")
    with pytest.raises(B.BuildError) as info:
        B.build(load_topology_text(TWO_NODES, "two.yaml"), run_id="fine1")
    assert not info.value.left_behind
    assert list((state / "runs").glob("*.json")) == []

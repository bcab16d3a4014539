"""Build, teardown, failure halfway, clean after a kill, concurrent runs.

Each test checks only the objects its own run created (by run id and
journal), so the suite can run next to other users of the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import netns as nsutil
from harness.topology import load_topology, load_topology_text
from harness.topology.build import BuildError
from harness.topology.journal import runs_dir
from harness.topology.live import LiveTopology

REPO = Path(__file__).resolve().parents[2]
BRIDGE3 = REPO / "topologies" / "bridge-3hosts.yaml"


def root_links() -> set[str]:
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {link["ifname"] for link in json.loads(out)}


def run_namespaces(run_id: str) -> list[str]:
    return [n for n in nsutil.list_names() if n.startswith(f"nh-{run_id}-")]


def test_build_then_teardown_leaves_nothing():
    links_before = root_links()
    live = LiveTopology.up(load_topology(BRIDGE3))
    run_id = live.run_id
    assert sorted(run_namespaces(run_id)) == sorted(f"nh-{run_id}-{n}" for n in ("sw", "h1", "h2", "h3"))
    assert (runs_dir() / f"{run_id}.json").is_file()
    sw = live["sw"]
    assert sw.link("br0")["up"]
    assert sw.link("p1")["master"] == sw.link("br0")["index"]
    assert str(live["h2"].addresses("eth0")[0]) == "10.0.0.2/24"
    removed = live.down()
    assert len(removed) == 4
    assert run_namespaces(run_id) == []
    assert not (runs_dir() / f"{run_id}.json").exists()
    assert root_links() == links_before


def test_ipv6_addresses_are_usable_at_once():
    with LiveTopology.up(load_topology(BRIDGE3)) as live:
        out = live["h1"].run(["ip", "-6", "-j", "addr", "show", "dev", "eth0"]).stdout
        flags = [a for i in json.loads(out) for a in i["addr_info"] if a["family"] == "inet6" and a["scope"] == "global"]
        assert flags and not any(a.get("tentative") for a in flags)
        live["h1"].run(["ping", "-6", "-c1", "-W2", "2001:db8::2"])


FAILS_LATE = """
version: 1
name: fails-late
nodes:
  a:
    interfaces:
      eth0:
        addresses: [10.9.0.1/24]
        ethtool: {rings: {rx: 64}}   # valid, but veth has no ring settings: refused at build
  b:
    interfaces:
      eth0: {addresses: [10.9.0.2/24]}
links:
  - [a:eth0, b:eth0]
"""


def test_failure_halfway_undoes_everything():
    topo = load_topology_text(FAILS_LATE, "fails-late.yaml")
    before_ns, before_links = set(nsutil.list_names()), root_links()
    with pytest.raises(BuildError) as err:
        LiveTopology.up(topo, run_id="f00dfa11")
    # Names the setting's file:line:col, the operation and the kernel's answer.
    assert str(err.value).startswith("fails-late.yaml:9:"), err.value
    assert "ethtool -G eth0 rx 64 in node a failed" in str(err.value)
    assert run_namespaces("f00dfa11") == []
    assert not (runs_dir() / "f00dfa11.json").exists()
    assert set(nsutil.list_names()) - before_ns == set()
    assert root_links() == before_links


HOLDER = textwrap.dedent(
    """
    import sys, time
    from harness.topology import load_topology
    from harness.topology.live import LiveTopology
    live = LiveTopology.up(load_topology(sys.argv[1]))
    print(live.run_id, flush=True)
    time.sleep(600)
    """
)


def start_holder() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(BRIDGE3)], stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, "holder process did not build its topology"
    return proc, run_id


def netharness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_clean_removes_a_killed_runs_leftovers_and_spares_a_live_run():
    dead, dead_id = start_holder()
    alive, alive_id = start_holder()
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        assert len(run_namespaces(dead_id)) == 4  # a kill skips teardown
        out = netharness("clean")
        assert out.returncode == 0, out.stderr
        assert f"run {dead_id}" in out.stdout
        assert run_namespaces(dead_id) == []
        assert len(run_namespaces(alive_id)) == 4  # the live run is untouched
        assert f"kept {alive_id}" in out.stdout
    finally:
        for proc in (dead, alive):
            proc.kill()
            proc.wait()
        netharness("clean")
    assert run_namespaces(alive_id) == []


def test_two_concurrent_runs_of_one_topology_do_not_collide():
    procs = [start_holder() for _ in range(2)]
    try:
        ids = [run_id for _, run_id in procs]
        assert ids[0] != ids[1]
        for run_id in ids:
            assert len(run_namespaces(run_id)) == 4
    finally:
        for proc, _ in procs:
            proc.kill()
            proc.wait()
        netharness("clean")
    for _, run_id in procs:
        assert run_namespaces(run_id) == []


def test_cli_up_down_round_trip_restores_the_machine():
    before_ns, before_links = nsutil.list_names(), root_links()
    up = netharness("topo", "up", str(BRIDGE3))
    assert up.returncode == 0, up.stderr
    run_id = up.stdout.split("run ")[1].split()[0]
    assert len(run_namespaces(run_id)) == 4
    show = netharness("topo", "show")
    assert run_id in show.stdout and "detached" in show.stdout
    assert netharness("clean").returncode == 0
    assert len(run_namespaces(run_id)) == 4, "clean must not remove a topology brought up with 'topo up'"
    down = netharness("topo", "down", run_id)
    assert down.returncode == 0, down.stderr
    assert nsutil.list_names() == before_ns
    assert root_links() == before_links


def test_cli_validate_rejects_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nnodes:\n  a:\n    interfaces:\n      eth0: {adresses: [10.0.0.1/24]}\n")
    out = netharness("topo", "validate", str(bad))
    assert out.returncode == 1
    assert f"{bad}:6:" in out.stderr
    assert "addresses" in out.stderr  # says what to write instead
    assert "Traceback" not in out.stderr


def test_cli_up_of_a_bad_file_creates_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nnodes:\n  a: {}\nlinks:\n  - [a:eth0, b:eth0]\n")
    before = nsutil.list_names()
    out = netharness("topo", "up", str(bad))
    assert out.returncode == 1 and f"{bad}:6" in out.stderr
    assert nsutil.list_names() == before

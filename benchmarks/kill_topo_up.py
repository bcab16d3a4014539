#!/usr/bin/env python3
"""Benchmark: `netharness topo up` killed at random points, then `netharness clean`.

A star topology of N namespaces (one bridge namespace, N-1 hosts) is
brought up with the real CLI; at each of P random points of its build
(uniform over 0..1.1 x the measured build time, counted from the moment its
journal appears) the process gets SIGKILL (or SIGTERM with ``--signal
term``). After a SIGKILL, a run that had not finished must show as
"dead (incomplete)" in `topo show` and `clean` must remove it; a run that
had finished is a detached topology and `topo down` removes it. After a
SIGTERM the build unwinds itself: no journal and nothing left, no clean.

After every point the machine must be exactly as before: `ip netns list`,
root-namespace links, root sysctls, netdevsim devices
(``benchmarks/machine_state.py``). Prints per-point progress, then the
figures; exits 1 if any point left the machine changed. Uses a private
state directory, so other harness runs on the machine are never touched.
Run as root.

Usage: benchmarks/kill_topo_up.py [--points 50] [--nodes 50] [--signal kill|term] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.machine_state import Machine  # noqa: E402
from benchmarks.topology_star import star_yaml  # noqa: E402
from harness import netns as nsutil  # noqa: E402

ENTRY = REPO / ".venv" / "bin" / "netharness"
NETHARNESS = [str(ENTRY)] if ENTRY.exists() else [sys.executable, "-m", "harness.cli"]


def env(state: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "NETHARNESS_STATE_DIR": str(state),
            "NETHARNESS_CACHE": str(state.parent / "cache")}


def netharness(state: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NETHARNESS, *args], capture_output=True, text=True, cwd=REPO, env=env(state),
                          timeout=timeout)


def ns_of(run_id: str) -> list[str]:
    """This run's namespaces: the run id is the journal's, so the prefix is exactly this run's."""
    return [n for n in nsutil.list_names() if n.startswith(f"nh-{run_id}-")]


def wait_for_journal(runs: Path, proc: subprocess.Popen, timeout: float = 60) -> Path | None:
    """The run's journal as soon as it appears (None if the process ended first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(runs.glob("*.json"))
        if found:
            return found[0]
        if proc.poll() is not None:
            return None
        time.sleep(0.001)
    raise AssertionError("topo up wrote no journal")


def read_journal(path: Path | None) -> dict | None:
    try:
        return json.loads(path.read_text()) if path else None
    except FileNotFoundError:
        return None


def start_up(state: Path, yaml_path: Path) -> subprocess.Popen:
    return subprocess.Popen([*NETHARNESS, "topo", "up", str(yaml_path)], cwd=REPO, env=env(state),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def calibrate(state: Path, yaml_path: Path) -> float:
    """Seconds from the journal's appearance to its "complete" mark: the build, which the
    kill points must cover (not the process's exit, which comes later). The run is then
    brought down again."""
    proc = start_up(state, yaml_path)
    journal = wait_for_journal(state / "runs", proc)
    started = time.monotonic()
    took = None
    while took is None and proc.poll() is None:
        data = read_journal(journal)
        if data is not None and data.get("complete"):
            took = time.monotonic() - started
        time.sleep(0.001)
    _, err = proc.communicate(timeout=300)
    if took is None:
        took = time.monotonic() - started
    if proc.returncode != 0 or journal is None:
        raise RuntimeError(f"topo up failed: {err}")
    down = netharness(state, "topo", "down", json.loads(journal.read_text())["run_id"])
    if down.returncode != 0:
        raise RuntimeError(f"topo down failed: {down.stderr}")
    return took


@dataclass
class KillOutcome:
    """One kill: whether the build had finished, what it left, and what cleaning it took."""

    run_id: str
    finished: bool
    at_signal: int  # the run's namespaces when the signal was sent
    left: int  # the run's namespaces once the process was gone (before any cleanup)
    cleanup: str  # "clean", "topo down" or "none" (SIGTERM unwound it)
    cleanup_seconds: float
    problems: list[str] = field(default_factory=list)  # anything that was not as it must be


def kill_once(state: Path, yaml_path: Path, delay: float, sig: signal.Signals) -> KillOutcome:
    """Start `topo up`, send ``sig`` ``delay`` seconds after its journal appears, then clean up."""
    proc = start_up(state, yaml_path)
    journal = wait_for_journal(state / "runs", proc)
    time.sleep(delay)
    before_signal = read_journal(journal)
    at_signal = len(ns_of(before_signal["run_id"])) if before_signal else 0
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    after = read_journal(journal)
    data = after or before_signal
    if data is None:
        return KillOutcome("?", False, 0, 0, "none", 0.0, [f"no journal seen; stderr: {err.strip()}"])
    run_id = data["run_id"]
    left = len(ns_of(run_id))
    problems: list[str] = []
    started = time.monotonic()
    if after is not None and after["complete"]:
        down = netharness(state, "topo", "down", run_id)
        if down.returncode != 0:
            problems.append(f"topo down failed: {down.stderr.strip()}")
        return KillOutcome(run_id, True, at_signal, left, "topo down", time.monotonic() - started, problems)
    if sig == signal.SIGKILL:
        show = netharness(state, "topo", "show")
        if "dead (incomplete)" not in show.stdout or "detached" in show.stdout:
            problems.append(f"topo show does not mark the run incomplete: {show.stdout.strip()}")
        out = netharness(state, "clean")
        if out.returncode != 0 or f"run {run_id}" not in out.stdout or "Traceback" in out.stderr:
            problems.append(f"clean exited {out.returncode}: {out.stdout.strip()} {out.stderr.strip()}")
        return KillOutcome(run_id, False, at_signal, left, "clean", time.monotonic() - started, problems)
    if proc.returncode != 130 or "interrupted while building" not in err:
        problems.append(f"SIGTERM mid-build: exit {proc.returncode}, stderr {err.strip()!r}")
    if after is not None:
        problems.append("SIGTERM mid-build left its journal behind")
    return KillOutcome(run_id, False, at_signal, left, "none", 0.0, problems)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=50, help="kills (default 50)")
    parser.add_argument("--nodes", type=int, default=50, help="namespaces in the topology (default 50)")
    parser.add_argument("--signal", choices=("kill", "term"), default="kill")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("kill_topo_up: needs root (it builds namespaces)", file=sys.stderr)
        return 2
    sig = signal.SIGKILL if args.signal == "kill" else signal.SIGTERM
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="nh-kill-") as tmp:
        state = Path(tmp) / "state"
        yaml_path = Path(tmp) / "star.yaml"
        yaml_path.write_text(star_yaml(args.nodes - 1))
        before = Machine.now()
        build = calibrate(state, yaml_path)
        print(f"star of {args.nodes} namespaces: topo up builds in {build:.2f} s; "
              f"{args.points} SIG{args.signal.upper()}s, seed {args.seed}", flush=True)
        outcomes: list[KillOutcome] = []
        dirty = 0
        for point in range(1, args.points + 1):
            delay = rng.uniform(0, build * 1.1)
            outcome = kill_once(state, yaml_path, delay, sig)
            changes = Machine.now().changes_since(before)
            if changes:
                outcome.problems.append(f"machine changed: {changes}")
                dirty += 1
            leftover_journals = sorted(p.name for p in (state / "runs").glob("*.json"))
            if leftover_journals:
                outcome.problems.append(f"journals left: {leftover_journals}")
            outcomes.append(outcome)
            status = "finished" if outcome.finished else "mid-build"
            print(f"[{point:3}/{args.points}] at {delay:5.2f} s: {status:9} {outcome.at_signal:3} namespaces at the signal, "
                  f"{outcome.left:3} left, "
                  f"{outcome.cleanup} {outcome.cleanup_seconds:.2f} s"
                  + (f"  PROBLEM: {'; '.join(outcome.problems)}" if outcome.problems else ""), flush=True)
    mid = [o for o in outcomes if not o.finished]
    bad = [o for o in outcomes if o.problems]
    left = [o.left for o in mid]
    at_signal = [o.at_signal for o in mid]
    print()
    print(f"points                      {len(outcomes)} (seed {args.seed})")
    print(f"killed mid-build            {len(mid)}; finished before the signal {len(outcomes) - len(mid)}")
    if at_signal:
        print(f"namespaces at the signal    min {min(at_signal)}, median {statistics.median(at_signal):.0f}, "
              f"max {max(at_signal)} (of {args.nodes})")
    if left:
        print(f"namespaces left by the kill min {min(left)}, median {statistics.median(left):.0f}, max {max(left)} "
              f"(of {args.nodes})")
    cleans = [o.cleanup_seconds for o in mid if o.cleanup == "clean"]
    if cleans:
        print(f"clean after a kill          median {statistics.median(cleans):.2f} s, max {max(cleans):.2f} s")
    print(f"machine as before afterwards {len(outcomes) - dirty}/{len(outcomes)}; points with any problem {len(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

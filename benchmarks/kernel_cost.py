#!/usr/bin/env python3
"""Benchmark: what a kernel configuration costs under the harness, side by side.

Runs the same pytest selection with `pytest --kernel K --kmemleak off` for
each kernel given and prints, per kernel: the wall time, and from the guest
console (kernel timestamps) the boot time, the guest's collection time and
the time spent inside the items. The first kernel is the baseline; the
others are shown as ratios to it. Used to decide which debug options the
default kernel carries under TCG (issue 3: "lockdep/KASAN are heavy under
TCG: measure and choose").

Usage:
  benchmarks/kernel_cost.py --kernel default --kernel PATH/bzImage [--repeat 1] [-- PYTEST-ARGS...]
The default selection is a few suites that exercise netlink, sockets and
netdevsim: tests/net/tcp_ao/test_tcp_ao_connect.py tests/net/devlink/test_devlink_smoke.py
tests/net/bridge/test_bridge_vlan_filtering.py.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.vm.timeline import GuestTimeline, parse_timeline  # noqa: E402

DEFAULT_SELECTION = [
    "tests/net/tcp_ao/test_tcp_ao_connect.py",
    "tests/net/devlink/test_devlink_smoke.py",
    "tests/net/bridge/test_bridge_vlan_filtering.py",
]
KEPT = re.compile(r"netharness: guest consoles kept in (\S+)")
SUMMARY = re.compile(r"(\d+) passed")


def run_once(kernel: str, selection: list[str]) -> tuple[float, GuestTimeline, str]:
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--kernel", kernel,
            "--kmemleak", "off", "--vm-keep-consoles", *selection]
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - started
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    if proc.returncode != 0:
        raise SystemExit(f"pytest --kernel {kernel} failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    match = KEPT.search(proc.stdout)
    if match is None:
        raise SystemExit(f"pytest did not say where it kept the console:\n{proc.stdout[-2000:]}")
    run_dir = Path(match.group(1))
    consoles = sorted(run_dir.glob("vm*/console.log"))
    timeline = parse_timeline(consoles[0].read_text(errors="replace"))
    shutil.rmtree(run_dir, ignore_errors=True)
    return elapsed, timeline, tail


def in_items(timeline: GuestTimeline) -> float:
    """Time inside the items: first begin to last end, in the guest."""
    if not timeline.begins or not timeline.ends:
        return float("nan")
    return timeline.ends[-1] - timeline.begins[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", action="append", required=True, help="bzImage or 'default' (repeatable)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("pytest_args", nargs="*", help="pytest selection (after --)")
    args = parser.parse_args()
    selection = args.pytest_args or DEFAULT_SELECTION

    rows = []
    for kernel in args.kernel:
        walls, boots, collects, items = [], [], [], []
        tail = ""
        for _ in range(args.repeat):
            wall, timeline, tail = run_once(kernel, selection)
            walls.append(wall)
            boots.append(timeline.boot or float("nan"))
            collects.append(timeline.collection or float("nan"))
            items.append(in_items(timeline))
        rows.append((kernel, *(statistics.median(x) for x in (walls, boots, collects, items)), tail))

    print(f"selection: {' '.join(selection)}; --kmemleak off; median of {args.repeat}")
    print(f"{'kernel':<60} {'wall':>8} {'boot':>8} {'collect':>8} {'items':>8}")
    base = rows[0]
    for kernel, wall, boot, collect, item, tail in rows:
        print(f"{kernel[-60:]:<60} {wall:8.1f} {boot:8.1f} {collect:8.1f} {item:8.1f}   ({tail})")
        if kernel != base[0]:
            print(f"{'  ratio to ' + base[0][-48:]:<60} {wall / base[1]:8.2f} {boot / base[2]:8.2f} "
                  f"{collect / base[3]:8.2f} {item / base[4]:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

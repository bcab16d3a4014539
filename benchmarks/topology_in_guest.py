#!/usr/bin/env python3
"""Benchmark: what the suites' topologies cost to build and remove inside a TCG guest.

Runs ``benchmarks/guest/test_topology_cost.py`` under ``pytest --kernel K``
(one VM, one vCPU, as CI runs the suites) and prints, per topology, the
median build ("up") and removal ("down") time over NH_BENCH_REPEAT builds
and the time per builder operation, with the target of 0.3 s for up + down.

Usage: benchmarks/topology_in_guest.py [--kernel default] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.3  # seconds for up + down of a typical suite topology, in the guest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kernel", default="default")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "NH_BENCH_REPEAT": str(args.repeat)}
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--kernel", args.kernel, "--vm-cpus", "1",
              "--kmemleak", "off", "-rP", "benchmarks/guest/test_topology_cost.py"]
    print("running:", " ".join(pytest), flush=True)
    proc = subprocess.run(pytest, cwd=REPO, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("NHBENCH ")]
    if proc.returncode != 0 or not lines:
        print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
        return 1
    print(f"{'topology':16} {'up':>7} {'down':>7} {'total':>7}  target {TARGET} s  per-operation seconds per build")
    worst = 0.0
    for line in lines:
        m = re.match(r"NHBENCH (\S+): up ([\d.]+) s, down ([\d.]+) s, total ([\d.]+) s; per build: (.*)", line)
        if m is None:
            continue
        name, up, down, total, ops = m.groups()
        worst = max(worst, float(total))
        print(f"{name:16} {float(up):7.3f} {float(down):7.3f} {float(total):7.3f}  "
              f"{'ok' if float(total) <= TARGET else 'OVER'}    {ops}")
    print(f"worst total {worst:.3f} s (target {TARGET} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

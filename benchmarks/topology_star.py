#!/usr/bin/env python3
"""Benchmark: N hosts on one bridge, built and torn down, harness vs. shell.

Baseline: ``../shared/bench/ip_star.sh N`` (one ``ip`` process per step, the
way shell selftests build topologies). The harness builds the equivalent
topology from a generated YAML file: namespace ``sw`` with bridge ``br0``,
N host namespaces each joined by a veth pair, one IPv4 address per host,
links up, ``net.ipv6.conf.all.disable_ipv6=1`` in every host. Both run in
this process's machine, alternately, several times; medians are printed with
the ratio. Run as root. Also checks that neither leaves a namespace or a
root-namespace link behind.

Usage: benchmarks/topology_star.py [--sizes 10 50] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.topology import load_topology  # noqa: E402
from harness.topology.live import LiveTopology  # noqa: E402

TARGET_RATIO = 1 / 3  # harness time / script time at N = 50


def star_yaml(n: int) -> str:
    lines = [
        "version: 1",
        f"name: star{n}",
        "description: benchmark star, equivalent to shared/bench/ip_star.sh",
        "nodes:",
        "  sw:",
        "    bridges:",
        "      br0:",
        "        ports:",
    ]
    lines += [f"          p{i}: {{}}" for i in range(1, n + 1)]
    for i in range(1, n + 1):
        lines += [
            f"  h{i}:",
            "    sysctls: {net.ipv6.conf.all.disable_ipv6: 1}",
            "    interfaces:",
            f"      eth0: {{addresses: [10.0.{i // 250}.{i % 250 + 1}/16]}}",
        ]
    lines.append("links:")
    lines += [f"  - [h{i}:eth0, sw:p{i}]" for i in range(1, n + 1)]
    return "\n".join(lines) + "\n"


def machine_state() -> tuple[str, str]:
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    names = "\n".join(sorted(line.split(":")[1].strip() for line in links.splitlines()))
    return netns, names


def time_script(script: Path, n: int) -> float:
    started = time.perf_counter()
    subprocess.run(["bash", str(script), str(n)], check=True)
    return time.perf_counter() - started


def time_harness(path: Path) -> tuple[float, float]:
    """(load+validate seconds, build+teardown seconds)."""
    started = time.perf_counter()
    topology = load_topology(path)
    loaded = time.perf_counter()
    live = LiveTopology.up(topology)
    live.down()
    return loaded - started, time.perf_counter() - loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--script", type=Path, default=REPO.parent / "shared" / "bench" / "ip_star.sh")
    args = parser.parse_args()
    if not args.script.is_file():
        print(f"baseline script {args.script} not found (pass --script)", file=sys.stderr)
        return 2

    before = machine_state()
    ok = True
    print(f"{'N':>4} {'ip script s':>12} {'harness s':>10} {'+load s':>8} {'ratio':>6}  (median of {args.repeat})")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"star{n}.yaml"
            path.write_text(star_yaml(n))
            script_times, build_times, load_times = [], [], []
            for _ in range(args.repeat):
                script_times.append(time_script(args.script, n))
                load, build = time_harness(path)
                load_times.append(load)
                build_times.append(build)
            script_s = statistics.median(script_times)
            build_s = statistics.median(build_times)
            load_s = statistics.median(load_times)
            ratio = build_s / script_s
            print(f"{n:>4} {script_s:>12.3f} {build_s:>10.3f} {load_s:>8.3f} {ratio:>6.2f}")
            if n == 50 and ratio > TARGET_RATIO:
                print(f"     target missed: ratio {ratio:.2f} > {TARGET_RATIO:.2f} at N=50")
                ok = False
    after = machine_state()
    if after != before:
        print("LEFT BEHIND: namespaces or root-namespace links differ from before the run")
        ok = False
    else:
        print("nothing left behind: ip netns list and root-namespace links as before")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

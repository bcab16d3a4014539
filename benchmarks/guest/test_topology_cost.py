"""Benchmark items, run in a guest by ``benchmarks/topology_in_guest.py``: what a topology costs.

Each item builds and removes one of the suites' topology files REPEAT times
and prints the per-phase medians (load is cached, as in a suite run):
``up`` (namespaces, links, addresses, routes, settings), ``down``, and the
time per operation kind from the builder's own ops, so the slow step shows.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

import pytest

from harness.topology import load_topology
from harness.topology import build as B
from harness.topology.live import LiveTopology

REPEAT = int(os.environ.get("NH_BENCH_REPEAT", "5"))
TOPOLOGIES = ("tcp-ao-pair", "mptcp-2path", "bridge-3hosts", "offloads-nsim", "switchdev-nsim")
ROOT = Path(__file__).resolve().parents[2] / "topologies"


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_topology_cost(name: str) -> None:
    topology = load_topology(ROOT / f"{name}.yaml")
    per_op: dict[str, list[float]] = defaultdict(list)
    original = B.Applier.run

    def timed_run(self: B.Applier) -> None:
        for op in self.plan.ops:
            started = time.perf_counter()
            getattr(self, f"_do_{type(op).__name__}")(op)
            per_op[type(op).__name__].append(time.perf_counter() - started)

    ups, downs = [], []
    B.Applier.run = timed_run  # type: ignore[method-assign]
    try:
        LiveTopology.up(topology).down()  # warm: imports, first namespace mount
        per_op.clear()
        for _ in range(REPEAT):
            started = time.perf_counter()
            live = LiveTopology.up(topology)
            ups.append(time.perf_counter() - started)
            started = time.perf_counter()
            live.down()
            downs.append(time.perf_counter() - started)
    finally:
        B.Applier.run = original  # type: ignore[method-assign]
    ops = ", ".join(f"{k} {sum(v) / REPEAT:.3f}" for k, v in sorted(per_op.items(), key=lambda kv: -sum(kv[1])))
    print(f"NHBENCH {name}: up {statistics.median(ups):.3f} s, down {statistics.median(downs):.3f} s, "
          f"total {statistics.median(ups) + statistics.median(downs):.3f} s; per build: {ops}")
    assert ups and downs

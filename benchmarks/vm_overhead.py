#!/usr/bin/env python3
"""Benchmark: what `pytest --kernel` costs on top of virtme-ng itself.

Prints, in one run (wall-clock seconds, median of --repeat):
  - bare `vng --run K --disable-kvm -- true`;
  - `pytest --kernel K` on one trivial test (harness start-up over bare vng);
  - `pytest --kernel K` on 20 trivial tests in one VM; the per-test overhead
    is (t20 - t1) / 19;
  - `netharness kernel build` when the cached kernel is up to date.
Targets (issue 3): start-up at most 3 s above bare vng, per-test overhead at
most 0.3 s, cached build under 5 s. Run as root after `netharness kernel build`.

Usage: benchmarks/vm_overhead.py [--kernel PATH] [--repeat 3]
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

from harness.kernel.build import build_kernel, cache_dir, controlled_env  # noqa: E402
from harness.vm.accel import choose_accel  # noqa: E402

SAMPLE = REPO / "benchmarks" / "samples" / "trivial.py"
TARGETS = {"startup": 3.0, "per_test": 0.3, "cached_build": 5.0}


def timed(argv: list[str], **kwargs) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 255):  # vng exits 255 in our guests even on success
        raise SystemExit(f"{argv[:4]}... exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", type=Path, help="bzImage (default: the default kernel, built if needed)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    image = args.kernel or build_kernel().image
    cached_build = time.perf_counter() - started if args.kernel is None else None
    accel, reason = choose_accel(image, cache_dir() / "kvm-probe.json")
    vng = str(Path(sys.executable).parent / "vng")
    env = controlled_env(cache_dir() / "vng-home")
    bare_argv = [vng, "--run", str(image), "--user", "root", "--verbose"]
    if accel == "tcg":
        bare_argv.append("--disable-kvm")
    bare_argv += ["--", "true"]

    pytest_base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--kernel", str(image)]
    bare, one, twenty = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            bare.append(timed(bare_argv, env=env, cwd=tmp))
            one.append(timed([*pytest_base, f"{SAMPLE}::test_trivial[0]"], cwd=REPO))
            twenty.append(timed([*pytest_base, str(SAMPLE)], cwd=REPO))
    b, o, t = (statistics.median(x) for x in (bare, one, twenty))
    startup = o - b
    per_test = (t - o) / 19
    print(f"accelerator: {accel} ({reason}); median of {args.repeat}")
    print(f"bare vng --run K -- true         {b:7.2f} s")
    print(f"pytest --kernel K, 1 test        {o:7.2f} s   start-up over bare vng {startup:+.2f} s (target <= {TARGETS['startup']})")
    print(f"pytest --kernel K, 20 tests      {t:7.2f} s   per-test overhead {per_test:.3f} s (target <= {TARGETS['per_test']})")
    ok = startup <= TARGETS["startup"] and per_test <= TARGETS["per_test"]
    if cached_build is not None:
        print(f"kernel build, cached             {cached_build:7.2f} s   (target < {TARGETS['cached_build']})")
        ok = ok and cached_build < TARGETS["cached_build"]
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

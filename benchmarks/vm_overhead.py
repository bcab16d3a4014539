#!/usr/bin/env python3
"""Benchmark: what `pytest --kernel` costs on top of virtme-ng itself.

Prints, in one run (wall-clock seconds, median of --repeat):
  - bare `vng --run K --disable-kvm -- true`;
  - `pytest --kernel K` on one trivial test, with the default end-of-VM
    kmemleak scan and with `--kmemleak off` (harness start-up over bare vng);
  - `pytest --kernel K` on 20 trivial tests in one VM; the per-test overhead
    is (t20 - t1) / 19, and also the median start-to-start interval of the
    items read from the guest console (kernel timestamps, less noisy);
  - where the guest's time went (boot, Python start, pytest import and
    collection, final checks), from the console markers;
  - `netharness kernel build` when the cached kernel is up to date.
Targets (issue 3): start-up at most 3 s above bare vng, per-test overhead at
most 0.3 s, cached build under 5 s. Run as root after `netharness kernel build`.

Usage: benchmarks/vm_overhead.py [--kernel PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.host import cache_dir  # noqa: E402
from harness.kernel.build import build_kernel  # noqa: E402
from harness.vng.env import controlled_env  # noqa: E402
from harness.vm.accel import choose_accel  # noqa: E402
from harness.vm.timeline import GuestTimeline, parse_timeline  # noqa: E402

SAMPLE = REPO / "benchmarks" / "samples" / "trivial.py"
TARGETS = {"startup": 3.0, "per_test": 0.3, "cached_build": 5.0}


def timed(argv: list[str], **kwargs) -> tuple[float, str]:
    """Wall time and stdout of a command that must succeed."""
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 255):  # vng exits 255 in our guests even on success
        raise SystemExit(f"{argv[:4]}... exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


KEPT = re.compile(r"netharness: guest consoles kept in (\S+)")


def timed_pytest(argv: list[str]) -> tuple[float, GuestTimeline]:
    """Run a `pytest --kernel` command that keeps its console; time it and parse the console."""
    elapsed, out = timed([*argv, "--vm-keep-consoles"], cwd=REPO)
    match = KEPT.search(out)
    if match is None:
        raise SystemExit(f"pytest did not say where it kept the console:\n{out[-2000:]}")
    run_dir = Path(match.group(1))
    console = (run_dir / "vm0" / "console.log").read_text(errors="replace")
    shutil.rmtree(run_dir, ignore_errors=True)
    return elapsed, parse_timeline(console)


def med(values: list[float | None]) -> float:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else float("nan")


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
    one_item = f"{SAMPLE}::test_trivial[0]"
    bare: list[float] = []
    one: list[float] = []
    one_off: list[float] = []
    twenty: list[float] = []
    timelines: list[GuestTimeline] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            bare.append(timed(bare_argv, env=env, cwd=tmp)[0])
            elapsed, timeline = timed_pytest([*pytest_base, one_item])
            one.append(elapsed)
            elapsed, _ = timed_pytest([*pytest_base, "--kmemleak", "off", one_item])
            one_off.append(elapsed)
            elapsed, timeline20 = timed_pytest([*pytest_base, str(SAMPLE)])
            twenty.append(elapsed)
            timelines += [timeline, timeline20]
    b, o, o_off, t = (statistics.median(x) for x in (bare, one, one_off, twenty))
    startup, startup_off = o - b, o_off - b
    per_test = (t - o) / 19
    per_item_console = med([tl.per_item for tl in timelines])
    print(f"accelerator: {accel} ({reason}); median of {args.repeat}")
    print(f"bare vng --run K -- true                {b:7.2f} s")
    print(f"pytest --kernel K, 1 test               {o:7.2f} s   start-up over bare vng {startup:+.2f} s "
          f"(target <= {TARGETS['startup']})")
    print(f"pytest --kernel K --kmemleak off, 1     {o_off:7.2f} s   start-up over bare vng {startup_off:+.2f} s")
    print(f"pytest --kernel K, 20 tests             {t:7.2f} s   per-test overhead {per_test:.3f} s wall, "
          f"{per_item_console:.3f} s item-to-item in the guest (target <= {TARGETS['per_test']})")
    print("where a guest's time goes (kernel timestamps, median):")
    print(f"  boot to guest command                 {med([tl.boot for tl in timelines]):7.2f} s")
    print(f"  Python interpreter start              {med([tl.interpreter for tl in timelines]):7.2f} s")
    print(f"  pytest + plugin import, collection    {med([tl.collection for tl in timelines]):7.2f} s")
    print(f"  ready to first item                   {med([tl.first_item_wait for tl in timelines]):7.2f} s")
    print(f"  last item to exit (kmemleak scans)    {med([tl.final_checks for tl in timelines]):7.2f} s")
    print(f"  exit to power-down                    {med([tl.shutdown for tl in timelines]):7.2f} s")
    per_test_ok = min(per_test, per_item_console) <= TARGETS["per_test"]
    ok = startup <= TARGETS["startup"] and per_test_ok
    if cached_build is not None:
        print(f"kernel build, cached                    {cached_build:7.2f} s   (target < {TARGETS['cached_build']})")
        ok = ok and cached_build < TARGETS["cached_build"]
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

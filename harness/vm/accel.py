"""Choosing KVM or TCG by starting a real guest.

Opening /dev/kvm proves nothing here: on our machines it opens, yet QEMU
aborts as soon as it initialises a vCPU ("failed to set MSR 0x10a"). The
probe therefore boots the kernel under test with KVM and no root filesystem:
a working KVM either runs the kernel until it panics for want of a root
(QEMU exits through -no-reboot) or is still running when the probe stops
it; a broken one dies at once with an error. ``decide`` is the pure part.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Accel = Literal["kvm", "tcg"]
PROBE_SECONDS = 5.0


@dataclass(frozen=True)
class ProbeResult:
    kvm_node: bool  # /dev/kvm exists and opens read-write
    returncode: int | None  # None: the guest was still running when stopped
    output: str  # what QEMU printed (tail)
    elapsed: float


def decide(result: ProbeResult) -> tuple[Accel, str]:
    """KVM only when a guest demonstrably ran under it; otherwise TCG, with why."""
    if not result.kvm_node:
        return "tcg", "/dev/kvm missing or not openable"
    text = result.output.lower()
    if result.returncode is None:
        return "kvm", f"a KVM guest ran for {result.elapsed:.1f} s"
    if "kernel panic" in text or "vfs: unable to mount root" in text:
        return "kvm", "a KVM guest booted its kernel"
    reason = next(
        (line.strip() for line in result.output.splitlines() if "kvm" in line.lower() or "error" in line.lower()),
        f"QEMU exited {result.returncode}",
    )
    return "tcg", f"KVM unusable: {reason}"


def _kvm_node_usable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def run_probe(kernel_image: Path, qemu: str = "qemu-system-x86_64") -> ProbeResult:
    """Boot ``kernel_image`` under KVM for a few seconds and record what happened."""
    if not _kvm_node_usable():
        return ProbeResult(kvm_node=False, returncode=1, output="", elapsed=0.0)
    argv = [
        shutil.which(qemu) or qemu, "-accel", "kvm", "-cpu", "host", "-m", "256", "-nodefaults",
        "-nographic", "-no-reboot", "-serial", "stdio", "-kernel", str(kernel_image),
        "-append", "console=ttyS0 panic=-1 root=/dev/nonexistent",
    ]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        out, _ = proc.communicate(timeout=PROBE_SECONDS)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        code = None
    text = out.decode(errors="replace")
    return ProbeResult(kvm_node=True, returncode=code, output=text[-4000:], elapsed=time.monotonic() - started)


def choose_accel(kernel_image: Path, cache_file: Path | None = None) -> tuple[Accel, str]:
    """Probe once per host kernel and QEMU; cache the decision in ``cache_file``."""
    forced = os.environ.get("NETHARNESS_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced, f"forced by NETHARNESS_ACCEL={forced}"  # type: ignore[return-value]
    key = f"{os.uname().release} {shutil.which('qemu-system-x86_64')}"
    if cache_file is not None and cache_file.is_file():
        cached = json.loads(cache_file.read_text())
        if cached.get("key") == key:
            return cached["accel"], cached["reason"] + " (cached probe)"
    accel, reason = decide(run_probe(kernel_image))
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps({"key": key, "accel": accel, "reason": reason}))
    return accel, reason


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
import re
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


class Decision(tuple):
    """``(accel, reason)``, plus ``conclusive``: whether the probe decided about KVM.

    A tuple of two, so that ``accel, reason = decide(...)`` keeps working.
    Only a conclusive decision may be cached: a probe that failed for
    another reason (a bad kernel image, QEMU unable to load it, a crash
    without a word about KVM) says nothing about KVM, and caching it as
    "KVM unusable" would make every later run on a good host fall back to TCG.
    """

    conclusive: bool

    def __new__(cls, accel: Accel, reason: str, conclusive: bool) -> "Decision":
        self = super().__new__(cls, (accel, reason))
        self.conclusive = conclusive
        return self

    @property
    def accel(self) -> Accel:
        return self[0]

    @property
    def reason(self) -> str:
        return self[1]


# QEMU failing before any vCPU ran, for reasons that are not KVM's (checked first).
_NOT_ABOUT_KVM = re.compile(
    r"could not load|error loading|linux kernel too old|pvh elf note|cannot load|no such file|"
    r"could not open|invalid kernel header|not a linux kernel|failed to allocate|cannot allocate memory",
    re.IGNORECASE,
)
# What QEMU says when KVM itself fails (e.g. "failed to set MSR", kvm_buf_set_msrs, "KVM: entry failed").
_ABOUT_KVM = re.compile(r"kvm|failed to set msr|kvm_run|vmx|svm", re.IGNORECASE)


def decide(result: ProbeResult) -> Decision:
    """KVM only when a guest demonstrably ran under it; otherwise TCG, with why."""
    if not result.kvm_node:
        return Decision("tcg", "/dev/kvm missing or not openable", True)
    text = result.output.lower()
    if result.returncode is None:
        return Decision("kvm", f"a KVM guest ran for {result.elapsed:.1f} s", True)
    if "kernel panic" in text or "vfs: unable to mount root" in text:
        return Decision("kvm", "a KVM guest booted its kernel", True)
    lines = [line.strip() for line in result.output.splitlines() if line.strip()]
    other = next((line for line in lines if _NOT_ABOUT_KVM.search(line) and "kvm" not in line.lower()), None)
    if other is not None:
        return Decision("tcg", f"KVM probe inconclusive (QEMU failed: {other}); TCG for this run", False)
    about_kvm = next((line for line in lines if _ABOUT_KVM.search(line)), None)
    if about_kvm is not None:
        return Decision("tcg", f"KVM unusable: {about_kvm}", True)
    reason = next((line for line in lines if "error" in line.lower()), f"QEMU exited {result.returncode}")
    return Decision("tcg", f"KVM unusable? probe inconclusive: {reason}; TCG for this run", False)


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


def _read_cache(cache_file: Path) -> dict | None:
    """The cached probe, or None when it is unreadable or malformed (then probe again)."""
    try:
        cached = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return None
    if (not isinstance(cached, dict) or cached.get("accel") not in ("kvm", "tcg")
            or not isinstance(cached.get("reason"), str)):
        return None
    return cached


def choose_accel(kernel_image: Path, cache_file: Path | None = None) -> tuple[Accel, str]:
    """Probe once per host kernel and QEMU; cache the decision in ``cache_file``."""
    forced = os.environ.get("NETHARNESS_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced, f"forced by NETHARNESS_ACCEL={forced}"  # type: ignore[return-value]
    key = f"{os.uname().release} {shutil.which('qemu-system-x86_64')}"
    if cache_file is not None and cache_file.is_file():
        cached = _read_cache(cache_file)
        if cached is not None and cached.get("key") == key:
            return cached["accel"], cached["reason"] + " (cached probe)"
    decision = decide(run_probe(kernel_image))
    accel, reason = decision
    if cache_file is not None and decision.conclusive:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps({"key": key, "accel": accel, "reason": reason}))
    return accel, reason


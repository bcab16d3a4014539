"""One guest VM: start it, hand it items one at a time, watch its console.

The host never trusts vng's exit code or stdout for results: results come
through the channel, the console (vng ``-v`` output, QEMU's serial console)
goes to a file that is always kept, and a VM that exits or stops answering
is reported through what its console says.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..host import cache_dir
from ..vng.env import controlled_env
from . import console as kconsole
from . import reaper
from .argv import VMSpec, guest_command, vng_argv
from .bundle import BOOTSTRAP, guest_sys_path
from .channel import Channel
from .protocol import KMSG_END, Done, Exit, ItemResult, ProtocolError, Ready, RunItem

# After a test ends, wait this long for its end marker to reach the console,
# so that kernel messages printed during the test are attributed to it.
END_MARKER_WAIT = 3.0
INTERRUPT_GRACE = 15.0  # SIGINT in the guest, then this long before the VM is killed


class BootError(RuntimeError):
    def __init__(self, message: str, console_tail: str) -> None:
        super().__init__(message)
        self.console_tail = console_tail


@dataclass
class ItemOutcome:
    """What happened to one item in the VM."""

    nodeid: str
    result: ItemResult | None  # the guest's result message, None if it never came
    issues: list[kconsole.KernelIssue]
    vm_died: bool = False
    timed_out: bool = False
    interrupted: bool = False
    console_tail: str = ""
    duration: float = 0.0


@dataclass
class GuestVM:
    kernel: Path
    workdir: Path
    pytest_args: list[str]
    accel: str
    memory: str = "2G"
    cpus: int = 2
    boot_timeout: float = 180.0
    cwd: Path | None = None
    bundle: Path | None = None
    instance: int = 0
    proc: subprocess.Popen | None = None
    channel: Channel = field(init=False)
    console_path: Path = field(init=False)
    seq: int = 0
    ready_info: Ready | None = None
    boot_seconds: float = 0.0

    def __post_init__(self) -> None:
        base = self.workdir / f"vm{self.instance}"
        base.mkdir(parents=True, exist_ok=True)
        self.channel = Channel(base / "channel")
        self.console_path = base / "console.log"

    # --- lifecycle ------------------------------------------------------------

    def argv(self) -> list[str]:
        vng = str(Path(sys.executable).parent / "vng")
        command = guest_command(sys.executable, self.channel.root, self.channel.bootstrap_path, self.bundle)
        spec = VMSpec(
            kernel=self.kernel, rwdir=self.channel.root, command=command, accel=self.accel,  # type: ignore[arg-type]
            memory=self.memory, cpus=self.cpus, cwd=self.cwd, name=f"netharness{self.instance}",
        )
        return vng_argv(vng, spec)

    def start(self) -> None:
        self.channel.prepare()
        self.channel.args_path.write_text(json.dumps(self.pytest_args))
        self.channel.bootstrap_path.write_text(BOOTSTRAP)
        self.channel.syspath_path.write_text(json.dumps(guest_sys_path()))
        env = controlled_env(cache_dir() / "vng-home")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        started = time.monotonic()
        with open(self.console_path, "wb") as console:
            self.proc = subprocess.Popen(
                self.argv(), stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=self.cwd, start_new_session=True,
            )
        reaper.record(self.console_path.parent, self.proc.pid)
        deadline = started + self.boot_timeout
        while time.monotonic() < deadline:
            try:
                ready = self.channel.read_ready()
            except ProtocolError as exc:
                self.kill()
                raise BootError(f"the guest's ready message is malformed: {exc}", self.console_tail()) from None
            if ready is not None:
                self.ready_info = ready
                self.boot_seconds = time.monotonic() - started
                return
            if self.proc.poll() is not None:
                done = self._read_done()
                why = f"guest pytest exited early ({done})" if done else f"VM exited (vng status {self.proc.returncode})"
                raise BootError(f"{why} before the guest was ready", self.console_tail())
            time.sleep(0.02)
        self.kill()
        raise BootError(f"guest not ready after {self.boot_timeout:.0f} s (--vm-boot-timeout)", self.console_tail())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _read_done(self) -> Done | None:
        """The guest's done message; a malformed one counts as none (the final checks are then lost)."""
        try:
            return self.channel.read_done()
        except ProtocolError:
            return None

    def stop(self, timeout: float = 60.0, kmemleak: bool = False) -> Done | None:
        """Ask the guest to exit (final checks come back in done.json), then make sure."""
        if self.proc is None:
            return None
        done = None
        if self.alive():
            self.seq += 1
            self.channel.send_command(self.seq, Exit(kmemleak=kmemleak))
            done = self.channel.wait_for(self._read_done, timeout)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return done

    def kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        reaper.forget(self.console_path.parent)

    # --- console --------------------------------------------------------------

    def console_size(self) -> int:
        try:
            return self.console_path.stat().st_size
        except FileNotFoundError:
            return 0

    def console_since(self, offset: int) -> str:
        with open(self.console_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def console_tail(self, lines: int = 60) -> str:
        try:
            text = self.console_path.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait_for_end_marker(self, offset: int, nodeid: str) -> str:
        marker = f"{KMSG_END}{nodeid}"
        deadline = time.monotonic() + END_MARKER_WAIT
        while True:
            text = self.console_since(offset)
            if marker in text or time.monotonic() >= deadline or not self.alive():
                return text
            time.sleep(0.01)

    # --- running items --------------------------------------------------------

    def _read_result(self, seq: int, nodeid: str) -> ItemResult | None:
        """The result of command ``seq``; a malformed one becomes a result that says so."""
        try:
            return self.channel.read_result(seq)
        except ProtocolError as exc:
            return ItemResult(nodeid=nodeid, error=f"malformed result from the guest: {exc}")

    def run_item(self, nodeid: str, nextid: str | None, timeout: float | None) -> ItemOutcome:
        """Run one item; never raises for guest trouble, reports it in the outcome."""
        self.seq += 1
        seq = self.seq
        offset = self.console_size()
        started = time.monotonic()
        self.channel.send_command(seq, RunItem(nodeid=nodeid, next=nextid))
        interrupt_at = started + timeout if timeout else None
        kill_at: float | None = None
        result = None
        timed_out = interrupted = False
        while True:
            result = self._read_result(seq, nodeid)
            if result is not None:
                break
            if not self.alive():
                # It may have written the result just before dying.
                result = self._read_result(seq, nodeid)
                break
            now = time.monotonic()
            if interrupt_at is not None and now >= interrupt_at and kill_at is None:
                self.channel.send_interrupt(seq)  # SIGINT to the guest pytest
                timed_out = interrupted = True
                kill_at = now + INTERRUPT_GRACE
            if kill_at is not None and now >= kill_at:
                self.kill()
                break
            time.sleep(0.005)
        text = self._wait_for_end_marker(offset, nodeid) if self.alive() else self.console_since(offset)
        vm_died = not self.alive() or (result is not None and result.interrupted)
        return ItemOutcome(
            nodeid=nodeid,
            result=result,
            issues=kconsole.find_issues(text),
            vm_died=vm_died,
            timed_out=timed_out,
            interrupted=interrupted,
            console_tail="\n".join(text.splitlines()[-60:]),
            duration=time.monotonic() - started,
        )

"""The agent that runs inside the guest: a pytest session driven by the host.

The host starts ``python -m harness.vm.guest --channel DIR -- PYTEST-ARGS``
in the VM. The guest pytest collects the same files as the host, reports
ready, and then runs exactly the items the host asks for, one command at a
time, in the host's order. Each item's reports are serialised with pytest's
own hook (the mechanism pytest-xdist uses) and written back through the
channel. Around every item the agent writes ``netharness: begin/end NODEID``
into the kernel log, so the console delimits each test's kernel messages.
"""

from __future__ import annotations

import argparse
import json
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .channel import Channel
from .protocol import KMSG_BEGIN, KMSG_END, Done, Exit, ItemResult, Ready, RunItem

GUEST_ENV = "NETHARNESS_GUEST"
POLL_INTERVAL = 0.01


def running_in_guest() -> bool:
    return os.environ.get(GUEST_ENV) == "1"


def kmsg(text: str) -> None:
    """Write a line into the kernel log (and so onto the console)."""
    with contextlib.suppress(OSError):
        with open("/dev/kmsg", "w", encoding="utf-8") as f:
            f.write(f"<5>{text}\n")


def tainted() -> int:
    try:
        return int(Path("/proc/sys/kernel/tainted").read_text())
    except (OSError, ValueError):
        return 0


def lockdep_on() -> bool | None:
    """Whether lockdep still checks (``debug_locks`` in /proc/lockdep_stats).

    Lockdep switches itself off for good after its first report, so every
    later test would run unchecked; the host replaces such a VM. None when
    the kernel has no lockdep.
    """
    try:
        text = Path("/proc/lockdep_stats").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "debug_locks":
            return value.strip() != "0"
    return None


def prepare_guest() -> None:
    """Mounts the suites rely on that virtme-ng does not always make."""
    if not os.path.ismount("/sys/kernel/debug"):
        with contextlib.suppress(OSError):
            os.system("mount -t debugfs none /sys/kernel/debug")  # noqa: S605 - fixed string
    os.makedirs("/run/netns", exist_ok=True)


KMEMLEAK = Path("/sys/kernel/debug/kmemleak")
KMEMLEAK_SCAN_GAP = 5.0  # NIPA scans twice, 5 s apart: young objects are not leaks yet


def kmemleak_report() -> str | None:
    """Scan for leaks twice and return kmemleak's report ('' if clean, None if unavailable)."""
    if not KMEMLEAK.exists():
        return None
    try:
        # The gap counts from the start of the first scan: a scan itself takes
        # seconds under TCG, and objects only need to be KMEMLEAK_SCAN_GAP old.
        first = time.monotonic()
        KMEMLEAK.write_text("scan")
        time.sleep(max(0.0, KMEMLEAK_SCAN_GAP - (time.monotonic() - first)))
        KMEMLEAK.write_text("scan")
        return KMEMLEAK.read_text()[:200_000]
    except OSError as exc:  # kmemleak disabled itself (e.g. out of pool memory)
        return f"kmemleak unavailable: {exc}"


class GuestAgent:
    """pytest plugin object for the guest session."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.reports: list[dict[str, Any]] = []
        self.current_seq = 0

    # --- collection -----------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = {item.nodeid: item for item in session.items}

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors = getattr(self, "collect_errors", [])
            self.collect_errors.append(f"{report.nodeid}: {report.longreprtext}")

    # --- running --------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self.reports.append(data)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        self.config = session.config
        # Console timestamps from here and the bootstrap's "starting" line
        # show how long the guest's Python start-up and collection took.
        kmsg(f"netharness: guest ready, {len(self.items)} items collected")
        self.channel.send_ready(
            Ready(nodeids=tuple(self.items), errors=tuple(getattr(self, "collect_errors", [])), pid=os.getpid())
        )
        seq = 1
        while True:
            command = self.channel.wait_for_command(seq, timeout=3600, interval=POLL_INTERVAL)
            if command is None or isinstance(command, Exit):
                leaks = kmemleak_report() if command is not None and command.kmemleak else None
                self.channel.send_done(Done(tainted=tainted(), kmemleak=leaks))
                return True
            self.run_one(seq, command)
            seq += 1

    def run_one(self, seq: int, command: RunItem) -> None:
        nodeid = command.nodeid
        item = self.items.get(nodeid)
        if item is None:
            self.channel.send_result(seq, ItemResult(nodeid=nodeid, error="not collected in the guest"))
            return
        nextitem = self.items.get(command.next or "")
        self.reports = []
        taint_before = tainted()
        lockdep_before = lockdep_on()
        watcher = _InterruptWatcher(self.channel.interrupt_path(seq))
        watcher.start()
        kmsg(f"{KMSG_BEGIN}{nodeid}")
        started = time.monotonic()
        interrupted = False
        try:
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            watcher.stop()
            kmsg(f"{KMSG_END}{nodeid}")
        self.channel.send_result(
            seq,
            ItemResult(
                nodeid=nodeid,
                reports=tuple(self.reports),
                interrupted=interrupted,
                duration=time.monotonic() - started,
                taint_before=taint_before,
                taint_after=tainted(),
                lockdep_before=lockdep_before,
                lockdep_after=lockdep_on(),
            ),
        )
        if interrupted:
            # Fixture state is unknown after an interrupt: end this guest, the
            # host starts a fresh one for the remaining items.
            self.channel.send_done(Done(tainted=tainted(), interrupted=nodeid))
            os._exit(0)


class _InterruptWatcher(threading.Thread):
    """Turns the host's interrupt file into SIGINT for this process."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            if self.path.exists():
                os.kill(os.getpid(), signal.SIGINT)
                return

    def stop(self) -> None:
        self._stop_event.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.vm.guest")
    parser.add_argument("--channel", required=True, type=Path)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    channel = Channel(args.channel)
    pytest_args = [a for a in args.pytest_args if a != "--"]
    if not pytest_args and channel.args_path.exists():
        pytest_args = json.loads(channel.args_path.read_text())
    os.environ[GUEST_ENV] = "1"
    # The host passes its installed plugins with -p (see guest_plugin_modules).
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sys.dont_write_bytecode = True
    prepare_guest()
    agent = GuestAgent(channel)
    code = pytest.main(["-p", "no:cacheprovider", *pytest_args], plugins=[agent])
    if not channel.done_path.exists():
        # pytest ended before the loop (usage error, collection crash).
        channel.send_done(Done(tainted=tainted(), exit=int(code)))
    return int(code)


if __name__ == "__main__":
    sys.exit(main())

"""The devlink suite's view of a netdevsim device (``Devlink``) and its event monitor.

Commands run as ``devlink -N NETNS ...`` (through harness.run): devlink enters
the node's namespace itself, one process fewer, which under TCG saves about
0.3 s per call. debugfs and the netdevsim bus files are global and are read
and written from the test process (``suitelib.netdevsim``). Parsing lives
in ``suitelib/devlink.py`` (pure, unit-tested); this module only runs things.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.run import run as run_command
from harness.topology.live import LiveNode, LiveTopology
from suitelib import devlink as dl
from suitelib.netdevsim import NetdevSimDev

FIRMWARE_DIR = Path("/lib/firmware")
TIMEOUT = 120.0  # a flash takes about 6 s under TCG


@dataclass(frozen=True)
class Devlink:
    """One netdevsim device of the test's topology, seen from ``node``.

    ``node`` is the node whose namespace the devlink instance lives in; after
    a reload into another namespace, use :meth:`seen_from`.
    """

    topo: LiveTopology
    node: LiveNode
    dev_id: int

    # --- identity ---------------------------------------------------------

    @property
    def handle(self) -> str:
        return dl.handle(self.dev_id)

    @property
    def dev(self) -> NetdevSimDev:
        """The device itself (paths, debugfs knobs, bus files), as every suite drives it."""
        return NetdevSimDev(self.dev_id, self.node.netns)

    @property
    def debugfs(self) -> Path:
        return self.dev.debugfs

    @property
    def bus_dir(self) -> Path:
        return self.dev.bus_dir

    def seen_from(self, node: LiveNode | str) -> "Devlink":
        return replace(self, node=self.topo[node] if isinstance(node, str) else node)

    # --- running devlink ----------------------------------------------------

    def argv(self, args: Sequence[str]) -> list[str]:
        return ["devlink", "-N", self.node.netns, *args]

    def run(self, *args: str, check: bool = True, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        return run_command(["devlink", *args], netns=self.node.netns, check=check, timeout=timeout,
                           where=self.node.name)

    def json(self, *args: str) -> Any:
        return dl.loads(self.run("-j", *args).stdout)

    def fails(self, *args: str) -> dl.DevlinkError:
        """Run a command that must fail; return what it said."""
        proc = self.run(*args, check=False)
        assert proc.returncode != 0, f"devlink {' '.join(args)} succeeded but must fail; stdout: {proc.stdout[:500]}"
        return dl.parse_error(proc.stderr)

    # --- typed views ------------------------------------------------------------

    def devices(self) -> dict[str, dict[str, Any]]:
        return dl.devices(self.json("dev", "show"))

    def visible(self) -> bool:
        return self.handle in self.devices()

    def info(self) -> dict[str, Any]:
        return dl.dev_info(self.json("dev", "info", self.handle), self.handle)

    def stats(self) -> dict[tuple[str, str, str], int]:
        return dl.reload_stats(self.json("-s", "dev", "show", self.handle), self.handle)

    def ports(self) -> dict[int, dict[str, Any]]:
        return dl.ports(self.json("port", "show"), self.handle)

    def params(self) -> dict[str, dict[str, Any]]:
        # iproute2 6.1 needs a name after a handle: dump all and filter.
        return dl.params(self.json("dev", "param", "show"), self.handle)

    def resources(self) -> dict[str, dict[str, Any]]:
        return dl.resources(self.json("resource", "show", self.handle), self.handle)

    def regions(self) -> dict[str, dict[str, Any]]:
        return dl.regions(self.json("region", "show"), self.handle)

    def snapshots(self, region: str = "dummy") -> list[int]:
        return list(self.regions()[region]["snapshot"])

    def reporters(self) -> dict[str, dict[str, Any]]:
        return dl.reporters(self.json("health", "show"), self.handle)

    def reporter(self, name: str) -> dict[str, Any]:
        return dl.reporters(self.json("health", "show", self.handle, "reporter", name), self.handle)[name]

    def traps(self, *opts: str) -> dict[str, dict[str, Any]]:
        return dl.traps(self.json(*opts, "trap", "show"), self.handle)

    def trap_groups(self, *opts: str) -> dict[str, dict[str, Any]]:
        return dl.trap_groups(self.json(*opts, "trap", "group", "show"), self.handle)

    def trap_policers(self, *opts: str) -> dict[int, dict[str, Any]]:
        return dl.trap_policers(self.json(*opts, "trap", "policer", "show"), self.handle)

    def rates(self) -> dict[str, dict[str, Any]]:
        return dl.rates(self.json("port", "function", "rate", "show"), self.handle)

    def reload(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("dev", "reload", self.handle, *extra)

    # --- debugfs knobs and bus files: NetdevSimDev's ---------------------------------

    def read_knob(self, name: str) -> str:
        return self.dev.read_knob(name)

    def write_knob(self, name: str, value: str | int) -> None:
        self.dev.write_knob(name, value)

    def knob(self, name: str, value: str | int) -> contextlib.AbstractContextManager[None]:
        return self.dev.knob(name, value)

    def knob_errno(self, name: str, value: str | int) -> int:
        return self.dev.knob_errno(name, value)

    def write_bus(self, name: str, value: str | int) -> None:
        self.dev.write_bus(name, value)

    def bus_errno(self, name: str, value: str | int) -> int:
        return self.dev.bus_errno(name, value)


class Monitor:
    """``devlink mon`` running in the device's namespace, lines collected by a thread.

    ``stdbuf -oL``: devlink prints through stdio, which a pipe would
    otherwise buffer until exit. ``wait_ready`` closes the race between
    starting the monitor and its netlink subscription: it creates and deletes
    a region snapshot until the monitor reports it.
    """

    def __init__(self, dev: Devlink) -> None:
        self.dev = dev
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", *dev.argv(["mon"])],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line)

    def text(self) -> str:
        with self._lock:
            return "".join(self.lines)

    def events(self) -> list[dl.MonitorEvent]:
        return dl.monitor_events(self.text())

    def wait_for(self, predicate, timeout: float = 30.0) -> list[dl.MonitorEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if predicate(events):
                return events
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"devlink mon did not report the expected events; output so far:\n{self.text()[-3000:]}")

    def wait_ready(self, timeout: float = 60.0) -> None:
        snapshot = 4242
        deadline = time.monotonic() + timeout
        region = f"{self.dev.handle}/dummy"

        def seen(events: list[dl.MonitorEvent]) -> bool:
            return any(e.obj == "region" and e.cmd == "new" and e.body == f"snapshot {snapshot}" for e in events)

        while time.monotonic() < deadline:
            self.dev.run("region", "new", region, "snapshot", str(snapshot))
            self.dev.run("region", "del", region, "snapshot", str(snapshot))
            try:
                self.wait_for(seen, timeout=2.0)
                return
            except AssertionError:
                if self.proc.poll() is not None:
                    raise
        raise AssertionError(f"devlink mon never reported a probe event; output:\n{self.text()[-3000:]}")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=10)
        return self.text()

"""The host <-> guest channel: JSON files in the shared ``--rwdir``.

virtme-ng's exit code and stdout cannot be trusted in our guests (DESIGN.md),
so every message is a file. Each message is written to a temporary name and
renamed into place, so a reader never sees half a message. Files are named
by sequence number and are never reused, so the guest's 9p/virtiofs caches
cannot serve a stale one.

Layout of the directory::

    args.json         host -> guest: the pytest arguments (not on the kernel cmdline)
    bootstrap.py      host -> guest: puts the module bundle on sys.path
    syspath.json      host -> guest: the rest of sys.path (the guest skips site.py)
    ready.json        guest -> host: collection done, the nodeids it has
    cmd/000001.json   host -> guest: {"op": "run", "nodeid": ..., "next": ...}
    res/000001.json   guest -> host: {"nodeid": ..., "reports": [...]}
    interrupt/000001  host -> guest: stop the test of command 1 (SIGINT)
    done.json         guest -> host: the agent is exiting, with final checks
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def _write_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(data)
    os.replace(tmp, path)


class Channel:
    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        for sub in ("cmd", "res", "interrupt"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # paths
    def cmd_path(self, seq: int) -> Path:
        return self.root / "cmd" / f"{seq:06d}.json"

    def res_path(self, seq: int) -> Path:
        return self.root / "res" / f"{seq:06d}.json"

    def interrupt_path(self, seq: int) -> Path:
        return self.root / "interrupt" / f"{seq:06d}"

    @property
    def args_path(self) -> Path:
        return self.root / "args.json"

    @property
    def bootstrap_path(self) -> Path:
        return self.root / "bootstrap.py"

    @property
    def syspath_path(self) -> Path:
        return self.root / "syspath.json"

    @property
    def ready_path(self) -> Path:
        return self.root / "ready.json"

    @property
    def done_path(self) -> Path:
        return self.root / "done.json"

    # writing
    def send_command(self, seq: int, command: dict[str, Any]) -> None:
        _write_atomic(self.cmd_path(seq), json.dumps(command))

    def send_result(self, seq: int, result: dict[str, Any]) -> None:
        _write_atomic(self.res_path(seq), json.dumps(result))

    def send_ready(self, info: dict[str, Any]) -> None:
        _write_atomic(self.ready_path, json.dumps(info))

    def send_done(self, info: dict[str, Any]) -> None:
        _write_atomic(self.done_path, json.dumps(info))

    def send_interrupt(self, seq: int) -> None:
        _write_atomic(self.interrupt_path(seq), "")

    # reading
    @staticmethod
    def read(path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def wait_for(self, path: Path, timeout: float, interval: float = 0.005) -> dict[str, Any] | None:
        """Poll for a message file; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.read(path)
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(interval)

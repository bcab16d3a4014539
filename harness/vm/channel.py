"""The host <-> guest channel: JSON files in the shared ``--rwdir``.

virtme-ng's exit code and stdout cannot be trusted in our guests,
so every message is a file. Each message is written to a temporary name and
renamed into place, so a reader never sees half a message. Files are named
by sequence number and are never reused, so the guest's 9p/virtiofs caches
cannot serve a stale one.

Layout of the directory::

    args.json         host -> guest: the pytest arguments (not on the kernel cmdline)
    bootstrap.py      host -> guest: puts the module bundle on sys.path
    syspath.json      host -> guest: the rest of sys.path (the guest skips site.py)
    ready.json        guest -> host: protocol.Ready (collection done, the nodeids it has)
    cmd/000001.json   host -> guest: protocol.RunItem or protocol.Exit
    res/000001.json   guest -> host: protocol.ItemResult
    interrupt/000001  host -> guest: stop the test of command 1 (SIGINT)
    done.json         guest -> host: protocol.Done (the agent is exiting, with final checks)
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any, TypeVar

from .protocol import Command, Done, ItemResult, ProtocolError, Ready, command_from_json

T = TypeVar("T")


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

    # writing (host -> guest: commands; guest -> host: ready, results, done)
    def send_command(self, seq: int, command: Command) -> None:
        _write_atomic(self.cmd_path(seq), json.dumps(command.to_json()))

    def send_result(self, seq: int, result: ItemResult) -> None:
        _write_atomic(self.res_path(seq), json.dumps(result.to_json()))

    def send_ready(self, ready: Ready) -> None:
        _write_atomic(self.ready_path, json.dumps(ready.to_json()))

    def send_done(self, done: Done) -> None:
        _write_atomic(self.done_path, json.dumps(done.to_json()))

    def send_interrupt(self, seq: int) -> None:
        _write_atomic(self.interrupt_path(seq), "")

    # reading: None while a message is not there; ProtocolError for a malformed one
    @staticmethod
    def read(path: Path) -> Any | None:
        """The decoded JSON at ``path``, or None if there is no such message (yet)."""
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ProtocolError(f"{path.name}: not JSON ({exc})") from None

    def read_ready(self) -> Ready | None:
        data = self.read(self.ready_path)
        return None if data is None else Ready.from_json(data)

    def read_result(self, seq: int) -> ItemResult | None:
        data = self.read(self.res_path(seq))
        return None if data is None else ItemResult.from_json(data)

    def read_done(self) -> Done | None:
        data = self.read(self.done_path)
        return None if data is None else Done.from_json(data)

    def wait_for(self, read: Callable[[], T | None], timeout: float, interval: float = 0.005) -> T | None:
        """Poll ``read`` (one of the readers above) until it returns a message; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            found = read()
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(interval)

    def wait_for_command(self, seq: int, timeout: float, interval: float) -> Command | None:
        def read() -> Command | None:
            data = self.read(self.cmd_path(seq))
            return None if data is None else command_from_json(data)

        return self.wait_for(read, timeout, interval)

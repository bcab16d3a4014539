"""One netdevsim device as the suites drive it: ids and paths, debugfs knobs, bus files, devlink.

The kernel selftests' ``lib/py/nsim.py`` ``NetdevSimDev`` is the model. A
knob or bus write is one write(2) whose errno is the driver's answer
(``suitelib.kernel_files``); devlink commands run in the namespace the
device's devlink instance lives in, through ``harness.run``. The devlink,
switchdev and offload suites all build on this class.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.run import run

from suitelib import devlink as dl
from suitelib.kernel_files import write_errno, write_file

DEBUGFS = Path("/sys/kernel/debug/netdevsim")
BUS = Path("/sys/bus/netdevsim")
DEVLINK_TIMEOUT = 180.0  # a reload or flash takes seconds under TCG


@dataclass(frozen=True)
class NetdevSimDev:
    """netdevsim device ``dev_id`` whose devlink instance is in namespace ``netns`` (None: this one)."""

    dev_id: int
    netns: str | None

    # --- identity and paths ---------------------------------------------------------

    @property
    def name(self) -> str:
        return f"netdevsim{self.dev_id}"

    @property
    def handle(self) -> str:
        """The devlink handle, ``netdevsim/netdevsimN``."""
        return dl.handle(self.dev_id)

    @property
    def debugfs(self) -> Path:
        return DEBUGFS / self.name

    @property
    def bus_dir(self) -> Path:
        return BUS / "devices" / self.name

    def port_debugfs(self, index: int) -> Path:
        return self.debugfs / "ports" / str(index)

    # --- debugfs knobs ---------------------------------------------------------------

    def knob_path(self, name: str) -> Path:
        return self.debugfs / name

    def read_knob(self, name: str) -> str:
        return self.knob_path(name).read_text().strip()

    def write_knob(self, name: str, value: str | int) -> None:
        """Write a debugfs file of the device (OSError with the driver's errno when refused)."""
        write_file(self.knob_path(name), value)

    def knob_errno(self, name: str, value: str | int) -> int:
        """Write a debugfs file; the errno of the write (0: accepted)."""
        return write_errno(self.knob_path(name), value)

    @contextlib.contextmanager
    def knob(self, name: str, value: str | int) -> Iterator[None]:
        """Set a debugfs knob for the block; put the old value back afterwards."""
        old = self.read_knob(name)
        self.write_knob(name, value)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):  # the device went away, or was reloaded
                self.write_knob(name, old)

    # --- bus files (new_port, del_port, sriov_numvfs, ...) -------------------------------

    def write_bus(self, name: str, value: str | int) -> None:
        write_file(self.bus_dir / name, value)

    def bus_errno(self, name: str, value: str | int) -> int:
        return write_errno(self.bus_dir / name, value)

    # --- devlink ----------------------------------------------------------------------

    def devlink(self, *args: str, check: bool = True, timeout: float = DEVLINK_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """``devlink ARGS`` in the device's namespace."""
        return run(["devlink", *args], netns=self.netns, check=check, timeout=timeout)

    def devlink_json(self, *args: str) -> Any:
        return dl.loads(self.devlink("-j", *args).stdout)

    def resources(self) -> dict[str, dict[str, Any]]:
        return dl.resources(self.devlink_json("resource", "show", self.handle), self.handle)

    def occ(self, path: str) -> int:
        """Occupancy of a devlink resource."""
        return int(self.resources()[path]["occ"])

    def set_size(self, path: str, size: int | None) -> None:
        """Stage a resource size (None: unlimited); a reload applies it."""
        self.devlink("resource", "set", self.handle, "path", path, "size", str(dl.U64_MAX if size is None else size))

    def reload(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.devlink("dev", "reload", self.handle, *extra, check=check)

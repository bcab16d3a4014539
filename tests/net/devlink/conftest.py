"""Fixtures of the devlink suite: the topology's netdevsim device as a devlink
instance (``nsim``, a ``suitelib.devlink_device.Devlink``), an event monitor,
a firmware file. The classes live in ``suitelib/devlink_device.py``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator

import pytest

from harness.topology.live import LiveTopology
from suitelib.devlink_device import FIRMWARE_DIR, Devlink, Monitor


def _netdevsim_device(topo: LiveTopology) -> tuple[str, str]:
    """(node, device) of the topology's first netdevsim device."""
    for node in topo.topology.nodes:
        for dev in node.netdevsim:
            return node.name, dev.name
    raise pytest.UsageError(f"topology {topo.topology.name!r} declares no netdevsim device")


@pytest.fixture
def nsim(topo: LiveTopology) -> Devlink:
    """The topology's netdevsim device as a devlink instance, seen from its node."""
    node, device = _netdevsim_device(topo)
    return Devlink(topo=topo, node=topo[node], dev_id=topo.netdevsim_id(node, device))


@pytest.fixture
def monitor(nsim: Devlink) -> Iterator[Monitor]:
    """A ready ``devlink mon`` in the device's namespace, stopped afterwards."""
    mon = Monitor(nsim)
    try:
        mon.wait_ready()
        yield mon
    finally:
        mon.stop()


@pytest.fixture
def firmware_file(topo: LiveTopology) -> Iterator[str]:
    """A dummy firmware image in /lib/firmware, named for this run; removed afterwards.

    netdevsim ignores the contents, but the kernel's firmware loader must find
    the file. (In a VM /lib is a writable overlay; on a host the file lives
    only for the test.)
    """
    name = f"netharness-{topo.run_id}-{secrets.token_hex(3)}.bin"
    path = FIRMWARE_DIR / name
    made_dir = not FIRMWARE_DIR.exists()
    try:
        FIRMWARE_DIR.mkdir(exist_ok=True)
        path.write_bytes(b"netharness dummy firmware\n" * 4)
    except OSError as exc:
        pytest.skip(f"cannot write a dummy firmware file to {FIRMWARE_DIR}: {os.strerror(exc.errno or errno.EIO)}")
    try:
        yield name
    finally:
        path.unlink(missing_ok=True)
        if made_dir:
            with contextlib.suppress(OSError):
                FIRMWARE_DIR.rmdir()


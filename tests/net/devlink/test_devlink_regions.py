"""devlink regions on netdevsim: the 32 KiB ``dummy`` region, snapshots
taken by the driver (debugfs ``take_snapshot``) and by the user
(``region new``), reading and dumping them, and the 16-snapshot limit.

Reference: devlink.sh regions_test; drivers/net/netdevsim/dev.c
(nsim_dev_dummy_region_init: size 32768, max 16 snapshots);
net/devlink/region.c.
"""

from __future__ import annotations

import errno

import pytest

from suitelib import devlink as dl

pytestmark = pytest.mark.topology("devlink-dut")

SIZE = 32 * 1024
MAX_SNAPSHOTS = 16


def region(nsim) -> str:
    return f"{nsim.handle}/dummy"


def take_snapshot(nsim) -> int:
    """Ask the driver for a snapshot; return the errno of the debugfs write."""
    return nsim.knob_errno("take_snapshot", "\n")


def read(nsim, snapshot: int, addr: int, length: int) -> tuple[int, bytes]:
    text = nsim.run("-j", "region", "read", region(nsim), "snapshot", str(snapshot), "addr", str(addr), "len", str(length)).stdout
    return dl.region_bytes(text)


def test_the_dummy_region_starts_without_snapshots(nsim):
    assert nsim.regions() == {"dummy": {"size": SIZE, "snapshot": [], "max": MAX_SNAPSHOTS}}


def test_driver_and_user_snapshots_are_listed_and_deleted(nsim):
    for count in (1, 2, 3):
        assert take_snapshot(nsim) == 0
        assert len(nsim.snapshots()) == count
    first = nsim.snapshots()[0]
    nsim.run("region", "del", region(nsim), "snapshot", str(first))
    assert len(nsim.snapshots()) == 2 and first not in nsim.snapshots()

    nsim.run("region", "new", region(nsim), "snapshot", "25")
    assert 25 in nsim.snapshots() and len(nsim.snapshots()) == 3

    # Without an id the kernel picks one and reports it.
    sid = dl.new_snapshot_id(nsim.json("region", "new", region(nsim)), nsim.handle, "dummy")
    assert sid in nsim.snapshots() and len(nsim.snapshots()) == 4
    for snapshot in (25, sid):
        nsim.run("region", "del", region(nsim), "snapshot", str(snapshot))
    assert len(nsim.snapshots()) == 2
    assert 25 not in nsim.snapshots() and sid not in nsim.snapshots()


def test_reads_match_the_dump_and_are_clipped_at_the_region_end(nsim):
    nsim.run("region", "new", region(nsim), "snapshot", "25")
    start, dump = dl.region_bytes(nsim.run("-j", "region", "dump", region(nsim), "snapshot", "25").stdout)
    assert start == 0 and len(dump) == SIZE

    assert read(nsim, 25, 0, 1) == (0, dump[:1])
    assert read(nsim, 25, 128, 128) == (128, dump[128:256])
    # A length past the end is clipped to the region (devlink.sh: "oversized").
    assert read(nsim, 25, SIZE - 8, 1 << 32) == (SIZE - 8, dump[-8:])
    # Another snapshot holds other (random) data.
    nsim.run("region", "new", region(nsim), "snapshot", "26")
    assert read(nsim, 26, 0, 256)[1] != dump[:256]


def test_bad_reads_are_refused(nsim):
    nsim.run("region", "new", region(nsim), "snapshot", "25")
    err = nsim.fails("region", "read", region(nsim), "snapshot", "25", "addr", str(1 << 32), "len", "128")
    assert err.kernel == "Invalid argument", err
    err = nsim.fails("region", "read", region(nsim), "snapshot", "99", "addr", "0", "len", "1")
    assert err.message == "Requested snapshot does not exist" and err.kernel == "Invalid argument", err
    err = nsim.fails("region", "dump", f"{nsim.handle}/no-such-region", "snapshot", "25")
    assert err.kernel == "Invalid argument", err


def test_snapshot_id_clashes_unknown_regions_and_missing_snapshots_are_refused(nsim):
    nsim.run("region", "new", region(nsim), "snapshot", "25")
    err = nsim.fails("region", "new", region(nsim), "snapshot", "25")
    assert err.message == "The requested snapshot id is already in use" and err.kernel == "File exists", err
    err = nsim.fails("region", "new", f"{nsim.handle}/no-such-region")
    assert err.message == "The requested region does not exist" and err.kernel == "Invalid argument", err
    err = nsim.fails("region", "del", region(nsim), "snapshot", "99")
    assert err.kernel == "Invalid argument", err
    assert nsim.snapshots() == [25]


def test_the_region_holds_at_most_sixteen_snapshots(nsim):
    for _ in range(MAX_SNAPSHOTS // 2):
        assert take_snapshot(nsim) == 0
    while len(nsim.snapshots()) < MAX_SNAPSHOTS:
        nsim.run("region", "new", region(nsim))
    assert len(set(nsim.snapshots())) == MAX_SNAPSHOTS

    err = nsim.fails("region", "new", region(nsim))
    assert err.message == "The region has reached the maximum number of stored snapshots", err
    assert err.kernel == "No space left on device", err
    assert take_snapshot(nsim) == errno.ENOSPC  # the driver's own snapshots hit the same limit
    assert len(nsim.snapshots()) == MAX_SNAPSHOTS

    victim = nsim.snapshots()[0]
    nsim.run("region", "del", region(nsim), "snapshot", str(victim))
    nsim.run("region", "new", region(nsim), "snapshot", str(victim))  # room again, id reusable
    assert len(nsim.snapshots()) == MAX_SNAPSHOTS

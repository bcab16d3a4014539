"""Sample items for tests/integration/test_vm_runner.py, run inside a VM.

Not collected on its own (the file name does not match test_*.py): the
runner test passes it explicitly to `pytest --kernel`. LKDTM's DIRECT
interface provokes real kernel WARN and panic reports.
"""

import os
import signal
import time
from pathlib import Path

import pytest

LKDTM = Path("/sys/kernel/debug/provoke-crash/DIRECT")


def test_first_passes():
    assert Path("/proc/sys/kernel/tainted").read_text().strip() == "0"


def test_warn():
    LKDTM.write_text("WARNING")


def test_after_warn_passes():
    assert True


def test_panic():
    LKDTM.write_text("PANIC")


def test_after_panic_runs_in_a_fresh_vm():
    # A fresh guest: nothing tainted it yet.
    assert Path("/proc/sys/kernel/tainted").read_text().strip() == "0"


@pytest.mark.timeout(3)
def test_hang_interruptible():
    time.sleep(600)


@pytest.mark.timeout(3)
def test_hang_ignoring_signals():
    # Neither pytest-timeout's SIGALRM nor the host's SIGINT gets through:
    # only killing the VM ends this.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGINT})
    time.sleep(600)


def test_last_passes():
    assert os.getpid() > 0

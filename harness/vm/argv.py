"""Building the virtme-ng command line (pure).

Always: ``--run`` with the image, ``--user root``, ``-v`` (without it an oops
may never reach the console we capture), ``--rwdir`` for the channel, and
``--disable-kvm`` unless the KVM probe proved a guest can run with KVM.
The guest command goes after ``--`` as separate arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# Kernel command line additions: a panic reboots at once (QEMU runs with
# -no-reboot under vng, so the VM exits and the host notices); hung tasks and
# soft lockups are reported, not turned into panics, so the report survives.
DEFAULT_APPEND = ("panic=-1", "hung_task_panic=0", "softlockup_panic=0", "kmemleak=on")


@dataclass(frozen=True)
class VMSpec:
    kernel: Path
    rwdir: Path
    command: tuple[str, ...]
    accel: Literal["kvm", "tcg"] = "tcg"
    memory: str = "2G"
    cpus: int = 2
    cwd: Path | None = None
    name: str = "netharness"
    append: tuple[str, ...] = DEFAULT_APPEND
    vfio_pci: tuple[str, ...] = ()  # PCI addresses of NICs to pass through
    extra_rodirs: tuple[Path, ...] = field(default=())


def vng_argv(vng: str, spec: VMSpec) -> list[str]:
    argv = [
        vng,
        "--run", str(spec.kernel),
        "--user", "root",
        "--verbose",
        "--name", spec.name,
        "--memory", spec.memory,
        "--cpus", str(spec.cpus),
        "--rwdir", str(spec.rwdir),
    ]
    if spec.accel == "tcg":
        argv.append("--disable-kvm")
    if spec.cwd is not None:
        argv += ["--cwd", str(spec.cwd)]
    for rodir in spec.extra_rodirs:
        argv += ["--rodir", str(rodir)]
    for address in spec.vfio_pci:
        argv += ["--vfio-pci", address]
    if spec.append:
        argv += ["--append", " ".join(spec.append)]
    argv += ["--", *spec.command]
    return argv


def guest_command(python: str, channel: Path, bootstrap: Path | None = None, bundle: Path | None = None) -> tuple[str, ...]:
    """The agent command the guest runs: our venv's python and the channel.

    virtme-ng passes the command on the kernel command line, which x86 caps at
    2048 bytes (a longer one silently loses virtme's own root= parameter), so
    the pytest arguments travel in the channel (``args.json``), never here.
    With a module bundle (see ``bundle.py``) a bootstrap script, also in the
    channel, puts it on sys.path before anything else is imported.
    """
    if bundle is not None and bootstrap is not None:
        return (python, "-S", str(bootstrap), str(bundle), "--channel", str(channel))
    return (python, "-m", "harness.vm.guest", "--channel", str(channel))

"""The environment vng runs in, for kernel builds and VMs alike.

virtme-ng reads ~/.config/virtme-ng and finds QEMU, virtiofsd and itself on
PATH; both the kernel build (``vng --build``) and the VM runner start it, so
the environment is made here once, outside ``kernel`` and ``vm``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..host import cache_dir
from .virtiofsd_shim import shim_dir


def controlled_env(home: Path) -> dict[str, str]:
    """Environment for vng: a HOME without ~/.config/virtme-ng, our venv first on
    PATH, and (when no Rust virtiofsd is installed) the virtiofsd shim before it."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["HOME"] = str(home)
    path = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    if shutil.which("virtiofsd", path=path) is None:
        shim = shim_dir(cache_dir())
        if shim is not None:
            path = f"{shim}:{path}"
    env["PATH"] = path
    return env

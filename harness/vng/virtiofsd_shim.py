"""Lets virtme-ng use Debian 12's virtiofsd instead of falling back to 9p.

Debian 12's QEMU ships the C virtiofsd (/usr/lib/qemu/virtiofsd); virtme-ng
speaks the Rust virtiofsd's command line (``--shared-dir``, ``--cache``) and
waits at most ~3 s for a ``<socket>.pid`` file, so with the C daemon it falls
back to 9p. Under TCG that fallback is what makes a guest slow: every file
operation is an emulated round trip (measured here: guest Python start-up
2-3 minutes on 9p, 10 s on virtiofs). The shim translates the Rust-style
arguments, starts the C daemon, waits for its socket and writes the pid
file. virtme-ng mounts the export read-only in the guest.

The shim is a small POSIX shell script (it must answer within vng's ~3 s
even on a loaded machine, which a Python start-up does not always do),
installed as an executable named ``virtiofsd`` in a private directory that
only the vng process gets first on its PATH.
"""

from __future__ import annotations

import os
from pathlib import Path

C_VIRTIOFSD = Path("/usr/lib/qemu/virtiofsd")

SCRIPT = f"""#!/bin/sh
# netharness: Rust-virtiofsd command line -> {C_VIRTIOFSD} (harness/vng/virtiofsd_shim.py)
case " $* " in
  *" --version "*) echo "netharness virtiofsd shim over {C_VIRTIOFSD}"; exit 0 ;;
  *" --help "*) echo "usage: virtiofsd --socket-path PATH --shared-dir DIR [--cache MODE]"; exit 0 ;;
esac
sock=; dir=; cache=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --socket-path) sock=$2; shift ;;
    --shared-dir) dir=$2; shift ;;
    --cache) cache=$2; shift ;;
  esac
  shift
done
if [ -z "$sock" ] || [ -z "$dir" ]; then
  echo "virtiofsd shim: --socket-path and --shared-dir are required" >&2; exit 2
fi
setsid {C_VIRTIOFSD} --socket-path="$sock" -o source="$dir" -o cache="$cache" \\
  -o sandbox=chroot -o log_level=err </dev/null >/dev/null 2>&1 &
pid=$!
# QEMU must not connect before the socket exists.
i=0
while [ ! -S "$sock" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i + 1)); done
echo "$pid" > "$sock.pid"
"""


def shim_dir(base: Path) -> Path | None:
    """A directory holding the ``virtiofsd`` shim, or None when Debian's C
    virtiofsd is not installed (then vng uses whatever it finds, or 9p)."""
    if not C_VIRTIOFSD.is_file():
        return None
    directory = base / "virtiofsd-shim"
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "virtiofsd"
    if not script.is_file() or script.read_text() != SCRIPT:
        tmp = script.with_suffix(".tmp")
        tmp.write_text(SCRIPT)
        tmp.chmod(0o755)
        os.replace(tmp, script)
    return directory

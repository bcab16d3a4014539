"""Lets virtme-ng use Debian 12's virtiofsd instead of falling back to 9p.

Debian 12's QEMU ships the C virtiofsd (/usr/lib/qemu/virtiofsd); virtme-ng
speaks the Rust virtiofsd's command line (``--shared-dir``, ``--cache``) and
waits for a ``<socket>.pid`` file, so with the C daemon it silently falls back
to 9p. Under TCG that fallback is what makes a guest slow: every file
operation is an emulated round trip (measured here: guest Python start-up
2-3 minutes on 9p, 10 s on virtiofs). This shim translates the Rust-style
arguments, starts the C daemon, waits for its socket and writes the pid file.
virtme-ng mounts the export read-only in the guest.

Installed by ``shim_dir()`` as an executable named ``virtiofsd`` in a
private directory that only the vng process gets on its PATH.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

C_VIRTIOFSD = Path("/usr/lib/qemu/virtiofsd")


def translate(args: list[str]) -> list[str]:
    """Rust virtiofsd arguments (as vng passes them) -> C virtiofsd arguments."""

    def value(name: str, default: str | None = None) -> str | None:
        return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else default

    sock, shared, cache = value("--socket-path"), value("--shared-dir"), value("--cache", "auto")
    if sock is None or shared is None:
        raise SystemExit("virtiofsd shim: --socket-path and --shared-dir are required")
    return [
        str(C_VIRTIOFSD), f"--socket-path={sock}", "-o", f"source={shared}", "-o", f"cache={cache}",
        "-o", "sandbox=chroot", "-o", "log_level=err",
    ]


def main(args: list[str]) -> int:
    if "--version" in args:
        print(f"netharness virtiofsd shim over {C_VIRTIOFSD}")
        return 0
    if "--help" in args:
        print("usage: virtiofsd --socket-path PATH --shared-dir DIR [--cache MODE]")
        return 0
    argv = translate(args)
    sock = argv[1].split("=", 1)[1]
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.execv(argv[0], argv)
    for _ in range(200):  # QEMU must not connect before the socket exists
        if os.path.exists(sock) and stat.S_ISSOCK(os.stat(sock).st_mode):
            break
        time.sleep(0.025)
    Path(sock + ".pid").write_text(str(pid))
    return 0


def shim_dir(base: Path) -> Path | None:
    """A directory holding an executable ``virtiofsd`` that runs this shim,
    or None when Debian's C virtiofsd is not installed."""
    if not C_VIRTIOFSD.is_file():
        return None
    directory = base / "virtiofsd-shim"
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "virtiofsd"
    text = f"#!{sys.executable}\nimport sys\nfrom harness.vm.virtiofsd_shim import main\nsys.exit(main(sys.argv[1:]))\n"
    if not script.is_file() or script.read_text() != text:
        tmp = script.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, script)
    return directory


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

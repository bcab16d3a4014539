"""Writing the kernel's control files (sysfs, debugfs): one write(2), the kernel's errno kept.

A debugfs or sysfs store sees exactly the bytes of one write, and its answer
is an errno: tests assert on that errno (``write_errno``) or want any refusal
to fail loudly with path and data (``write_file``). Every suite uses these two.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_file(path: Path | str, data: str | int) -> None:
    """One write(2) of ``data``; OSError naming the path and data when the kernel refuses."""
    text = str(data)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, f"open {path} to write {text!r}: {exc.strerror}") from None
    try:
        os.write(fd, text.encode())
    except OSError as exc:
        raise OSError(exc.errno, f"write {text!r} to {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def write_errno(path: Path | str, data: str | int) -> int:
    """Write ``data`` and return the errno the kernel answered with (0: accepted)."""
    try:
        write_file(path, data)
    except OSError as exc:
        return exc.errno or -1
    return 0

"""Is this file a kernel virtme-ng can boot here? Checked before any boot.

``pytest --kernel /etc/passwd`` used to run the KVM probe and two boots
before failing, and cached the failed probe as "KVM unusable". A boot is
seconds to minutes under TCG, a header check is microseconds, so the image is
checked first. What boots here (x86-64, QEMU's ``-kernel``): an x86 bzImage,
recognised by its boot sector signature (0x55AA at 0x1FE) and its setup
header magic ("HdrS" at 0x202). An ELF vmlinux would boot only if built with
a PVH note (CONFIG_PVH), which virtme-ng does not check; rather than fail
later in the guest, it is refused with what to pass instead.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

BZIMAGE_IN_TREE = Path("arch") / "x86" / "boot" / "bzImage"
HEADER_BYTES = 0x210
_BOOT_FLAG = (0x1FE, b"\x55\xaa")
_HDRS = (0x202, b"HdrS")
_PASS = "pass a bzImage, a kernel build directory (with arch/x86/boot/bzImage) or 'default'"


class KernelImageError(ValueError):
    """Not something that boots; the message is one line naming the path and what to pass."""


def classify_header(head: bytes) -> str:
    """``bzimage``, ``elf``, ``empty`` or ``unknown`` from a file's first bytes (pure)."""
    if not head:
        return "empty"
    if head[:4] == b"\x7fELF":
        return "elf"
    (flag_at, flag), (magic_at, magic) = _BOOT_FLAG, _HDRS
    if head[flag_at:flag_at + len(flag)] == flag and head[magic_at:magic_at + len(magic)] == magic:
        return "bzimage"
    return "unknown"


def check_header(path: Path, head: bytes) -> Path:
    """``path`` if ``head`` (its first bytes) is a bzImage; else KernelImageError (pure)."""
    kind = classify_header(head)
    if kind == "bzimage":
        return path
    if kind == "elf":
        raise KernelImageError(f"{path} is an ELF file (a vmlinux?), which QEMU boots only with a PVH "
                               f"note; pass the bzImage (arch/x86/boot/bzImage) or the build directory")
    if kind == "empty":
        raise KernelImageError(f"{path} is empty; {_PASS}")
    raise KernelImageError(f"{path} is not an x86 kernel image (no bzImage boot header); {_PASS}")


def kernel_image(value: str | os.PathLike[str]) -> Path:
    """The bzImage that ``value`` (a bzImage or a build directory) names, or KernelImageError.

    Only reads: stat, and the first bytes of a regular file. FIFOs and device
    files are refused by their type, never opened (opening a FIFO blocks).
    """
    path = Path(value)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KernelImageError(f"{path} does not exist; {_PASS}") from None
    except OSError as exc:
        raise KernelImageError(f"{path}: {exc.strerror or exc}; {_PASS}") from None
    if stat.S_ISDIR(st.st_mode):
        image = path / BZIMAGE_IN_TREE
        if not image.exists():
            raise KernelImageError(f"{path} is a directory without {BZIMAGE_IN_TREE} (not a built kernel "
                                   f"tree?); {_PASS}")
        return kernel_image(image)
    if not stat.S_ISREG(st.st_mode):
        raise KernelImageError(f"{path} is not a regular file; {_PASS}")
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
    except OSError as exc:
        raise KernelImageError(f"{path}: {exc.strerror or exc}; {_PASS}") from None
    return check_header(path, head)

"""Interface names from untrusted files: the one check every path, argv and sysctl key relies on.

Pure. A name that passes is what the kernel's ``dev_valid_name`` accepts,
minus what would change meaning on the way: '%' (the kernel picks a number,
``eth%d`` becomes ``eth0``), a leading '-' (ip, ethtool and devlink read it
as an option) and control characters.
"""

from __future__ import annotations

IFNAMSIZ_BYTES = 15  # IFNAMSIZ (16) less the terminating NUL


def ifname_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Linux interface name here, or None."""
    if not name:
        return "it is empty"
    if len(name.encode()) > IFNAMSIZ_BYTES:
        return f"it is {len(name.encode())} bytes long, the limit is {IFNAMSIZ_BYTES}"
    if name in (".", ".."):
        return "'.' and '..' are reserved"
    if "/" in name or ":" in name or any(c.isspace() for c in name):
        return "it contains '/', ':' or whitespace"
    if name.startswith("-"):
        return "it starts with '-', which ip, ethtool and devlink would read as an option"
    if "%" in name:
        return "it contains '%', which makes the kernel pick a number (eth%d becomes eth0)"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "it contains a control character"
    return None

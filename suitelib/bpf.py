"""Just enough of the bpf(2) syscall to load and inspect tiny XDP programs.

Debian 12 has neither bpftool nor a BPF toolchain here, and the offload
checks need no compiled objects: a two-instruction program ("return
XDP_PASS") is enough to exercise loading bound to a device (prog_ifindex),
attaching in offload mode and the device's refusals. Layouts follow
include/uapi/linux/bpf.h (union bpf_attr, struct bpf_insn, bpf_prog_info).
"""

from __future__ import annotations

import ctypes
import os
import struct

SYS_BPF = 321  # x86_64
BPF_PROG_LOAD = 5
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_PROG_TYPE_XDP = 6
XDP_PASS = 2
ATTR_SIZE = 128  # bigger than every field we set; the kernel wants the tail zeroed

XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2
XDP_FLAGS_HW_MODE = 1 << 3

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One struct bpf_insn: code, dst/src registers in one byte, offset, immediate."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


# r0 = XDP_PASS; exit
RETURN_PASS = insn(0xB7, dst=0, imm=XDP_PASS) + insn(0x95)


def prog_load_attr(insns: bytes, ifindex: int, license_ptr: int, insns_ptr: int, name: bytes) -> bytes:
    """union bpf_attr for BPF_PROG_LOAD of an XDP program (pointers already resolved)."""
    attr = struct.pack("<IIQQIIQII16sII", BPF_PROG_TYPE_XDP, len(insns) // 8, insns_ptr, license_ptr,
                       0, 0, 0, 0, 0, name[:15], ifindex, 0)
    return attr.ljust(ATTR_SIZE, b"\0")


def _bpf(cmd: int, attr: ctypes.Array) -> int:
    ret = _libc.syscall(SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf(cmd {cmd}): {os.strerror(err)}")
    return ret


def load_xdp(insns: bytes = RETURN_PASS, ifindex: int = 0, name: bytes = b"nh_pass") -> int:
    """Load an XDP program and return its fd; ``ifindex`` binds it to that device (offload).

    The kernel resolves ``ifindex`` in the calling thread's network namespace:
    call this inside ``harness.netns.entered(...)`` for a device in a node.
    """
    code = ctypes.create_string_buffer(insns, len(insns))
    license = ctypes.create_string_buffer(b"GPL")
    raw = prog_load_attr(insns, ifindex, ctypes.addressof(license), ctypes.addressof(code), name)
    attr = ctypes.create_string_buffer(raw, len(raw))
    return _bpf(BPF_PROG_LOAD, attr)


def prog_id(fd: int) -> int:
    """The kernel's id of the program behind ``fd`` (bpf_prog_info.id)."""
    info = ctypes.create_string_buffer(256)
    raw = struct.pack("<IIQ", fd, ctypes.sizeof(info), ctypes.addressof(info)).ljust(ATTR_SIZE, b"\0")
    attr = ctypes.create_string_buffer(raw, len(raw))
    _bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
    return struct.unpack_from("<I", info.raw, 4)[0]

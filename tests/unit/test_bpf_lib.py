"""suitelib/bpf.py: the bpf_attr and bpf_insn layouts it builds by hand.

Offsets are those of union bpf_attr's BPF_PROG_LOAD member in
include/uapi/linux/bpf.h (6.12): insns at 8, license at 16, prog_name at 48,
prog_ifindex at 64.
"""

from __future__ import annotations

import struct

from suitelib import bpf


def test_prog_load_attr_places_each_field_at_its_uapi_offset():
    attr = bpf.prog_load_attr(bpf.RETURN_PASS, ifindex=77, license_ptr=0x1111, insns_ptr=0x2222, name=b"nh_pass")
    assert len(attr) == bpf.ATTR_SIZE
    prog_type, insn_cnt, insns, license = struct.unpack_from("<IIQQ", attr, 0)
    assert (prog_type, insn_cnt, insns, license) == (bpf.BPF_PROG_TYPE_XDP, 2, 0x2222, 0x1111)
    assert attr[48:56] == b"nh_pass\0"
    assert struct.unpack_from("<I", attr, 64)[0] == 77
    assert attr[72:] == bytes(bpf.ATTR_SIZE - 72)  # the kernel refuses non-zero unknown tail bytes


def test_program_name_is_cut_to_fifteen_bytes_and_terminated():
    attr = bpf.prog_load_attr(bpf.RETURN_PASS, 0, 0, 0, name=b"x" * 40)
    assert attr[48:64] == b"x" * 15 + b"\0"


def test_return_pass_is_mov_r0_2_then_exit():
    assert bpf.RETURN_PASS == bytes([0xB7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])

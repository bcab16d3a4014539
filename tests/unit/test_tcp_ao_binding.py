"""Tests for suitelib/tcp_ao.py without a kernel: struct layout, packing.

The layout check compares the ctypes structs with ``LAYOUT``, the output of
``tests/unit/data/tcp_ao_layout.c`` compiled by gcc 12.2 (x86_64) against
the uapi ``linux/tcp.h`` of Linux 6.12 (Debian linux-source-6.12
6.12.117), as that file's header comment describes. ``test_layout_matches_c``
recompiles it when a TCP-AO capable header is at hand (NETHARNESS_TCP_H, or
a system <linux/tcp.h> that knows TCP-AO) and gcc is installed, so the
constant cannot drift from the C program; otherwise it skips.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from suitelib import tcp_ao as ao
from harness.host import cache_dir

LAYOUT_C = Path(__file__).parent / "data" / "tcp_ao_layout.c"

# Output of tests/unit/data/tcp_ao_layout.c (gcc 12.2, x86_64, Linux 6.12 uapi).
LAYOUT = """\
tcp_md5sig sizeof 216 alignof 8
tcp_md5sig.tcpm_addr 0 128
tcp_md5sig.tcpm_flags 128 1
tcp_md5sig.tcpm_prefixlen 129 1
tcp_md5sig.tcpm_keylen 130 2
tcp_md5sig.tcpm_ifindex 132 4
tcp_md5sig.tcpm_key 136 80
tcp_ao_add sizeof 288 alignof 8
tcp_ao_add.addr 0 128
tcp_ao_add.alg_name 128 64
tcp_ao_add.ifindex 192 4
tcp_ao_add.set_current bit 1568 1
tcp_ao_add.set_rnext bit 1569 1
tcp_ao_add.reserved bit 1570 30
tcp_ao_add.reserved2 200 2
tcp_ao_add.prefix 202 1
tcp_ao_add.sndid 203 1
tcp_ao_add.rcvid 204 1
tcp_ao_add.maclen 205 1
tcp_ao_add.keyflags 206 1
tcp_ao_add.keylen 207 1
tcp_ao_add.key 208 80
tcp_ao_del sizeof 144 alignof 8
tcp_ao_del.addr 0 128
tcp_ao_del.ifindex 128 4
tcp_ao_del.set_current bit 1056 1
tcp_ao_del.set_rnext bit 1057 1
tcp_ao_del.del_async bit 1058 1
tcp_ao_del.reserved bit 1059 29
tcp_ao_del.reserved2 136 2
tcp_ao_del.prefix 138 1
tcp_ao_del.sndid 139 1
tcp_ao_del.rcvid 140 1
tcp_ao_del.current_key 141 1
tcp_ao_del.rnext 142 1
tcp_ao_del.keyflags 143 1
tcp_ao_info_opt sizeof 48 alignof 8
tcp_ao_info_opt.set_current bit 0 1
tcp_ao_info_opt.set_rnext bit 1 1
tcp_ao_info_opt.ao_required bit 2 1
tcp_ao_info_opt.set_counters bit 3 1
tcp_ao_info_opt.accept_icmps bit 4 1
tcp_ao_info_opt.reserved bit 5 27
tcp_ao_info_opt.reserved2 4 2
tcp_ao_info_opt.current_key 6 1
tcp_ao_info_opt.rnext 7 1
tcp_ao_info_opt.pkt_good 8 8
tcp_ao_info_opt.pkt_bad 16 8
tcp_ao_info_opt.pkt_key_not_found 24 8
tcp_ao_info_opt.pkt_ao_required 32 8
tcp_ao_info_opt.pkt_dropped_icmp 40 8
tcp_ao_getsockopt sizeof 304 alignof 8
tcp_ao_getsockopt.addr 0 128
tcp_ao_getsockopt.alg_name 128 64
tcp_ao_getsockopt.key 192 80
tcp_ao_getsockopt.nkeys 272 4
tcp_ao_getsockopt.is_current bit 2208 1
tcp_ao_getsockopt.is_rnext bit 2209 1
tcp_ao_getsockopt.get_all bit 2210 1
tcp_ao_getsockopt.reserved bit 2211 13
tcp_ao_getsockopt.sndid 278 1
tcp_ao_getsockopt.rcvid 279 1
tcp_ao_getsockopt.prefix 280 1
tcp_ao_getsockopt.maclen 281 1
tcp_ao_getsockopt.keyflags 282 1
tcp_ao_getsockopt.keylen 283 1
tcp_ao_getsockopt.ifindex 284 4
tcp_ao_getsockopt.pkt_good 288 8
tcp_ao_getsockopt.pkt_bad 296 8
tcp_ao_repair sizeof 16 alignof 8
tcp_ao_repair.snt_isn 0 4
tcp_ao_repair.rcv_isn 4 4
tcp_ao_repair.snd_sne 8 4
tcp_ao_repair.rcv_sne 12 4
"""


def parse_layout(text: str) -> dict[str, tuple]:
    """``{"tcp_ao_add": ("sizeof", 288, 8), "tcp_ao_add.prefix": ("byte", 202, 1),
    "tcp_ao_add.set_current": ("bit", 1568, 1)}``."""
    out: dict[str, tuple] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[1] == "sizeof":
            out[parts[0]] = ("sizeof", int(parts[2]), int(parts[4]))
        elif len(parts) == 4 and parts[1] == "bit":
            out[parts[0]] = ("bit", int(parts[2]), int(parts[3]))
        elif len(parts) == 3:
            out[parts[0]] = ("byte", int(parts[1]), int(parts[2]))
        else:
            raise ValueError(f"unexpected layout line {line!r}")
    return out


def bit_position(struct_type: type[ctypes.Structure], field: str) -> tuple[int, int]:
    """(first bit index, width) of a bitfield, found as the C program does."""
    value = struct_type()
    width = 0
    while True:  # the widest value the field holds: ctypes truncates silently
        setattr(value, field, (1 << (width + 1)) - 1)
        if getattr(value, field) != (1 << (width + 1)) - 1:
            break
        width += 1
    value = struct_type()
    setattr(value, field, (1 << width) - 1)
    raw = int.from_bytes(bytes(value), "little")
    first = (raw & -raw).bit_length() - 1
    assert raw.bit_count() == width
    return first, width


def python_layout() -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for name, struct_type in ao.STRUCTS.items():
        out[name] = ("sizeof", ctypes.sizeof(struct_type), ctypes.alignment(struct_type))
        for field in struct_type._fields_:
            fname = field[0]
            if fname.startswith("_"):
                continue
            if len(field) == 3:
                first, width = bit_position(struct_type, fname)
                out[f"{name}.{fname}"] = ("bit", first, width)
            else:
                desc = getattr(struct_type, fname)
                out[f"{name}.{fname}"] = ("byte", desc.offset, desc.size)
    return out


EXPECTED = parse_layout(LAYOUT)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_struct_layout(name):
    assert python_layout()[name] == EXPECTED[name]


def test_every_c_field_is_bound_and_nothing_else():
    assert set(python_layout()) == set(EXPECTED)


def _tcp_h_with_ao() -> Path | None:
    explicit = os.environ.get("NETHARNESS_TCP_H")
    if explicit:
        return Path(explicit)
    # The system header first, then the uapi header of any kernel tree the
    # default-kernel build unpacked (Debian 12's own headers predate TCP-AO).
    candidates = [Path("/usr/include/linux/tcp.h")]
    candidates += sorted((cache_dir() / "src").glob("*/include/uapi/linux/tcp.h"))
    for header in candidates:
        if header.is_file() and "TCP_AO_ADD_KEY" in header.read_text(errors="replace"):
            return header
    return None


def test_layout_matches_c(tmp_path):
    """LAYOUT is what the C program prints (skips without gcc or a TCP-AO header)."""
    header = _tcp_h_with_ao()
    if header is None:
        pytest.skip("no <linux/tcp.h> with TCP-AO in /usr/include or an unpacked kernel tree "
                    "(set NETHARNESS_TCP_H=$LINUX/include/uapi/linux/tcp.h)")
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not installed")
    (tmp_path / "linux").mkdir()
    shutil.copy(header, tmp_path / "linux" / "tcp.h")
    binary = tmp_path / "layout"
    subprocess.run([gcc, "-Wall", "-I", str(tmp_path), "-o", str(binary), str(LAYOUT_C)], check=True, timeout=120)
    out = subprocess.run([str(binary)], check=True, capture_output=True, text=True, timeout=30).stdout
    assert parse_layout(out) == EXPECTED


# --- address packing ---------------------------------------------------------------


def test_pack_ipv4():
    ss = ao.pack_sockaddr(socket.AF_INET, "10.0.1.2", port=0x1234)
    raw = bytes(ss.data)
    assert ss.ss_family == socket.AF_INET
    assert raw[2:4] == b"\x12\x34"  # network order
    assert raw[4:8] == bytes([10, 0, 1, 2])
    assert raw[8:] == bytes(120)
    assert ao.unpack_sockaddr(ss) == (ipaddress.IPv4Address("10.0.1.2"), 0x1234)


def test_pack_ipv6():
    ss = ao.pack_sockaddr(socket.AF_INET6, "2001:db8:1::2")
    raw = bytes(ss.data)
    assert ss.ss_family == socket.AF_INET6
    assert raw[2:8] == bytes(6)  # port, flowinfo
    assert raw[8:24] == ipaddress.IPv6Address("2001:db8:1::2").packed
    assert raw[24:] == bytes(104)  # scope id and padding
    assert ao.unpack_sockaddr(ss) == (ipaddress.IPv6Address("2001:db8:1::2"), 0)


def test_ipv4_peer_on_ipv6_socket_is_v4_mapped():
    ss = ao.pack_sockaddr(socket.AF_INET6, "10.0.1.2")
    assert ao.unpack_sockaddr(ss)[0] == ipaddress.IPv6Address("::ffff:10.0.1.2")


def test_family_mismatch_is_refused():
    with pytest.raises(ValueError):
        ao.pack_sockaddr(socket.AF_INET, "2001:db8::1")


@pytest.mark.parametrize(
    "family, peer, address, prefix",
    [
        (socket.AF_INET, "10.0.1.2", "10.0.1.2", 32),
        (socket.AF_INET, ipaddress.ip_network("10.0.1.0/24"), "10.0.1.0", 24),
        (socket.AF_INET, "0.0.0.0/0", "0.0.0.0", 0),
        (socket.AF_INET6, "2001:db8:1::2", "2001:db8:1::2", 128),
        (socket.AF_INET6, "2001:db8:1::/64", "2001:db8:1::", 64),
        (socket.AF_INET6, "::/0", "::", 0),
        # v4-mapped keeps the IPv4 prefix length (tcp_ao_verify_ipv6)
        (socket.AF_INET6, "10.0.1.0/24", "::ffff:10.0.1.0", 24),
    ],
)
def test_add_struct_peer_and_prefix(family, peer, address, prefix):
    cmd = ao.ao_add_struct(family, peer, b"secret", 1, 2)
    assert ao.unpack_sockaddr(cmd.addr) == (ipaddress.ip_address(address), 0)
    assert cmd.prefix == prefix


def test_add_struct_fields_and_bits():
    cmd = ao.ao_add_struct(
        socket.AF_INET, "10.0.1.2", b"k" * 20, 100, 101, alg="cmac(aes128)", maclen=4,
        set_current=True, set_rnext=False,
    )
    raw = bytes(cmd)
    assert len(raw) == 288
    assert raw[128:128 + 13] == b"cmac(aes128)\0"
    flags = int.from_bytes(raw[196:200], "little")
    assert flags == 0b01  # set_current is bit 0 of the u32, set_rnext bit 1
    cmd.set_rnext = 1
    assert int.from_bytes(bytes(cmd)[196:200], "little") == 0b11
    cmd.set_current = 0
    assert int.from_bytes(bytes(cmd)[196:200], "little") == 0b10
    cmd.reserved = 1
    assert int.from_bytes(bytes(cmd)[196:200], "little") == 0b110
    assert raw[202:208] == bytes([32, 100, 101, 4, 0, 20])  # prefix sndid rcvid maclen keyflags keylen
    assert raw[208:228] == b"k" * 20 and raw[228:] == bytes(60)


def test_add_struct_ifindex_sets_keyflag_unless_explicit():
    assert ao.ao_add_struct(socket.AF_INET, "10.0.1.2", b"k", 1, 1, ifindex=7).keyflags == ao.TCP_AO_KEYF_IFINDEX
    assert ao.ao_add_struct(socket.AF_INET, "10.0.1.2", b"k", 1, 1, ifindex=7, keyflags=0).keyflags == 0
    assert ao.ao_add_struct(socket.AF_INET, "10.0.1.2", b"k", 1, 1).keyflags == 0


def test_key_too_long_is_refused_before_the_kernel():
    with pytest.raises(ValueError):
        ao.ao_add_struct(socket.AF_INET, "10.0.1.2", bytes(81), 1, 1)


def test_del_struct_bits():
    cmd = ao.ao_del_struct(socket.AF_INET6, "2001:db8:1::2", 5, 6, current_key=7, rnext=8, del_async=True)
    raw = bytes(cmd)
    assert len(raw) == 144
    assert int.from_bytes(raw[132:136], "little") == 0b111  # set_current, set_rnext, del_async
    assert raw[138:144] == bytes([128, 5, 6, 7, 8, 0])


def test_info_struct_bits_and_roundtrip():
    opt = ao.TcpAoInfoOpt()
    opt.ao_required = 1
    opt.accept_icmps = 1
    opt.set_current, opt.current_key = 1, 9
    opt.pkt_bad = 3
    raw = bytes(opt)
    assert int.from_bytes(raw[0:4], "little") == 0b10101  # set_current | ao_required | accept_icmps
    assert raw[6] == 9 and int.from_bytes(raw[16:24], "little") == 3
    info = ao.info_from_struct(opt)
    assert info.current_key == 9 and info.rnext is None
    assert info.ao_required and info.accept_icmps and info.pkt_bad == 3


def test_getsockopt_struct_bits_and_key_decoding():
    out = ao.TcpAoGetsockopt()
    out.get_all = 1
    assert int.from_bytes(bytes(out)[276:278], "little") == 0b100
    out = ao.TcpAoGetsockopt()
    out.addr = ao.pack_sockaddr(socket.AF_INET, "10.0.1.0")
    out.prefix = 24
    out.alg_name = b"hmac(sha1)"
    out.keylen = 3
    ctypes.memmove(out.key, b"abc", 3)
    out.is_current = 1
    out.sndid, out.rcvid, out.maclen, out.pkt_good = 1, 2, 12, 5
    key = ao.key_from_struct(out)
    assert key.peer == ipaddress.ip_network("10.0.1.0/24") and key.prefix == 24
    assert key.key == b"abc" and key.alg_name == "hmac(sha1)"
    assert key.is_current and not key.is_rnext and key.pkt_good == 5


def test_repair_isns_are_network_order_in_the_struct():
    opt = ao.TcpAoRepair(snt_isn=socket.htonl(0x01020304), rcv_isn=socket.htonl(0xA0B0C0D0), snd_sne=1, rcv_sne=2)
    assert bytes(opt)[:8] == bytes([1, 2, 3, 4, 0xA0, 0xB0, 0xC0, 0xD0])
    assert ao.repair_from_struct(opt) == ao.AoRepair(0x01020304, 0xA0B0C0D0, 1, 2)


def test_md5_struct_plain_and_prefixed():
    plain = ao.md5_struct(socket.AF_INET, "10.0.1.2", b"pw")
    assert plain.tcpm_flags == 0 and plain.tcpm_keylen == 2 and bytes(plain.tcpm_key[:2]) == b"pw"
    prefixed = ao.md5_struct(socket.AF_INET6, "2001:db8::/32", b"pw")
    assert prefixed.tcpm_flags == ao.TCP_MD5SIG_FLAG_PREFIX and prefixed.tcpm_prefixlen == 32
    assert ao.unpack_sockaddr(prefixed.tcpm_addr)[0] == ipaddress.IPv6Address("2001:db8::")


def test_setsockopt_struct_truncates_and_extends():
    class Recorder:
        def setsockopt(self, level, opt, data):
            self.args = (level, opt, data)

    rec = Recorder()
    cmd = ao.TcpAoDel()
    ao.setsockopt_struct(rec, ao.TCP_AO_DEL_KEY, cmd, optlen=10)  # type: ignore[arg-type]
    assert rec.args == (socket.IPPROTO_TCP, ao.TCP_AO_DEL_KEY, bytes(10))
    ao.setsockopt_struct(rec, ao.TCP_AO_DEL_KEY, cmd, optlen=200)  # type: ignore[arg-type]
    assert len(rec.args[2]) == 200


def test_probe_agrees_with_kernel_config():
    """tcp_ao_supported() on this machine's kernel, against its config if readable."""
    from harness.requires import load_kernel_config

    config = load_kernel_config()
    if config is None:
        pytest.skip("kernel config unreadable")
    assert ao.tcp_ao_supported() is config.enabled("TCP_AO")


def test_md5_struct_l3_flag():
    assert ao.md5_struct(socket.AF_INET, "10.0.1.2", b"pw", ifindex=5).tcpm_flags == ao.TCP_MD5SIG_FLAG_IFINDEX
    default_vrf_only = ao.md5_struct(socket.AF_INET, "10.0.1.2", b"pw", l3flag=True)
    assert default_vrf_only.tcpm_flags == ao.TCP_MD5SIG_FLAG_IFINDEX and default_vrf_only.tcpm_ifindex == 0
    assert ao.md5_struct(socket.AF_INET, "10.0.1.2", b"pw", ifindex=5, l3flag=False).tcpm_flags == 0

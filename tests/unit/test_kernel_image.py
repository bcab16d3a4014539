"""``--kernel`` values checked before any boot (harness/kernel/image.py,
resolve_kernel), and the KVM probe cached only when it decided about KVM
(harness/vm/accel.py). No QEMU runs here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.kernel import image
from harness.kernel.image import KernelImageError, check_header, classify_header, kernel_image
from harness.vm import accel
from harness.vm.accel import ProbeResult, choose_accel, decide
from harness.vm.session import resolve_kernel


def bzimage_bytes(size: int = 4096) -> bytes:
    """The bytes a bzImage starts with, as far as the check looks: boot flag and HdrS."""
    data = bytearray(size)
    data[0x1FE:0x200] = b"\x55\xaa"
    data[0x202:0x206] = b"HdrS"
    return bytes(data)


@pytest.fixture
def bz(tmp_path: Path) -> Path:
    path = tmp_path / "bzImage"
    path.write_bytes(bzimage_bytes())
    return path


def test_headers():
    assert classify_header(bzimage_bytes()) == "bzimage"
    assert classify_header(b"\x7fELF\x02\x01\x01" + bytes(600)) == "elf"
    assert classify_header(b"") == "empty"
    assert classify_header(b"root:x:0:0:root:/root:/bin/bash\n") == "unknown"
    no_flag = bytearray(bzimage_bytes())
    no_flag[0x1FE:0x200] = b"\0\0"
    assert classify_header(bytes(no_flag)) == "unknown"  # HdrS alone is not enough
    no_magic = bytearray(bzimage_bytes())
    no_magic[0x202:0x206] = b"HdrX"
    assert classify_header(bytes(no_magic)) == "unknown"


def test_a_bzimage_and_its_build_directory_are_accepted(bz, tmp_path):
    assert kernel_image(bz) == bz
    tree = tmp_path / "linux"
    (tree / "arch" / "x86" / "boot").mkdir(parents=True)
    (tree / "arch" / "x86" / "boot" / "bzImage").write_bytes(bzimage_bytes())
    assert kernel_image(tree) == tree / "arch" / "x86" / "boot" / "bzImage"
    assert resolve_kernel(str(bz)) == bz  # the positive control for the refusals below


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


def test_text_files_empty_files_and_elf_are_refused(tmp_path):
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(KernelImageError) as exc:
        kernel_image(text)
    assert one_line(exc.value).startswith(f"{text} is not an x86 kernel image") and "bzImage" in str(exc.value)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(KernelImageError, match="is empty"):
        kernel_image(empty)
    vmlinux = tmp_path / "vmlinux"
    vmlinux.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(1000))
    with pytest.raises(KernelImageError) as exc:
        kernel_image(vmlinux)
    assert "ELF" in one_line(exc.value) and "bzImage" in str(exc.value)


def test_directories_fifos_devices_and_missing_paths_are_refused(tmp_path):
    with pytest.raises(KernelImageError) as exc:
        kernel_image(tmp_path)
    assert "arch/x86/boot/bzImage" in one_line(exc.value)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(KernelImageError, match="not a regular file"):
        kernel_image(fifo)  # and never opened: opening a FIFO would block this test
    with pytest.raises(KernelImageError, match="not a regular file"):
        kernel_image("/dev/null")
    with pytest.raises(KernelImageError, match="does not exist"):
        kernel_image(tmp_path / "missing")
    tree = tmp_path / "tree"
    (tree / "arch" / "x86" / "boot").mkdir(parents=True)
    (tree / "arch" / "x86" / "boot" / "bzImage").write_text("not really\n")
    with pytest.raises(KernelImageError, match="not an x86 kernel image"):
        kernel_image(tree)


def test_resolve_kernel_turns_refusals_into_one_usage_line():
    with pytest.raises(pytest.UsageError) as exc:
        resolve_kernel("/etc/passwd")
    assert one_line(exc.value).startswith("--kernel /etc/passwd: /etc/passwd is not an x86 kernel image")


def test_check_header_is_pure():
    assert check_header(Path("/x"), bzimage_bytes(0x210)) == Path("/x")
    with pytest.raises(KernelImageError):
        check_header(Path("/x"), bytes(0x210))
    assert image.HEADER_BYTES >= 0x206


# --- the KVM probe ---------------------------------------------------------------

BROKEN_KVM = (
    "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0\n"
    "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3171: kvm_buf_set_msrs: "
    "Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.\n"
)
# What QEMU 7.2 printed here for -kernel /etc/passwd and for a missing file (-accel tcg, nothing booted).
BAD_IMAGE = "qemu: invalid kernel header\n"
MISSING_IMAGE = "qemu: could not open kernel file '/nonexist': No such file or directory\n"
VMLINUX = "qemu-system-x86_64: Error loading uncompressed kernel without PVH ELF Note\n"


@pytest.mark.parametrize("result, accel_, conclusive", [
    (ProbeResult(kvm_node=False, returncode=1, output="", elapsed=0), "tcg", True),
    (ProbeResult(kvm_node=True, returncode=None, output="", elapsed=5.0), "kvm", True),
    (ProbeResult(kvm_node=True, returncode=0, output="Kernel panic - not syncing: VFS: Unable to mount root fs",
                 elapsed=1.0), "kvm", True),
    (ProbeResult(kvm_node=True, returncode=-6, output=BROKEN_KVM, elapsed=0.2), "tcg", True),
    (ProbeResult(kvm_node=True, returncode=1, output=BAD_IMAGE, elapsed=0.1), "tcg", False),
    (ProbeResult(kvm_node=True, returncode=1, output=MISSING_IMAGE, elapsed=0.1), "tcg", False),
    (ProbeResult(kvm_node=True, returncode=1, output=VMLINUX, elapsed=0.1), "tcg", False),
    (ProbeResult(kvm_node=True, returncode=1, output="", elapsed=0.1), "tcg", False),
])
def test_decide_says_whether_it_decided_about_kvm(result, accel_, conclusive):
    decision = decide(result)
    assert decision.accel == accel_ and decision.conclusive is conclusive
    accel_again, reason = decision  # still unpacks as (accel, reason)
    assert accel_again == accel_ and reason


def probe_returning(result: ProbeResult, calls: list[Path]):
    def fake(kernel_image: Path, qemu: str = "qemu-system-x86_64") -> ProbeResult:
        calls.append(kernel_image)
        return result

    return fake


def test_an_inconclusive_probe_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.delenv("NETHARNESS_ACCEL", raising=False)
    calls: list[Path] = []
    cache = tmp_path / "kvm-probe.json"
    monkeypatch.setattr(accel, "run_probe",
                        probe_returning(ProbeResult(True, 1, BAD_IMAGE, 0.1), calls))
    assert choose_accel(Path("/etc/passwd"), cache)[0] == "tcg"
    assert not cache.exists()
    # Positive control: a conclusive probe is cached and then reused without probing.
    monkeypatch.setattr(accel, "run_probe",
                        probe_returning(ProbeResult(True, None, "", 5.0), calls))
    assert choose_accel(Path("/k/bzImage"), cache)[0] == "kvm"
    assert json.loads(cache.read_text())["accel"] == "kvm"
    accel_, reason = choose_accel(Path("/k/bzImage"), cache)
    assert accel_ == "kvm" and "cached" in reason and len(calls) == 2


def test_a_corrupt_cache_means_probing_again(tmp_path, monkeypatch):
    monkeypatch.delenv("NETHARNESS_ACCEL", raising=False)
    calls: list[Path] = []
    cache = tmp_path / "kvm-probe.json"
    cache.write_text("{not json")
    monkeypatch.setattr(accel, "run_probe", probe_returning(ProbeResult(False, 1, "", 0.0), calls))
    assert choose_accel(Path("/k/bzImage"), cache)[0] == "tcg" and len(calls) == 1

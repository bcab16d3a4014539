"""virtme-ng command lines and the KVM decision: pure functions."""

from __future__ import annotations

from pathlib import Path

from harness.vm.accel import ProbeResult, decide
from harness.vm.argv import VMSpec, guest_command, vng_argv


def spec(**kw) -> VMSpec:
    base = dict(kernel=Path("/k/bzImage"), rwdir=Path("/r/chan"), command=("python3", "-m", "x"))
    base.update(kw)
    return VMSpec(**base)


def test_tcg_argv_has_disable_kvm_verbose_root_and_rwdir():
    argv = vng_argv("vng", spec())
    assert argv[:3] == ["vng", "--run", "/k/bzImage"]
    assert "--disable-kvm" in argv
    assert "--verbose" in argv
    assert argv[argv.index("--user") + 1] == "root"
    assert argv[argv.index("--rwdir") + 1] == "/r/chan"


def test_kvm_argv_has_no_disable_kvm():
    assert "--disable-kvm" not in vng_argv("vng", spec(accel="kvm"))


def test_command_follows_double_dash_as_separate_arguments():
    argv = vng_argv("vng", spec(command=("python3", "-c", "print('a b; rm -rf /')")))
    assert argv[-4:] == ["--", "python3", "-c", "print('a b; rm -rf /')"]


def test_kernel_cmdline_is_one_append_argument():
    argv = vng_argv("vng", spec(append=("panic=-1", "kmemleak=on")))
    assert argv[argv.index("--append") + 1] == "panic=-1 kmemleak=on"


def test_memory_cpus_and_passthrough():
    argv = vng_argv("vng", spec(memory="3G", cpus=4, vfio_pci=("0000:01:00.0",)))
    assert argv[argv.index("--memory") + 1] == "3G"
    assert argv[argv.index("--cpus") + 1] == "4"
    assert argv[argv.index("--vfio-pci") + 1] == "0000:01:00.0"


def test_guest_command_is_short_and_carries_no_pytest_arguments():
    # x86 caps the kernel command line (which carries this) at 2048 bytes.
    cmd = guest_command("/v/bin/python", Path("/r/chan"))
    assert cmd == ("/v/bin/python", "-m", "harness.vm.guest", "--channel", "/r/chan")
    with_bundle = guest_command("/v/bin/python", Path("/r/chan"), Path("/r/chan/bootstrap.py"), Path("/c/b.zip"))
    assert with_bundle == ("/v/bin/python", "-S", "/r/chan/bootstrap.py", "/c/b.zip", "--channel", "/r/chan")


# What QEMU printed on our machines when KVM was "available" but broken.
BROKEN_KVM = (
    "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0\n"
    "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3171: kvm_buf_set_msrs: "
    "Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.\n"
)


def test_broken_kvm_falls_back_to_tcg_and_says_why():
    accel, reason = decide(ProbeResult(kvm_node=True, returncode=-6, output=BROKEN_KVM, elapsed=0.2))
    assert accel == "tcg"
    assert "failed to set MSR" in reason


def test_missing_kvm_node_is_tcg():
    assert decide(ProbeResult(kvm_node=False, returncode=1, output="", elapsed=0))[0] == "tcg"


def test_guest_still_running_at_probe_end_means_kvm():
    assert decide(ProbeResult(kvm_node=True, returncode=None, output="", elapsed=5.0))[0] == "kvm"


def test_guest_that_booted_and_panicked_for_want_of_root_means_kvm():
    out = "[    0.9] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n"
    assert decide(ProbeResult(kvm_node=True, returncode=0, output=out, elapsed=1.1))[0] == "kvm"


def test_unexplained_early_exit_is_tcg():
    accel, reason = decide(ProbeResult(kvm_node=True, returncode=1, output="", elapsed=0.1))
    assert accel == "tcg" and "exited 1" in reason

"""The virtiofsd shim: argument translation, checked by running the script
against a stand-in daemon that records its argv and creates the socket."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.vng import virtiofsd_shim


def test_shim_translates_arguments_and_writes_the_pid_file(tmp_path, monkeypatch):
    recorded = tmp_path / "argv"
    fake = tmp_path / "fake-virtiofsd"
    # Stand-in for the C daemon: record argv, then create the socket it would.
    fake.write_text(
        "#!/usr/bin/env python3\nimport socket, sys\n"
        f"open({str(recorded)!r}, 'w').write('\\n'.join(sys.argv[1:]))\n"
        "path = sys.argv[1].split('=', 1)[1]\n"
        "s = socket.socket(socket.AF_UNIX); s.bind(path)\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(virtiofsd_shim, "SCRIPT", virtiofsd_shim.SCRIPT.replace(str(virtiofsd_shim.C_VIRTIOFSD), str(fake)))
    monkeypatch.setattr(virtiofsd_shim, "C_VIRTIOFSD", fake)
    shim = virtiofsd_shim.shim_dir(tmp_path) / "virtiofsd"
    sock = tmp_path / "v.sock"
    proc = subprocess.run(
        [str(shim), "--syslog", "--no-announce-submounts", "--socket-path", str(sock),
         "--shared-dir", "/", "--sandbox", "none", "--cache", "always"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(f"{sock}.pid").read_text().strip().isdigit()
    assert recorded.read_text().splitlines() == [
        f"--socket-path={sock}", "-o", "source=/", "-o", "cache=always", "-o", "sandbox=chroot", "-o", "log_level=err",
    ]


def test_shim_answers_version_for_vngs_probe(tmp_path):
    if not virtiofsd_shim.C_VIRTIOFSD.is_file():
        pytest.skip(f"{virtiofsd_shim.C_VIRTIOFSD} not installed (Debian qemu-system-common)")
    shim = virtiofsd_shim.shim_dir(tmp_path) / "virtiofsd"
    out = subprocess.run([str(shim), "--version"], capture_output=True, text=True, check=True)
    assert "netharness virtiofsd shim" in out.stdout


def test_missing_arguments_are_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(virtiofsd_shim, "C_VIRTIOFSD", tmp_path / "x")
    (tmp_path / "x").write_text("")
    shim = virtiofsd_shim.shim_dir(tmp_path) / "virtiofsd"
    proc = subprocess.run([str(shim), "--cache", "always"], capture_output=True, text=True)
    assert proc.returncode == 2 and "required" in proc.stderr


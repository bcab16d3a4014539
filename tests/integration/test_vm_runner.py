"""End to end: pytest --kernel boots the default kernel and runs items in it.

Each test runs a real `pytest --kernel` in a subprocess on the sample files
in vm_samples/ and reads its JUnit XML, so what is checked is exactly what a
user or CI sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.kernel.build import build_kernel

REPO = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).resolve().parent / "vm_samples"


@pytest.fixture(scope="module")
def kernel_image() -> Path:
    # Returns at once when ci/run-tests.sh has built it; builds it otherwise.
    return build_kernel().image


def run_pytest(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, tuple[str, str]]]:
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--junitxml", str(junit), *args],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    results: dict[str, tuple[str, str]] = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            outcome, text = "passed", ""
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                    text = (child.get("message") or "") + "\n" + (child.text or "")
                    break
            results[case.get("name")] = (outcome, text)
    return proc, results


def test_warn_panic_and_hangs_fail_exactly_their_own_tests(kernel_image, tmp_path):
    proc, results = run_pytest(
        tmp_path, "--kernel", str(kernel_image), "-p", "no:cacheprovider", str(SAMPLES / "sample_crashes.py")
    )
    assert results, proc.stdout[-3000:] + proc.stderr[-3000:]
    outcome = {name: o for name, (o, _) in results.items()}
    assert outcome == {
        "test_first_passes": "passed",
        "test_warn": "failed",
        "test_after_warn_passes": "passed",
        "test_panic": "failed",
        "test_after_panic_runs_in_a_fresh_vm": "passed",
        "test_hang_interruptible": "failed",
        "test_hang_ignoring_signals": "failed",
        "test_last_passes": "passed",
    }, proc.stdout[-4000:]
    warn = results["test_warn"][1]
    assert "kernel warning" in warn and "lkdtm" in warn.lower() and "fingerprint:" in warn
    assert "panic" in results["test_panic"][1].lower()
    assert "Timeout" in results["test_hang_interruptible"][1]
    assert "VM was killed" in results["test_hang_ignoring_signals"][1]
    assert proc.returncode == 1


def test_selection_and_exitfirst_work_as_without_kernel(kernel_image, tmp_path):
    sample = str(SAMPLES / "sample_plain.py")
    proc, results = run_pytest(tmp_path, "--kernel", str(kernel_image), "-p", "no:cacheprovider", "-k", "one_plus", sample)
    assert {n: o for n, (o, _) in results.items()} == {"test_one_plus_one": "passed"}, proc.stdout[-3000:]
    assert proc.returncode == 0

    proc, results = run_pytest(tmp_path, "--kernel", str(kernel_image), "-p", "no:cacheprovider", "-x", "-v", sample)
    assert {n: o for n, (o, _) in results.items()} == {
        "test_kernel_release_is_the_guest_kernel": "passed",
        "test_failing_on_purpose": "failed",
    }, proc.stdout[-3000:]
    assert "PASSED" in proc.stdout and "FAILED" in proc.stdout  # -v lines as usual
    assert "assert (1 + 1) == 3" in proc.stdout  # the guest's assertion rewrite reaches the host


def test_last_failed_reruns_only_the_failure(kernel_image, tmp_path):
    sample = str(SAMPLES / "sample_plain.py")
    cache = ["-o", f"cache_dir={tmp_path / 'cache'}"]
    run_pytest(tmp_path, "--kernel", str(kernel_image), *cache, sample)
    proc, results = run_pytest(tmp_path, "--kernel", str(kernel_image), *cache, "--lf", sample)
    assert {n: o for n, (o, _) in results.items()} == {"test_failing_on_purpose": "failed"}, proc.stdout[-3000:]


def test_xdist_runs_one_vm_per_worker(kernel_image, tmp_path):
    proc, results = run_pytest(
        tmp_path, "--kernel", str(kernel_image), "-p", "no:cacheprovider", "-n", "2", str(SAMPLES / "sample_plain.py")
    )
    assert sorted(o for o, _ in results.values()) == ["failed", "passed", "passed"], proc.stdout[-3000:]
    assert "2 workers" in proc.stdout


def test_a_missing_kernel_is_named(tmp_path):
    proc, _ = run_pytest(tmp_path, "--kernel", str(tmp_path / "nope" / "bzImage"), str(SAMPLES / "sample_plain.py"))
    assert proc.returncode != 0
    assert f"{tmp_path / 'nope' / 'bzImage'} does not exist" in proc.stdout + proc.stderr

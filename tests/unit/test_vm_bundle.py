"""The guest's module bundle (harness/vm/bundle.py): what goes in, and that
the guest's bootstrap path (``python -S`` + the host's sys.path) imports
the harness from it, package data included."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import harness
from harness.vm.bundle import build_bundle, guest_sys_path, package_sources


def test_whole_package_includes_modules_the_host_never_imported():
    sources = package_sources(harness)
    for name in ("harness", "harness.schema", "harness.topology.loader", "harness.vm.guest", "harness.vm.timeline"):
        assert name in sources, name
    assert sources["harness.schema"].name == "__init__.py"


def test_bundle_carries_package_data(tmp_path):
    bundle = build_bundle(tmp_path, ["test_*.py"], modules={}, whole_packages=(harness,))
    names = set(zipfile.ZipFile(bundle).namelist())
    assert "harness/schema/__init__.pyc" in names
    assert "harness/schema/topology.schema.json" in names
    assert "harness/topology/loader.pyc" in names
    # Same inputs, same zip: the second call reuses the first.
    assert build_bundle(tmp_path, ["test_*.py"], modules={}, whole_packages=(harness,)) == bundle


def test_guest_import_path_serves_the_harness_from_the_bundle(tmp_path):
    bundle = build_bundle(tmp_path, ["test_*.py"], modules={}, whole_packages=(harness,))
    program = (
        "import json, sys\n"
        f"sys.path[:] = [{str(bundle)!r}] + json.loads({json.dumps(json.dumps(guest_sys_path()))})\n"
        "import harness.topology.schema_check as s\n"
        "assert s.__file__.startswith(sys.path[0]), s.__file__\n"
        "assert s.topology_schema()['title']\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", program], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def _import_from_bundle(bundle, fallback: bool) -> subprocess.CompletedProcess:
    """``import email.quoprimime`` with only ``email/__init__`` in the zip, as the guest does."""
    from harness.vm.bundle import DISK_FALLBACK

    program = (
        "import json, sys\n"
        f"dst = {str(bundle)!r}\n"
        f"sys.path[:] = [dst] + json.loads({json.dumps(json.dumps(guest_sys_path()))})\n"
        + (DISK_FALLBACK if fallback else "")
        + "import email\n"
        "assert email.__file__.startswith(dst), email.__file__\n"
        "import email.quoprimime\n"
    )
    return subprocess.run([sys.executable, "-S", "-c", program], capture_output=True, text=True, timeout=60)


def test_submodule_the_host_never_imported_comes_from_disk(tmp_path):
    import email

    bundle = build_bundle(tmp_path, ["test_*.py"], modules={"email": email})
    assert "email/quoprimime.pyc" not in zipfile.ZipFile(bundle).namelist()
    assert _import_from_bundle(bundle, fallback=True).returncode == 0
    # Negative control: without the fallback finder the zip hides the directory.
    without = _import_from_bundle(bundle, fallback=False)
    assert without.returncode != 0 and "ModuleNotFoundError" in without.stderr

"""A zip of the Python modules the guest needs, so the guest does not import
them file by file over 9p.

Under TCG every file operation on the guest's 9p root is an emulated virtio
round trip; importing pytest, pyroute2 and the harness that way took two
minutes on a loaded machine. The host has already imported nearly every
module the guest session will need (it collected the same test files), so
the host writes those modules' compiled bytecode into one uncompressed zip.
The guest copies the zip into its memory (one sequential read) and puts it
first on ``sys.path``; zipimport then serves the imports from RAM. Extension
modules (.so) cannot be imported from a zip and still come over 9p, as do the
test files themselves (pytest rewrites their asserts).

The zip is cached by content: same modules and mtimes, same zip.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import json
import marshal
import os
import sys
import zipfile
from pathlib import Path
from types import ModuleType

# Package data (schemas, JSON metaschemas) rides along, within limits.
DATA_FILE_LIMIT = 256 * 1024
DATA_TOTAL_LIMIT = 8 * 1024 * 1024
_SKIP_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd")

PKGDIRS = "netharness-pkgdirs.json"

# A package served from the zip has only the zip in its ``__path__``, so a
# submodule the host never imported (``importlib.readers``, reached lazily
# by importlib.resources) would not be found. This finder, last on
# sys.meta_path, looks such names up in the package's directory on disk
# (PKGDIRS in the zip maps package -> directory). Expects ``dst``: the zip.
DISK_FALLBACK = (
    "import zipimport\n"
    "try:\n"
    f"    _dirs = json.loads(zipimport.zipimporter(dst).get_data({PKGDIRS!r}))\n"
    "except (OSError, ValueError):\n"
    "    _dirs = {}\n"
    "class _DiskFallback:\n"
    "    @staticmethod\n"
    "    def find_spec(name, path=None, target=None):\n"
    "        where = _dirs.get(name.rpartition('.')[0])\n"
    "        if where is None:\n"
    "            return None\n"
    "        from importlib.machinery import PathFinder\n"
    "        return PathFinder.find_spec(name, [where])\n"
    "sys.meta_path.append(_DiskFallback)\n"
)

# The guest runs this as ``python -S bootstrap.py BUNDLE --channel DIR``. It
# must import almost nothing before the bundle is on sys.path. ``-S`` skips
# site.py, which under TCG costs most of a second (an editable install's
# finder imports importlib.metadata); the host's own sys.path, written to
# ``syspath.json`` next to this script, replaces what site.py would add.
BOOTSTRAP = (
    "import sys\n"
    "try:\n"
    "    with open('/dev/kmsg', 'w') as k:\n"
    "        k.write('<5>netharness: guest agent starting\\n')\n"
    "except OSError:\n"
    "    pass\n"
    "import json\n"
    "src = sys.argv.pop(1)\n"
    "here = sys.path.pop(0)\n"
    "with open(here + '/syspath.json') as f:\n"
    "    sys.path[:] = json.load(f)\n"
    "dst = '/dev/shm/netharness-bundle.zip'\n"
    "try:\n"
    "    with open(src, 'rb') as i, open(dst, 'wb') as o:\n"
    "        o.write(i.read())\n"
    "except OSError:\n"
    "    dst = src\n"
    "sys.path.insert(0, dst)\n"
    + DISK_FALLBACK
    + "import runpy\n"
    "runpy.run_module('harness.vm.guest', run_name='__main__', alter_sys=True)\n"
)


def guest_sys_path() -> list[str]:
    """The import path the guest needs without site.py: the host's, plus the
    directory holding ``harness`` (an editable install finds it through a
    meta-path finder that site.py would have installed)."""
    harness_root = str(Path(__file__).resolve().parents[2])
    entries = [p for p in sys.path if p and Path(p).exists()]
    return list(dict.fromkeys([*entries, harness_root]))


def _source_of(module: ModuleType) -> Path | None:
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return None
    source = Path(path)
    return source if source.is_file() else None


def _arcname(name: str, source: Path) -> str:
    parts = name.split(".")
    if source.name == "__init__.py":
        return "/".join(parts) + "/__init__.pyc"
    return "/".join(parts) + ".pyc"


def _pyc_bytes(source: Path) -> bytes:
    """Timestamp-based pyc for ``source``: the host's cached one when fresh."""
    st = source.stat()
    cached = Path(importlib.util.cache_from_source(str(source)))
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
    header += (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    try:
        data = cached.read_bytes()
        if data[:16] == header:
            return data
    except OSError:
        pass
    code = compile(source.read_bytes(), str(source), "exec", dont_inherit=True)
    return header + marshal.dumps(code)


def _matches_location(name: str, source: Path) -> bool:
    """zipimport finds ``a.b`` at ``a/b.pyc`` or ``a/b/__init__.pyc``: the
    module's file must sit where its name says (not so for aliases like
    ``os.path``)."""
    rel = name.replace(".", os.sep)
    where = source.parent if source.name == "__init__.py" else source.with_suffix("")
    return str(where).endswith(os.sep + rel) or str(where) == rel


def select_modules(modules: dict[str, ModuleType], test_patterns: list[str]) -> dict[str, Path]:
    """Module name -> source file, for modules worth bundling.

    Test files and conftests (file names matching ``test_patterns``, pytest's
    ``python_files``) stay out: pytest imports those itself, rewriting their
    asserts. A submodule is bundled only with its parent packages, so that the
    zip serves whole packages.
    """
    # A package with a compiled part (rpds.rpds, yaml._yaml) must stay on disk
    # whole: once the package comes from the zip, its .so cannot be found.
    compiled = {
        name.split(".")[0]
        for name, module in modules.items()
        if "." in name and str(getattr(module, "__file__", "") or "").endswith((".so", ".pyd"))
    }
    chosen = {}
    for name, module in sorted(modules.items()):
        if name == "__main__" or module is None or name.split(".")[0] in compiled:
            continue
        source = _source_of(module)
        if source is None or not _matches_location(name, source):
            continue
        if source.name == "conftest.py" or any(fnmatch.fnmatch(source.name, p) for p in test_patterns):
            continue
        chosen[name] = source
    complete = {}
    for name, source in chosen.items():
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        if all(parent in chosen for parent in parents):
            complete[name] = source
    return complete


def _package_data(chosen: dict[str, Path]) -> dict[str, Path]:
    """Non-code files of bundled top-level packages, for importlib.resources."""
    data: dict[str, Path] = {}
    total = 0
    for name, source in chosen.items():
        if source.name != "__init__.py":
            continue
        package_dir = source.parent
        for entry in sorted(package_dir.rglob("*")):
            if not entry.is_file() or entry.name.endswith(_SKIP_SUFFIXES) or "__pycache__" in entry.parts:
                continue
            size = entry.stat().st_size
            if size > DATA_FILE_LIMIT or total + size > DATA_TOTAL_LIMIT:
                continue
            total += size
            data["/".join(name.split(".")) + "/" + entry.relative_to(package_dir).as_posix()] = entry
    return data


def package_sources(package: ModuleType) -> dict[str, Path]:
    """Module name -> source of every module in ``package``, imported or not.

    A package served from the zip hides its on-disk directory from the
    guest, so a submodule the host happened not to import (the harness
    imports its YAML loader lazily) would be missing there.
    """
    root = Path(package.__file__).parent  # type: ignore[arg-type]
    sources = {}
    for source in sorted(root.rglob("*.py")):
        rel = source.relative_to(root).with_suffix("")
        parts = [package.__name__, *rel.parts]
        if parts[-1] == "__init__":
            parts.pop()
        if "__pycache__" in parts or not all(part.isidentifier() for part in parts):
            continue
        if source.name != "__init__.py" and not (source.parent / "__init__.py").is_file():
            continue
        sources[".".join(parts)] = source
    return sources


def build_bundle(
    cache: Path,
    test_patterns: list[str],
    modules: dict[str, ModuleType] | None = None,
    whole_packages: tuple[ModuleType, ...] = (),
) -> Path:
    """Write (or reuse) the bundle for the modules loaded in this process,
    plus every module of ``whole_packages``."""
    chosen = select_modules(dict(modules if modules is not None else sys.modules), test_patterns)
    for package in whole_packages:
        chosen.update(package_sources(package))
    data = _package_data(chosen)
    digest = hashlib.sha256(sys.version.encode() + PKGDIRS.encode())  # the zip's layout is part of its identity
    for arc, path in [*((_arcname(n, p), p) for n, p in chosen.items()), *data.items()]:
        st = path.stat()
        digest.update(f"{arc}\0{path}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
    target = cache / f"{digest.hexdigest()[:16]}.zip"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, source in chosen.items():
            zf.writestr(_arcname(name, source), _pyc_bytes(source))
        for arc, path in data.items():
            zf.write(path, arc)
        package_dirs = {name: str(source.parent) for name, source in chosen.items() if source.name == "__init__.py"}
        zf.writestr(PKGDIRS, json.dumps(package_dirs))
    os.replace(tmp, target)
    return target

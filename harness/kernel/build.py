"""``netharness kernel build``: configure, build and cache a kernel.

Steps, each with a clear error when it cannot proceed:

1. Source: ``--src DIR`` (must be a kernel tree) or, by default, Debian's
   ``linux-source-6.12`` tarball unpacked once into the cache.
2. Config: ``vng --kconfig`` with the fragments (virtme-ng's own options make
   the kernel bootable under vng), then the fragments appended once more and
   ``olddefconfig`` so that ours win over vng's built-in list; then every
   option the fragments ask for is checked in the final ``.config``.
3. Build ``bzImage`` with ccache in an out-of-tree build directory, with
   progress.
4. Cache: the image and its ``.config`` are stored under a key made from the
   source identity and the config hash; asking again with nothing changed
   returns at once without running make.

The cache lives outside the clone (``$NETHARNESS_CACHE`` or
``~/.cache/netharness``) and is optional: a cold machine rebuilds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..host import cache_dir
from ..vng.env import controlled_env
from .kconfig import KconfigEntry, format_missing, missing_options, parse_dotconfig, parse_fragment

DEBIAN_TARBALL = Path("/usr/src/linux-source-6.12.tar.xz")
DEBIAN_PACKAGE = "linux-source-6.12"
IMAGES_DIR = Path(__file__).resolve().parents[2] / "images"
DEFAULT_FRAGMENTS = ("netharness.config", "debug.config")
# Bump when the way a config is produced changes, to invalidate cached kernels.
RECIPE_VERSION = "1"


class KernelBuildError(RuntimeError):
    """A build step failed; the message names the step and what to do."""


@dataclass(frozen=True)
class Source:
    path: Path
    identity: str  # changes whenever the tree's content changes


@dataclass(frozen=True)
class BuiltKernel:
    """A cached build: what the VM runner boots."""

    image: Path
    config: Path
    key: str
    source: str
    fragments: tuple[str, ...]
    seconds: float = 0.0
    cached: bool = False


def default_fragments() -> list[Path]:
    return [IMAGES_DIR / name for name in DEFAULT_FRAGMENTS]


# --- source ------------------------------------------------------------------------


def check_kernel_tree(path: Path) -> None:
    makefile = path / "Makefile"
    if not (makefile.is_file() and (path / "Kconfig").is_file() and (path / "arch" / "x86").is_dir()):
        raise KernelBuildError(
            f"{path} is not a kernel source tree (expected Makefile, Kconfig and arch/x86 in it); "
            f"pass --src with the top directory of a Linux tree"
        )
    if not re.search(r"^VERSION = \d+", makefile.read_text(errors="replace"), re.M):
        raise KernelBuildError(f"{makefile} has no 'VERSION =' line: not a kernel Makefile")
    if (path / ".config").exists():
        raise KernelBuildError(
            f"{path} has been configured in-tree (.config present); out-of-tree builds need a clean "
            f"tree: run 'make -C {path} mrproper' or point --src at a clean checkout"
        )


def _debian_version() -> str:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", DEBIAN_PACKAGE], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        st = DEBIAN_TARBALL.stat()
        return f"size{st.st_size}-mtime{int(st.st_mtime)}"


def debian_source() -> Source:
    """Debian's linux-source tarball, unpacked once into the cache."""
    if not DEBIAN_TARBALL.is_file():
        raise KernelBuildError(
            f"{DEBIAN_TARBALL} not found: install Debian's {DEBIAN_PACKAGE} (ci/setup.sh does) or pass --src"
        )
    version = _debian_version()
    target = cache_dir() / "src" / f"{DEBIAN_PACKAGE}_{version}"
    if not (target / "Makefile").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        progress(f"unpacking {DEBIAN_TARBALL} into {target}")
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            with tarfile.open(DEBIAN_TARBALL) as tar:
                tar.extractall(tmp, filter="tar")
            (unpacked,) = Path(tmp).iterdir()
            if target.exists():
                shutil.rmtree(target)
            unpacked.rename(target)
    return Source(path=target, identity=f"debian:{DEBIAN_PACKAGE}={version}")


def _git_identity(path: Path) -> str | None:
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode != 0:
            return None
        diff = subprocess.run(["git", "-C", str(path), "diff", "HEAD"], capture_output=True, check=True).stdout
        untracked = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=normal"],
            capture_output=True, check=True,
        ).stdout
    except OSError:
        return None
    digest = hashlib.sha256(diff + untracked).hexdigest()[:16]
    return f"git:{head.stdout.strip()}+{digest}"


def _stat_identity(path: Path) -> str:
    """For trees without git: a hash over every file's path, size and mtime."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            st = os.lstat(os.path.join(root, name))
            digest.update(f"{root}/{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return f"tree:{digest.hexdigest()[:16]}"


def user_source(path: Path) -> Source:
    path = path.resolve()
    check_kernel_tree(path)
    return Source(path=path, identity=f"{path}@{_git_identity(path) or _stat_identity(path)}")


# --- config -------------------------------------------------------------------------


def read_fragments(paths: Sequence[Path]) -> list[tuple[Path, list[KconfigEntry]]]:
    """Parse every fragment first, so a bad line fails before anything runs."""
    parsed = []
    for path in paths:
        if not path.is_file():
            raise KernelBuildError(f"config fragment {path} does not exist")
        parsed.append((path, parse_fragment(path.read_text(), str(path))))
    return parsed


def config_hash(fragments: Sequence[Path], vng_version: str) -> str:
    digest = hashlib.sha256(f"recipe {RECIPE_VERSION}\nvng {vng_version}\n".encode())
    for path in fragments:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _vng_version(env: dict[str, str]) -> str:
    out = subprocess.run([_tool("vng"), "--version"], capture_output=True, text=True, env=env)
    return out.stdout.strip() or out.stderr.strip()


def _tool(name: str) -> str:
    """A tool from our own venv first (vng, virtme-configkernel), then PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise KernelBuildError(f"{name} not found: install netharness's dependencies (ci/setup.sh)")
    return found


def configure(src: Path, build_dir: Path, fragments: Sequence[Path], env: dict[str, str]) -> None:
    build_dir.mkdir(parents=True, exist_ok=True)
    argv = [_tool("vng"), "--kconfig"]
    for path in fragments:
        argv += ["--config", str(path)]
    argv.append(f"O={build_dir}")
    _run_logged(argv, src, env, build_dir / "config.log", "vng --kconfig")
    # vng appends its own generic options after ours; append ours once more
    # so that, where the two disagree, the fragments win.
    with open(build_dir / ".config", "a", encoding="utf-8") as config:
        for path in fragments:
            config.write(f"\n# netharness: {path.name}\n{path.read_text()}")
    _run_logged(["make", "-C", str(src), f"O={build_dir}", "olddefconfig"], src, env,
                build_dir / "config.log", "make olddefconfig", append=True)


def verify_config(build_dir: Path, parsed: Sequence[tuple[Path, list[KconfigEntry]]]) -> None:
    final = parse_dotconfig((build_dir / ".config").read_text())
    requested = [entry for _, entries in parsed for entry in entries]
    dropped = missing_options(requested, final)
    if dropped:
        raise KernelBuildError(format_missing(dropped))


def _run_logged(argv: list[str], cwd: Path, env: dict[str, str], log: Path, what: str, append: bool = False) -> None:
    with open(log, "a" if append else "w", encoding="utf-8") as out:
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise KernelBuildError(f"{what} failed (exit {proc.returncode}); log {log}:\n{tail}")


# --- build --------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"[netharness kernel] {message}", file=sys.stderr, flush=True)


class _StepProgress:
    """Build progress: a tqdm bar on a terminal, a plain line every 30 s in logs
    (CI logs do not render carriage returns)."""

    LOG_INTERVAL = 30.0

    def __init__(self, expected: int | None) -> None:
        self.expected = expected
        self.steps = 0
        self.started = self.last_print = time.monotonic()
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=expected, unit="step", desc="kernel build", file=sys.stderr)

    def step(self) -> None:
        self.steps += 1
        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.monotonic()
        if now - self.last_print >= self.LOG_INTERVAL:
            self.last_print = now
            share = f" of ~{self.expected} ({100 * self.steps // self.expected}%)" if self.expected else ""
            progress(f"{self.steps} build steps{share} after {int(now - self.started)} s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def make_image(src: Path, build_dir: Path, env: dict[str, str], jobs: int, expected_steps: int | None) -> int:
    """Run make bzImage with progress; return the number of build steps seen."""
    env = dict(env)
    argv = ["make", "-C", str(src), f"O={build_dir}", f"-j{jobs}", "bzImage"]
    if shutil.which("ccache"):
        argv.append("CC=ccache gcc")
        env.setdefault("CCACHE_DIR", str(cache_dir() / "ccache"))
        env.setdefault("CCACHE_BASEDIR", str(cache_dir()))
        env.setdefault("CCACHE_NOHASHDIR", "1")
        env.setdefault("CCACHE_MAXSIZE", "5G")
    # Reproducible version strings keep ccache hits high across rebuilds.
    env.update(KBUILD_BUILD_TIMESTAMP="2024-01-01", KBUILD_BUILD_USER="netharness", KBUILD_BUILD_HOST="netharness")
    log = build_dir / "build.log"
    bar = _StepProgress(expected_steps)
    try:
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(argv, cwd=src, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                # kbuild's quiet lines: "  CC      net/core/dev.o"
                if line.startswith("  ") and line[2:10].strip().isupper():
                    bar.step()
            code = proc.wait()
    finally:
        bar.close()
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise KernelBuildError(f"kernel build failed (exit {code}); log {log}:\n{tail}")
    return bar.steps


def build_kernel(
    src: Path | None = None,
    fragments: Sequence[Path] | None = None,
    jobs: int | None = None,
    force: bool = False,
) -> BuiltKernel:
    """Build (or fetch from the cache) a kernel for ``src`` and ``fragments``."""
    fragments = [Path(f).resolve() for f in (fragments or default_fragments())]
    parsed = read_fragments(fragments)
    env = controlled_env(cache_dir() / "vng-home")
    source = user_source(src) if src is not None else debian_source()
    chash = config_hash(fragments, _vng_version(env))
    key = hashlib.sha256(f"{source.identity}\n{chash}".encode()).hexdigest()[:16]
    result_dir = cache_dir() / "kernels" / key
    meta_path = result_dir / "meta.json"
    if meta_path.is_file() and not force:
        meta = json.loads(meta_path.read_text())
        return BuiltKernel(**{**meta, "image": Path(meta["image"]), "config": Path(meta["config"]),
                              "fragments": tuple(meta["fragments"]), "cached": True})

    # One build directory per (tree, config): a changed tree rebuilds incrementally.
    build_dir = cache_dir() / "build" / hashlib.sha256(f"{source.path}\n{chash}".encode()).hexdigest()[:16]
    started = time.monotonic()
    progress(f"configuring {source.identity} with {', '.join(f.name for f in fragments)} in {build_dir}")
    configure(source.path, build_dir, fragments, env)
    verify_config(build_dir, parsed)
    steps_file = cache_dir() / "last-build-steps"
    expected = int(steps_file.read_text()) if steps_file.is_file() else None
    jobs = jobs or (os.cpu_count() or 1) + 1
    progress(f"building bzImage with make -j{jobs} (log: {build_dir / 'build.log'})")
    steps = make_image(source.path, build_dir, env, jobs, expected)
    if steps > 500:  # only full builds are a useful estimate
        steps_file.write_text(str(steps))

    result_dir.mkdir(parents=True, exist_ok=True)
    image = result_dir / "bzImage"
    config = result_dir / "config"
    shutil.copy2(build_dir / "arch" / "x86" / "boot" / "bzImage", image)
    shutil.copy2(build_dir / ".config", config)
    built = BuiltKernel(
        image=image, config=config, key=key, source=source.identity,
        fragments=tuple(str(f) for f in fragments), seconds=round(time.monotonic() - started, 1),
    )
    meta = asdict(built) | {"image": str(image), "config": str(config)}
    tmp = meta_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, meta_path)  # the cache entry exists only once it is complete
    progress(f"built {image} in {built.seconds:.0f} s")
    return built

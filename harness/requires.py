"""What a test needs from the kernel and the machine, and what is missing.

A requirement is a kernel config option, a tool on PATH, or a path (sysfs,
procfs). ``missing()`` is pure: it takes the kernel config and two probe
functions and returns one human reason per unmet item, e.g.
``CONFIG_TCP_AO not set`` or ``tool 'devlink' not installed``. The probing
(reading /proc/config.gz, looking up PATH) lives in ``KernelConfigSource``
and the default probes below.
"""

from __future__ import annotations

import gzip
import os
import platform
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .kernel.kconfig import KconfigError, normalise, parse_dotconfig
from .topology.model import Requires

KCONFIG_ENV = "NETHARNESS_KCONFIG"


@dataclass(frozen=True)
class KernelConfig:
    """A kernel's configuration and where it was read from."""

    options: dict[str, str]
    source: str

    def enabled(self, name: str) -> bool:
        return self.options.get(normalise(name), "n") in ("y", "m")


def candidate_paths(explicit: str | None = None, release: str | None = None) -> list[Path]:
    """Where the running kernel's config may be, in the order we trust them."""
    paths = []
    if explicit:
        paths.append(Path(explicit))
    if os.environ.get(KCONFIG_ENV):
        paths.append(Path(os.environ[KCONFIG_ENV]))
    paths.append(Path("/proc/config.gz"))
    paths.append(Path(f"/boot/config-{release or platform.release()}"))
    return paths


class KernelConfigError(ValueError):
    """A kernel config the user named cannot be used; the message is one line naming the file."""


def read_kernel_config(path: Path) -> KernelConfig:
    """Read and parse one config file (``.gz`` decompressed); KernelConfigError when it is no .config.

    Errors name ``path`` (and the line, for a line that is not .config
    syntax), never the parser's default ``.config``.
    """
    if path.is_dir():
        raise KernelConfigError(f"{path} is a directory, not a kernel .config")
    if path.exists() and not path.is_file():
        raise KernelConfigError(f"{path} is not a regular file (a FIFO or device?), not a kernel .config")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KernelConfigError(f"{path} does not exist") from None
    except OSError as exc:
        raise KernelConfigError(f"{path} is unreadable: {exc.strerror or exc}") from None
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise KernelConfigError(f"{path} is not a gzip file: {exc}") from None
    try:
        options = parse_dotconfig(data.decode(errors="replace"), filename=str(path))
    except KconfigError as exc:
        raise KernelConfigError(f"{exc.filename}:{exc.line_no}: not a kernel .config ({exc.message}); "
                                f"pass a .config written by kconfig") from None
    if not options:
        raise KernelConfigError(f"{path} has no CONFIG_ lines: not a kernel .config")
    return KernelConfig(options, str(path))


def load_kernel_config(explicit: str | None = None) -> KernelConfig | None:
    """The running kernel's config, or None when no source can be read.

    An explicit path (``--kconfig-file``) that is missing or is not a
    .config is an error, not a fallback: the user asked for that file; so is
    an existing ``NETHARNESS_KCONFIG`` file that is not one. The machine's
    own sources (/proc/config.gz, /boot) are tried in turn.
    """
    if explicit:
        return read_kernel_config(Path(explicit))
    for path in candidate_paths(None):
        if not path.exists():
            continue
        if os.environ.get(KCONFIG_ENV) and path == Path(os.environ[KCONFIG_ENV]):
            return read_kernel_config(path)  # named by the user: a broken file is an error
        try:
            return read_kernel_config(path)
        except KernelConfigError:
            continue
    return None


def merge(*requires: Requires) -> Requires:
    """Union of several requirement sets, order kept, duplicates dropped."""

    def union(items: Iterable[Iterable[str]]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(x for group in items for x in group))

    return Requires(
        kconfig=union(r.kconfig for r in requires),
        tools=union(r.tools for r in requires),
        sysfs=union(r.sysfs for r in requires),
    )


def missing(
    requires: Requires,
    config: KernelConfig | None,
    has_tool: Callable[[str], bool] = lambda t: shutil.which(t) is not None,
    has_path: Callable[[str], bool] = os.path.exists,
) -> list[str]:
    """One reason per unmet requirement; empty when everything is there."""
    reasons = []
    if requires.kconfig:
        if config is None:
            tried = ", ".join(str(p) for p in candidate_paths())
            reasons.append(f"kernel config unreadable (tried {tried}); set {KCONFIG_ENV} to a .config")
        else:
            reasons += [f"{normalise(k)} not set" for k in requires.kconfig if not config.enabled(k)]
    reasons += [f"tool '{t}' not installed" for t in requires.tools if not has_tool(t)]
    reasons += [f"{p} missing" for p in requires.sysfs if not has_path(p)]
    return reasons


def from_marker_kwargs(kconfig: Iterable[str] = (), tools: Iterable[str] = (), sysfs: Iterable[str] = ()) -> Requires:
    """Requires from ``@pytest.mark.requires(kconfig=[...], tools=[...], sysfs=[...])``."""
    as_tuple = lambda v: (v,) if isinstance(v, str) else tuple(v)  # noqa: E731
    return Requires(
        kconfig=tuple(normalise(k) for k in as_tuple(kconfig)), tools=as_tuple(tools), sysfs=as_tuple(sysfs)
    )

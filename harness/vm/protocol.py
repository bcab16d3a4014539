"""The messages host and guest exchange, typed, in one place.

Every message the channel carries (``channel.py``: JSON files in the shared
directory) is one of the dataclasses below, with ``to_json``/``from_json``;
the kernel-log markers that delimit each test on the console sit beside
them. The guest is the kernel under test and may be broken in any way, so
``from_json`` checks every field's type and refuses anything else with a
:class:`ProtocolError` naming the message and field: the host reads fields,
never ``.get("x", 0) or 0``.

Model: KUnit's typed ``KunitResult``; pytest-xdist's named events. Test
reports themselves travel as pytest's own serialised form
(``pytest_report_to_serializable``), which pytest checks when it reads them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Union

# Written into the kernel log around every item, so that the console
# delimits each test's kernel messages (machine.py waits for the end marker).
KMSG_BEGIN = "netharness: begin "
KMSG_END = "netharness: end "


class ProtocolError(ValueError):
    """A message that is not what the protocol says; names the message and field."""


_MISSING = object()


def _check(message: str, data: Any, name: str, kinds: tuple[type, ...], default: Any = _MISSING) -> Any:
    """``data[name]`` if it has one of ``kinds`` (bool is not an int here), else ProtocolError."""
    if name not in data:
        if default is _MISSING:
            raise ProtocolError(f"{message}: field {name!r} missing")
        return default
    value = data[name]
    if isinstance(value, bool) and bool not in kinds:
        raise ProtocolError(f"{message}: field {name!r} is a boolean, expected {_names(kinds)}")
    if not isinstance(value, kinds):
        raise ProtocolError(f"{message}: field {name!r} is {type(value).__name__}, expected {_names(kinds)}")
    return value


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)


def _object(message: str, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolError(f"{message}: not a JSON object but {type(data).__name__}")
    return data


def _strings(message: str, name: str, values: list[Any]) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in values):
        raise ProtocolError(f"{message}: field {name!r} must hold strings only")
    return tuple(values)


class _Message:
    """to_json for the dataclasses below (tuples become lists)."""

    KIND: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


# --- guest -> host ---------------------------------------------------------------------


@dataclass(frozen=True)
class Ready(_Message):
    """Collection finished: the node ids the guest can run, and collection errors."""

    KIND: ClassVar[str] = "ready"
    nodeids: tuple[str, ...]
    errors: tuple[str, ...] = ()
    pid: int = 0

    @classmethod
    def from_json(cls, data: Any) -> "Ready":
        data = _object(cls.KIND, data)
        return cls(
            nodeids=_strings(cls.KIND, "nodeids", _check(cls.KIND, data, "nodeids", (list,))),
            errors=_strings(cls.KIND, "errors", _check(cls.KIND, data, "errors", (list,), [])),
            pid=_check(cls.KIND, data, "pid", (int,), 0),
        )


@dataclass(frozen=True)
class ItemResult(_Message):
    """One item's outcome: pytest's serialised reports plus the kernel state around it.

    ``error`` is set when the guest could not run the item at all (not
    collected there). Taints are /proc/sys/kernel/tainted before and after;
    lockdep is debug_locks (None where the kernel has no lockdep).
    """

    KIND: ClassVar[str] = "result"
    nodeid: str
    reports: tuple[dict[str, Any], ...] = ()
    interrupted: bool = False
    duration: float = 0.0
    taint_before: int = 0
    taint_after: int = 0
    lockdep_before: bool | None = None
    lockdep_after: bool | None = None
    error: str | None = None

    @property
    def new_taint(self) -> int:
        """Taint flags that appeared while the item ran."""
        return self.taint_after & ~self.taint_before

    @property
    def lockdep_turned_off(self) -> bool:
        """lockdep switched itself off during the item (it does so after its first report)."""
        return bool(self.lockdep_before) and self.lockdep_after is False

    @classmethod
    def from_json(cls, data: Any) -> "ItemResult":
        k = cls.KIND
        data = _object(k, data)
        reports = _check(k, data, "reports", (list,), [])
        if not all(isinstance(r, dict) for r in reports):
            raise ProtocolError(f"{k}: field 'reports' must hold objects only")
        return cls(
            nodeid=_check(k, data, "nodeid", (str,)),
            reports=tuple(reports),
            interrupted=_check(k, data, "interrupted", (bool,), False),
            duration=float(_check(k, data, "duration", (int, float), 0.0)),
            taint_before=_check(k, data, "taint_before", (int,), 0),
            taint_after=_check(k, data, "taint_after", (int,), 0),
            lockdep_before=_check(k, data, "lockdep_before", (bool, type(None)), None),
            lockdep_after=_check(k, data, "lockdep_after", (bool, type(None)), None),
            error=_check(k, data, "error", (str, type(None)), None),
        )


@dataclass(frozen=True)
class Done(_Message):
    """The guest agent is exiting: its final checks, and why if it ended early."""

    KIND: ClassVar[str] = "done"
    tainted: int = 0
    kmemleak: str | None = None  # kmemleak's report, when the host asked for a scan
    interrupted: str | None = None  # the node id whose interrupt ended the guest
    exit: int | None = None  # pytest's exit status, when it ended before the run loop

    @classmethod
    def from_json(cls, data: Any) -> "Done":
        k = cls.KIND
        data = _object(k, data)
        return cls(
            tainted=_check(k, data, "tainted", (int,), 0),
            kmemleak=_check(k, data, "kmemleak", (str, type(None)), None),
            interrupted=_check(k, data, "interrupted", (str, type(None)), None),
            exit=_check(k, data, "exit", (int, type(None)), None),
        )


# --- host -> guest ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunItem(_Message):
    """Run ``nodeid``; ``next`` is the item after it (pytest's teardown of fixtures depends on it)."""

    KIND: ClassVar[str] = "run"
    nodeid: str
    next: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"op": self.KIND, **super().to_json()}


@dataclass(frozen=True)
class Exit(_Message):
    """Stop after the final checks (a kmemleak scan when asked)."""

    KIND: ClassVar[str] = "exit"
    kmemleak: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"op": self.KIND, **super().to_json()}


Command = Union[RunItem, Exit]


def command_from_json(data: Any) -> Command:
    """The command a host wrote (``op`` says which)."""
    data = _object("command", data)
    op = _check("command", data, "op", (str,))
    if op == RunItem.KIND:
        return RunItem(nodeid=_check(op, data, "nodeid", (str,)), next=_check(op, data, "next", (str, type(None)), None))
    if op == Exit.KIND:
        return Exit(kmemleak=_check(op, data, "kmemleak", (bool,), False))
    raise ProtocolError(f"command: unknown op {op!r}")

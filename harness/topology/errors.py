"""Problems found in a topology file, and the one exception that carries them.

A user fixing a topology file wants every mistake at once, each with the
place to look and what to write there, in the ``file:line:col:`` form that
editors and terminals turn into links. So the loader never stops at the first
problem: it collects ``Problem`` records and raises a single
``TopologyError`` holding all of them.

This module also knows how to find the line and column of a path such as
``["nodes", "c1", "interfaces", "eth0", "mtu"]`` in a document loaded by
ruamel.yaml's round-trip loader, because both the schema error mapping and
the semantic checks need it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

PathItem = str | int
YamlPath = Sequence[PathItem]
Part = Literal["key", "value"]


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in one place.

    ``line`` and ``column`` are 1-based; ``line == 0`` means the problem has
    no position (the file is missing or unreadable). ``hint`` says what to
    write instead; it may be empty when there is nothing useful to suggest.
    """

    file: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line > 0 else self.file
        text = f"{where}: {self.message}"
        return f"{text}; write instead: {self.hint}" if self.hint else text


class TopologyError(Exception):
    """A topology file is unusable; ``problems`` lists every reason, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = _unique(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    """Sorted by position, without repeats (schema alternatives can report twice)."""
    return sorted(set(problems), key=lambda p: (p.file, p.line, p.column, p.message))


def locate(root: Any, path: YamlPath, part: Part = "value") -> tuple[int, int]:
    """1-based (line, column) of ``path`` in a round-trip-loaded document.

    ``part="key"`` points at a mapping key (``mtu:``), ``"value"`` at what
    follows it. A mapping or sequence value is reported at its key, since
    that is the line a person recognises. Paths that cannot be followed
    (merged keys, plain dicts) fall back to the deepest known position.
    """
    line, col = 0, 0
    node = root
    for index, item in enumerate(path):
        found = _child_position(node, item, part if index == len(path) - 1 else "key")
        if found is None:
            break
        line, col = found
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            break
    return line + 1, col + 1


def _child_position(node: Any, item: PathItem, part: Part) -> tuple[int, int] | None:
    """0-based position of one child of a ruamel CommentedMap/CommentedSeq."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if isinstance(item, int) and isinstance(node, list):
            return lc.item(item)
        value = node[item]
        if part == "value" and value is not None and not isinstance(value, (dict, list)):
            return lc.value(item)
        return lc.key(item)
    except (KeyError, IndexError, TypeError):
        return None


@dataclass
class Problems:
    """Collects problems for one file, turning YAML paths into positions."""

    file: str
    root: Any
    found: list[Problem] = field(default_factory=list)

    def add(self, path: YamlPath, message: str, hint: str = "", part: Part = "value") -> None:
        line, col = locate(self.root, path, part)
        self.found.append(Problem(self.file, line, col, message, hint))

    def raise_if_any(self) -> None:
        if self.found:
            raise TopologyError(self.found)


# Words for the items of each collection, so that a path reads as a place:
# ["nodes", "c1", "interfaces", "eth0", "mtu"] -> "mtu in node c1 interface eth0".
_ITEM_LABELS = {
    "nodes": "node",
    "interfaces": "interface",
    "routes": "route",
    "endpoints": "endpoint",
    "netdevsim": "netdevsim device",
    "bridges": "bridge",
    "ports": "port",
    "vlans": "vlan",
    "links": "link",
    "sysctls": "sysctl",
    "addresses": "address",
    "port_names": "port name",
    "flags": "flag",
    "kconfig": "kconfig option",
    "tools": "tool",
    "sysfs": "sysfs path",
}


def item_label(collection: PathItem) -> str:
    """What one entry of ``collection`` is called ("interfaces" -> "interface")."""
    return _ITEM_LABELS.get(collection, "key") if isinstance(collection, str) else "item"


def _path_words(path: YamlPath) -> list[str]:
    words: list[str] = []
    i = 0
    while i < len(path):
        item = path[i]
        if isinstance(item, str) and item in _ITEM_LABELS and i + 1 < len(path):
            entry = path[i + 1]
            name = entry if isinstance(entry, str) else f"#{entry + 1}"
            words.append(f"{_ITEM_LABELS[item]} {name}")
            i += 2
        elif isinstance(item, int):
            # Only the short form of a link nests a list in a list: [a, b].
            words.append(f"endpoint #{item + 1}")
            i += 1
        else:
            words.append(str(item))
            i += 1
    return words


def subject(path: YamlPath) -> tuple[str, str]:
    """(thing, place) for a path: ("mtu", " in node c1 interface eth0").

    Split in two so that messages can put a value between them:
    "mac '00:11' in node c1 interface eth0 is not valid".
    """
    words = _path_words(path)
    if not words:
        return "the file", ""
    where = f" in {' '.join(words[:-1])}" if len(words) > 1 else ""
    return words[-1], where


def place(path: YamlPath) -> str:
    """" in node c1 interface eth0" for the path of that interface, "" for the top level."""
    words = _path_words(path)
    return f" in {' '.join(words)}" if words else " at the top level"


def show(value: Any) -> str:
    """A value as the user wrote it, with a note when YAML read it as something else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return str(value)
    return f"{value} (which YAML read as a {type(value).__name__})"


def flow(value: Any) -> str:
    """Render a plain JSON-like value in YAML flow style, for hints.

    Only for the small example values stored in the schema and built by the
    checks; quoting is needed only where YAML would read a non-string.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, str) and _needs_quotes(value):
        return f'"{value}"'
    return str(value)


def _needs_quotes(text: str) -> bool:
    """True when a plain scalar would not read back as this string."""
    return (
        not _PLAIN.match(text)
        or text.lower() in ("true", "false", "null", "~", ".inf", ".nan")
        or _looks_numeric(text)
    )


_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./:@+-]*\Z")


def _looks_numeric(text: str) -> bool:
    """Numbers (10, 1e5, 0x10) and dates (2001-01-01) read as non-strings."""
    for parse in (float, lambda t: int(t, 0)):
        try:
            parse(text.replace("_", ""))
            return True
        except ValueError:
            pass
    return bool(re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}.*", text))


def either(choices: Iterable[str]) -> str:
    """"a, b or c", for listing alternatives in a message."""
    items = list(choices)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"

"""Kernel config fragments: parse them strictly, check the final .config.

In the spirit of KUnit's kunit_config.py. Two facts shape this module:

* kconfig is silent about lines it does not understand: an indented line, a
  ``NETDEVSIM=y`` without the prefix or a ``#CONFIG_X is not set`` without
  the space is skipped without a word. So fragments are parsed strictly here
  and every error names the file and line and says what to write instead.
* ``make olddefconfig`` drops requested options whose dependencies are off,
  again silently. So after a build the final .config is compared with what
  the fragments asked for (:func:`missing_options`), and the difference is
  a build failure with a readable message (:func:`format_missing`).

Nothing here reads or writes files: callers pass text in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "KconfigEntry",
    "KconfigError",
    "format_missing",
    "kconfig_requirement_met",
    "missing_options",
    "normalise",
    "parse_dotconfig",
    "parse_fragment",
]

PREFIX = "CONFIG_"


@dataclass(frozen=True)
class KconfigEntry:
    """One requested option.

    ``name`` carries the ``CONFIG_`` prefix. ``value`` is ``'y'``, ``'m'``,
    ``'n'`` (for ``# CONFIG_X is not set``) or the value exactly as written
    (``'60'``, ``'0x1'``, ``'"foo"'`` with its quotes).
    """

    name: str
    value: str

    def __str__(self) -> str:
        """The entry as a fragment line."""
        if self.value == "n":
            return f"# {self.name} is not set"
        return f"{self.name}={self.value}"


class KconfigError(ValueError):
    """A fragment line kconfig would ignore or misread, with what to write instead."""

    def __init__(self, filename: str, line_no: int, message: str, hint: str) -> None:
        self.filename = filename
        self.line_no = line_no
        self.message = message
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.filename}:{self.line_no}: {self.message}; write instead: {self.hint}"


# --- line grammar ---------------------------------------------------------------

_NAME = r"[A-Za-z0-9_]+"
_VALUE = r'(?:[ymn]|-?\d+|0[xX][0-9a-fA-F]+|"(?:[^"\\]|\\.)*")'
_ASSIGN_RE = re.compile(r"^(" + PREFIX + _NAME + r")=(" + _VALUE + r")$")
_NOT_SET_RE = re.compile(r"^# (" + PREFIX + _NAME + r") is not set$")
_NAME_RE = re.compile(r"^" + _NAME + r"$")

# Near misses, each with its own hint.
_LOOSE_NOT_SET_RE = re.compile(r"^#?\s*(" + _NAME + r")\s+is\s+not\s+set\.?$", re.IGNORECASE)
_LOOSE_ASSIGN_RE = re.compile(r"^(" + _NAME + r")\s*=\s*(.*)$")
_BARE_NAME_RE = re.compile(r"^(" + _NAME + r")$")
_INLINE_COMMENT_RE = re.compile(r"^(" + _VALUE + r")\s+#.*$")
# "#CONFIG_X is not set", "#  CONFIG_X is not set": kconfig reads them as plain comments.
_COMMENTED_NOT_SET_RE = re.compile(r"^#\s*(" + PREFIX + _NAME + r")\s+is\s+not\s+set\.?$", re.IGNORECASE)
_YES = {"yes", "true", "on"}
_NO = {"no", "false", "off"}


def _fix_name(name: str) -> str:
    """The name with the CONFIG_ prefix, upper-cased if it was written in lower case."""
    if name.upper().startswith(PREFIX):
        name = name[len(PREFIX):]
    if name == name.lower():
        name = name.upper()
    return PREFIX + name


def _value_hint(value: str) -> str | None:
    """A valid spelling of a mistyped value, or None if there is no obvious one."""
    lowered = value.lower()
    if lowered in ("y", "m", "n"):
        return lowered
    if lowered in _YES:
        return "y"
    if lowered in _NO:
        return "n"
    if value.startswith('"') and not value.endswith('"'):
        return value + '"'
    if value.startswith("'") and value.endswith("'") and len(value) >= 2:
        return '"' + value[1:-1] + '"'
    if value and not value.startswith('"'):
        return '"' + value.replace('"', '\\"') + '"'
    return None


def _entry_text(name: str, value: str) -> str:
    return str(KconfigEntry(name, value))


def _diagnose_assignment(line: str, raw_name: str, raw_value: str) -> tuple[str, str]:
    """(message, hint) for a NAME=VALUE line that is not a valid assignment."""
    name = _fix_name(raw_name)
    if not raw_name.startswith(PREFIX):
        value = raw_value if re.fullmatch(_VALUE, raw_value) else (_value_hint(raw_value) or "y")
        return f"option name must start with {PREFIX}", _entry_text(name, value)
    if line != f"{raw_name}={raw_value}" and re.fullmatch(_VALUE, raw_value):
        return "spaces around '='", _entry_text(name, raw_value)
    inline = _INLINE_COMMENT_RE.match(raw_value)
    if inline:
        return (
            "comment after the value (kconfig reads it as part of the value)",
            f"{_entry_text(name, inline.group(1))} with the comment on its own line",
        )
    if not raw_value:
        return "empty value", f'{name}="" for an empty string, or # {name} is not set'
    hint = _value_hint(raw_value)
    if hint is None:
        return f"invalid value {raw_value!r}", f"{name}=y"
    message = f"invalid value {raw_value!r} (expected y, m, n, a number or a quoted string)"
    return message, _entry_text(name, hint)


def _diagnose(line: str) -> tuple[str, str]:
    """(message, hint) for a line that is neither an assignment, 'is not set', comment nor blank."""
    if line != line.lstrip():
        return (
            "indented line (kconfig only reads lines that start with CONFIG_ or '# CONFIG_')",
            line.strip(),
        )
    m = _LOOSE_NOT_SET_RE.match(line)
    if m:
        return "malformed 'is not set' line", f"# {_fix_name(m.group(1))} is not set"
    m = _LOOSE_ASSIGN_RE.match(line)
    if m:
        return _diagnose_assignment(line, m.group(1), m.group(2).strip())
    m = _BARE_NAME_RE.match(line)
    if m:
        return "option without a value", f"{_fix_name(m.group(1))}=y"
    return (
        "not a kconfig line",
        "CONFIG_NAME=y, CONFIG_NAME=m, CONFIG_NAME=123, CONFIG_NAME=\"text\", "
        "# CONFIG_NAME is not set, or a comment starting with '#'",
    )


def _parse_line(line: str) -> KconfigEntry | None:
    """The entry on a valid line, None for blank and comment lines; raises ValueError otherwise.

    Trailing blanks are tolerated; leading ones are not on assignments,
    because kconfig skips such lines without a warning.
    """
    stripped = line.rstrip()
    if not stripped:
        return None
    m = _ASSIGN_RE.match(stripped)
    if m:
        return KconfigEntry(m.group(1), m.group(2))
    m = _NOT_SET_RE.match(stripped)
    if m:
        return KconfigEntry(m.group(1), "n")
    if stripped.lstrip().startswith("#"):
        if _COMMENTED_NOT_SET_RE.match(stripped.lstrip()):
            raise ValueError(stripped)  # meant as "is not set", read by kconfig as a comment
        return None
    raise ValueError(stripped)


# --- public API -------------------------------------------------------------------


def parse_fragment(text: str, filename: str) -> list[KconfigEntry]:
    """The entries of a config fragment, in order, each option once.

    Accepts ``CONFIG_X=y|m|n``, ``CONFIG_X=123``, ``CONFIG_X=0x1f``,
    ``CONFIG_X="str"``, ``# CONFIG_X is not set``, blank lines and ``#``
    comments. Anything else raises :class:`KconfigError`, as does one option
    given two different values (naming both lines); the same value twice is
    harmless and kept once.
    """
    entries: list[KconfigEntry] = []
    seen: dict[str, tuple[int, KconfigEntry]] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        try:
            entry = _parse_line(line)
        except ValueError:
            message, hint = _diagnose(line.rstrip())
            raise KconfigError(filename, line_no, message, hint) from None
        if entry is None:
            continue
        if entry.name in seen:
            first_no, first = seen[entry.name]
            if first.value != entry.value:
                raise KconfigError(
                    filename,
                    line_no,
                    f"{entry.name} is set twice: '{first}' on line {first_no} and '{entry}' on line {line_no}",
                    f"one line, either '{first}' or '{entry}'",
                )
            continue
        seen[entry.name] = (line_no, entry)
        entries.append(entry)
    return entries


def parse_dotconfig(text: str, filename: str = ".config") -> dict[str, str]:
    """A full .config as ``{"CONFIG_X": value}``, 'n' for is-not-set lines.

    A .config is written by kconfig, so any line other than an assignment,
    'is not set', comment or blank means the file is not a .config: that
    raises :class:`KconfigError`. As in kconfig, a later line wins.
    """
    config: dict[str, str] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.rstrip()
        m = _ASSIGN_RE.match(stripped)
        if m:
            config[m.group(1)] = m.group(2)
            continue
        m = _NOT_SET_RE.match(stripped)
        if m:
            config[m.group(1)] = "n"
            continue
        if not stripped or stripped.startswith("#"):
            continue
        message, hint = _diagnose(stripped)
        raise KconfigError(filename, line_no, f"not a .config line: {message}", hint)
    return config


def _same_value(requested: str, actual: str) -> bool:
    """Equal as kconfig values: '0x1F' == '0x1f', '060' == '60'; strings exactly."""
    if requested == actual:
        return True
    for base, pattern in ((16, r"0[xX][0-9a-fA-F]+"), (10, r"-?\d+")):
        if re.fullmatch(pattern, requested) and re.fullmatch(pattern, actual):
            return int(requested, base) == int(actual, base)
    return False


def missing_options(
    requested: list[KconfigEntry], final: dict[str, str]
) -> list[tuple[KconfigEntry, str | None]]:
    """Requested entries the final .config does not honour, with what it has instead.

    A requested 'n' is honoured by absence or 'n'. Anything else needs the
    same value: a requested 'y' is not honoured by 'm' (the guest boots
    without modules from the host). The second element is the final value,
    None when the option is absent.
    """
    missing = []
    for entry in requested:
        actual = final.get(entry.name)
        if entry.value == "n":
            if actual in (None, "n"):
                continue
        elif actual is not None and _same_value(entry.value, actual):
            continue
        missing.append((entry, actual))
    return missing


def format_missing(missing: list[tuple[KconfigEntry, str | None]]) -> str:
    """A message listing every dropped option and what the final .config has instead.

    Empty string when nothing is missing.
    """
    if not missing:
        return ""
    count = len(missing)
    lines = [
        f"{count} requested kernel option{'s' if count != 1 else ''} "
        f"{'are' if count != 1 else 'is'} not in the final .config "
        "(make olddefconfig drops options whose dependencies are not met):"
    ]
    enabled_unwanted = False
    for entry, actual in missing:
        if actual is None:
            found = "absent"
        else:
            found = f"found '{KconfigEntry(entry.name, actual)}'"
        lines.append(f"  {entry}: {found}")
        enabled_unwanted = enabled_unwanted or entry.value == "n"
    lines.append(
        "Usually a dependency is missing: check each option's 'depends on' in Kconfig "
        "(make menuconfig, then '/' and the option name, shows its dependencies and "
        "their values) and add what it needs to the fragment."
    )
    if any(entry.value == "y" and actual == "m" for entry, actual in missing):
        lines.append(
            "An option found as 'm' where 'y' was asked depends on something that is "
            "itself a module: make that dependency =y too."
        )
    if enabled_unwanted:
        lines.append(
            "An option asked to be 'not set' but found enabled is selected by another "
            "option: check which options 'select' it."
        )
    return "\n".join(lines)


def normalise(name: str) -> str:
    """``NETDEVSIM`` or ``CONFIG_NETDEVSIM`` -> ``CONFIG_NETDEVSIM``.

    Raises ValueError for something that cannot be an option name, so a typo
    in a topology's ``requires.kconfig`` fails validation instead of skipping.
    """
    name = name.strip()
    bare = name[len(PREFIX):] if name.startswith(PREFIX) else name
    if not _NAME_RE.match(bare):
        raise ValueError(f"not a kernel config option name: {name!r}")
    return PREFIX + bare


def kconfig_requirement_met(name: str, config: dict[str, str]) -> bool:
    """Is the option enabled in ``config`` (a parsed .config or /proc/config.gz)?

    'y' and 'm' both count: at run time a module can be loaded. Options with
    a number or string value count when present; absent and 'n' do not.
    """
    value = config.get(normalise(name))
    return value is not None and value != "n"

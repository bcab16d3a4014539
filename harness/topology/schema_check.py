"""JSON Schema validation of a topology document, in words a person can act on.

jsonschema reports "Additional properties are not allowed ('adresses' was
unexpected)" against a path of keys. Users need "unknown key 'adresses' in
node c1 interface eth0; write instead: one of addresses, mtu, mac, state"
at the line and column of that key. This module does that translation. The
words come from the schema itself where possible (``description`` of
patterned values, ``examples`` for the "write instead" part), so the schema
stays the one documentation of the format.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import Part, PathItem, Problems, either, flow, item_label, place, show, subject

SCHEMA_PACKAGE = "harness.schema"
SCHEMA_FILE = "topology.schema.json"

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


@lru_cache(maxsize=1)
def topology_schema() -> dict[str, Any]:
    """The v1 topology schema, read once from the installed package."""
    text = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(topology_schema())


@dataclass(frozen=True)
class Finding:
    """One explained schema error, before it gets a file position."""

    path: tuple[PathItem, ...]
    message: str
    hint: str
    part: Part = "value"


def check_schema(doc: Any, problems: Problems) -> None:
    """Validate ``doc`` against the schema, adding one problem per mistake."""
    for error in _validator().iter_errors(doc):
        for finding in explain(error):
            problems.add(finding.path, finding.message, finding.hint, finding.part)


def explain(error: ValidationError) -> Iterator[Finding]:
    """Turn one jsonschema error into findings (one error can name several keys)."""
    path = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        yield _bad_name(error, path)
        return
    handler = _HANDLERS.get(str(error.validator), _generic)
    yield from handler(error, path)


# --- handlers, one per JSON Schema keyword -----------------------------------


def _additional_properties(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    allowed = list(error.schema.get("properties", {}))
    for key in error.instance:
        if key in allowed:
            continue
        yield Finding(
            (*path, key),
            f"unknown key {show(key)}{place(path)}",
            "one of " + ", ".join(_closest_first(str(key), allowed)),
            "key",
        )


def _required(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    thing, where = subject(path)
    for key in error.validator_value:
        if key in error.instance:
            continue
        example = _example(error.schema.get("properties", {}).get(key, {}))
        hint = f"{key}: {flow(example)}" if example is not None else f"{key}: ..."
        yield Finding(path, f"{thing}{where} is missing the required key {show(key)}", hint, "key")


def _type(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    thing, where = subject(path)
    expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    words = either(_TYPE_WORDS.get(t, t) for t in expected)
    if "string" in expected and not isinstance(error.instance, (dict, list)) and error.instance is not None:
        hint = f'"{_as_text(error.instance)}" (quoted, so that YAML reads a string)'
    else:
        hint = _hint(path, error.schema) or words
    yield Finding(path, f"{thing}{where} must be {words}, not {show(error.instance)}", hint)


def _const(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    thing, where = subject(path)
    value = flow(error.validator_value)
    yield Finding(path, f"{thing}{where} must be {value}, not {show(error.instance)}", _keyed(path, value))


def _enum(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    thing, where = subject(path)
    choices = [str(c) for c in error.validator_value]
    close = difflib.get_close_matches(str(error.instance), choices, n=1)
    hint = _keyed(path, close[0] if close else either(choices))
    yield Finding(path, f"{thing}{where} must be {either(choices)}, not {show(error.instance)}", hint)


def _range(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    thing, where = subject(path)
    low, high = error.schema.get("minimum"), error.schema.get("maximum")
    if low is not None and high is not None:
        bounds = f"from {low} to {high}"
    else:
        bounds = f"at least {low}" if low is not None else f"at most {high}"
    hint = _hint(path, error.schema) or f"a whole number {bounds}"
    yield Finding(path, f"{thing}{where} must be {bounds}, not {show(error.instance)}", hint)


def _pattern(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    thing, where = subject(path)
    fixed = _fix(error.validator_value, error.instance)
    hint = _keyed(path, flow(fixed)) if fixed is not None else _hint(path, error.schema)
    yield Finding(path, f"{thing} {show(error.instance)}{where} is not valid: {_rule(error)}", hint)


def _item_count(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    thing, where = subject(path)
    low, high = error.schema.get("minItems"), error.schema.get("maxItems")
    noun = "endpoints" if error.schema.get("items", {}).get("$ref") == "#/$defs/endpoint" else "items"
    if low is not None and low == high:
        count = f"exactly {low} {noun}"
    else:
        count = f"at least {low} {noun}" if error.validator == "minItems" else f"at most {high} {noun}"
    got = len(error.instance)
    yield Finding(path, f"{thing}{where} must have {count}, not {got}", _hint(path, error.schema))


def _min_properties(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    thing, where = subject(path)
    yield Finding(
        path,
        f"{thing}{where} must have at least {error.validator_value} entry",
        _hint(path, error.schema) or "add an entry",
    )


def _unique_items(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    seen: list[Any] = []
    for index, item in enumerate(error.instance):
        if item in seen:
            thing, where = subject((*path, index))
            yield Finding(
                (*path, index),
                f"{thing}{where} repeats {show(item)}",
                f"list {show(item)} once",
            )
        else:
            seen.append(item)


def _any_of(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    """Explain the alternative that has the right shape, else the whole choice.

    For a link written as a list, the mapping alternative's complaint ("not
    of type object") is noise; the list alternative's complaint is the news.
    """
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    fitting = [errs for errs in branches.values() if not any(_wrong_shape(e) for e in errs)]
    if len(fitting) == 1:
        for sub in fitting[0]:
            yield from explain(sub)
        return
    thing, where = subject(path)
    yield Finding(path, f"{thing}{where} is not valid: {_rule(error)}", _hint(path, error.schema))


def _wrong_shape(error: ValidationError) -> bool:
    """True if the error says the value itself has the wrong type for its branch."""
    return not error.relative_path and error.validator in ("type", "const")


def _generic(error: ValidationError, path: tuple[PathItem, ...]) -> Iterator[Finding]:
    thing, where = subject(path)
    yield Finding(path, f"{thing}{where}: {error.message}", _hint(path, error.schema))


def _bad_name(error: ValidationError, path: tuple[PathItem, ...]) -> Finding:
    """A mapping key that is not a valid name (propertyNames failed)."""
    key = error.instance
    label = item_label(path[-1]) if path else "key"
    where = place(path[:-1]) if len(path) > 1 else ""
    if error.validator == "type":
        message = f"{label} name {show(key)}{where} must be a string"
        hint = f'"{_as_text(key)}" (quoted, so that YAML reads a string)'
    else:
        message = f"{label} name {show(key)}{where} is not valid: {_rule(error)}"
        fixed = _fix(error.validator_value, key) if error.validator == "pattern" else None
        example = fixed if fixed is not None else _example(error.schema)
        hint = flow(example) if example is not None else ""
    return Finding((*path, key), message, hint, "key")


_HANDLERS = {
    "additionalProperties": _additional_properties,
    "required": _required,
    "type": _type,
    "const": _const,
    "enum": _enum,
    "minimum": _range,
    "maximum": _range,
    "pattern": _pattern,
    "minItems": _item_count,
    "maxItems": _item_count,
    "minProperties": _min_properties,
    "uniqueItems": _unique_items,
    "anyOf": _any_of,
    "oneOf": _any_of,
}


# --- hint helpers ---------------------------------------------------------------


def _rule(error: ValidationError) -> str:
    """The rule a value broke, in words: the schema's description of it."""
    text = str(error.schema.get("description") or f"it must match {error.validator_value}")
    return text.rstrip(".")


def _short_name(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:16].rstrip("-")


def _ifname(text: str) -> str:
    return re.sub(r"[/:%\s\x00-\x1f\x7f]+", "-", text)[:15]


def _sysctl(text: str) -> str:
    """A host-wide or mistyped key has no safe correction; only fix case and stray dots."""
    words = [w for w in text.split(".") if w and w not in ("..",)]
    return ".".join(words)


def _pattern_of(*keys: str) -> str:
    """The pattern the schema uses at ``$defs/<keys...>``: one source for patterns."""
    node: Any = topology_schema()["$defs"]
    for key in keys:
        node = node[key]
    return str(node["pattern"])


# Likely corrections for values that break a pattern, by the pattern they break.
_FIXERS: dict[str, Callable[[str], str]] = {
    _pattern_of("shortName"): _short_name,
    _pattern_of("ifname"): _ifname,
    "^(CONFIG_)?[A-Z0-9_]+$": lambda text: re.sub(r"[^A-Z0-9_]", "_", text.upper()),
    _pattern_of("sysctls", "propertyNames"): _sysctl,
    _pattern_of("endpoint"): lambda text: re.sub(r"\s*:\s*|\s+", ":", text.strip(), count=1),
}


def _fix(pattern: str, value: Any) -> str | None:
    """A corrected value that matches ``pattern``, or None when none is known."""
    fixer = _FIXERS.get(pattern)
    if fixer is None or not isinstance(value, str):
        return None
    fixed = fixer(value)
    return fixed if fixed and fixed != value and re.search(pattern, fixed) else None


def _closest_first(word: str, choices: list[str]) -> list[str]:
    """``choices`` with the likeliest intended ones first, the rest in schema order."""
    close = difflib.get_close_matches(word, choices, n=len(choices), cutoff=0.6)
    return close + [c for c in choices if c not in close]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` ("#/$defs/name"); the schema has no other kind."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return topology_schema()["$defs"][ref.removeprefix("#/$defs/")]
    return schema


def _example(schema: dict[str, Any]) -> Any:
    """The first example of a (possibly referenced) schema, or None."""
    for candidate in (schema, _resolve(schema)):
        examples = candidate.get("examples")
        if examples:
            return examples[0]
    return None


def _hint(path: tuple[PathItem, ...], schema: dict[str, Any]) -> str:
    """"key: example" from the schema's examples, or "" when it has none."""
    example = _example(schema)
    return "" if example is None else _keyed(path, flow(example))


def _keyed(path: tuple[PathItem, ...], value: str) -> str:
    """Prefix a mapping key so the hint can be pasted: "mtu: 1500"; list items stay bare."""
    if path and isinstance(path[-1], str):
        return f"{flow(path[-1])}: {value}"
    return value


def _as_text(value: Any) -> str:
    """How a scalar that YAML did not read as a string was probably written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)

"""Typed dataclass configurations with YAML load/dump.

Every run saves its resolved configuration; loading validates field names so a misspelled option is an
error naming the option and the known ones, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from seedlens.atomic import atomic_write_bytes
from seedlens.errors import ConfigError

C = TypeVar("C")


def to_dict(config: Any) -> dict[str, Any]:
    """Return a dataclass config as plain YAML-safe data (tuples become lists, enums their values)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, Path):
            return str(value)
        if hasattr(value, "value") and type(value).__module__ != "builtins":  # Enum
            return value.value
        return value

    result: dict[str, Any] = plain(config)
    return result


def from_dict(cls: type[C], data: dict[str, Any], where: str = "config") -> C:
    """Build the dataclass ``cls`` from ``data``, recursing into nested dataclass fields.

    Raises:
        ConfigError: ``data`` has a key that ``cls`` does not know (the message names it and close matches)
            or is not a mapping.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping; got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise unknown_option(key, fields, where)
        target = _dataclass_in(hints.get(key))
        if target is not None and isinstance(value, dict):
            value = from_dict(target, value, where=f"{where}.{key}")
        elif isinstance(value, list) and _is_tuple(hints.get(key)):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def unknown_option(key: str, known: Iterable[str], where: str) -> ConfigError:
    """The error for an option ``key`` that ``where`` does not know: it names the closest known option and all of them.

    Args:
        key: The option received.
        known: The option names ``where`` accepts.
        where: What the options belong to, e.g. ``"RX parameters"``.

    Returns:
        A :class:`~seedlens.errors.ConfigError` to raise, e.g. ``unknown option 'epoch' in FCDD parameters (did you
        mean 'epochs'?); known: ...``.
    """
    names = sorted(known)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown option {key!r} in {where}{hint}; known: {', '.join(names)}")


def _dataclass_in(hint: Any) -> type | None:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        for arg in typing.get_args(hint):
            if dataclasses.is_dataclass(arg) and isinstance(arg, type):
                return arg
    return None


def _is_tuple(hint: Any) -> bool:
    if typing.get_origin(hint) is tuple:
        return True
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(typing.get_origin(a) is tuple for a in typing.get_args(hint))
    return False


def save_yaml(data: dict[str, Any], path: str | Path) -> None:
    """Write ``data`` as YAML to ``path`` atomically (temp file + rename)."""
    atomic_write_bytes(path, yaml.safe_dump(data, sort_keys=False).encode())


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path``.

    Raises:
        ConfigError: the file is not valid YAML or not a mapping.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a YAML mapping; got {type(data).__name__}")
    return data


@dataclasses.dataclass(frozen=True)
class Interval:
    """A numeric constraint ``low <= value <= high`` (either bound optional; ``closed`` False = strict)."""

    low: float | None = None
    high: float | None = None
    closed: bool = True
    integer: bool = False

    def check(self, value: Any) -> bool:
        """Return whether ``value`` is a finite number in the interval (NaN and infinities never are)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if self.low is not None and (value < self.low if self.closed else value <= self.low):
            return False
        return not (self.high is not None and (value > self.high if self.closed else value >= self.high))

    def describe(self) -> str:
        """Describe the interval for an error message."""
        kind = "an integer" if self.integer else "a finite number"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        brackets = ("[", "]") if self.closed else ("(", ")")
        return f"{kind} in {brackets[0]}{lo}, {hi}{brackets[1]}"


@dataclasses.dataclass(frozen=True)
class Each:
    """A constraint on a non-empty tuple: every element satisfies ``item`` (and, if ``distinct``, none repeats)."""

    item: Interval
    distinct: bool = True

    def check(self, value: Any) -> bool:
        """Return whether ``value`` is such a tuple."""
        return (isinstance(value, tuple) and len(value) > 0 and all(self.item.check(v) for v in value)
                and (not self.distinct or len(set(value)) == len(value)))

    def describe(self) -> str:
        """Describe the constraint for an error message."""
        kind = "distinct values" if self.distinct else "values"
        return f"a non-empty list of {kind}, each {self.item.describe()}"


#: A declared parameter constraint: an Interval, Each, a set of allowed values, a type, or None (anything).
Constraint = Interval | Each | frozenset | type | tuple


def validate_config(config: Any, constraints: dict[str, Any], where: str) -> None:
    """Check the fields of a dataclass ``config`` against declared ``constraints``.

    Each constraint is an :class:`Interval`, an :class:`Each`, a ``frozenset`` of allowed values, or a tuple of such
    (any may match); ``None`` values pass only when ``None`` is listed in the tuple.

    Raises:
        ConfigError: a field's value violates its constraint; the message names field, value and what is allowed.
    """
    for name, constraint in constraints.items():
        value = getattr(config, name)
        options = constraint if isinstance(constraint, tuple) else (constraint,)
        if any(_matches(value, option) for option in options):
            continue
        allowed = " or ".join(_describe(option) for option in options)
        raise ConfigError(f"{where}: {name}={value!r} is invalid; expected {allowed}")


def _matches(value: Any, option: Any) -> bool:
    if option is None:
        return value is None
    if isinstance(option, (Interval, Each)):
        return option.check(value)
    if isinstance(option, frozenset):
        return value in option
    if isinstance(option, type):
        return isinstance(value, option) and not (option is not bool and isinstance(value, bool))
    raise TypeError(f"unsupported constraint {option!r}")


def _describe(option: Any) -> str:
    if option is None:
        return "None"
    if isinstance(option, (Interval, Each)):
        return option.describe()
    if isinstance(option, frozenset):
        return "one of " + ", ".join(repr(v) for v in sorted(option, key=str))
    return f"a {option.__name__}"

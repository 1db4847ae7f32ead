"""Validation of the keyword options of networks: each failure names the option, the value and what was expected."""

from __future__ import annotations

from collections.abc import Sequence

from seedlens.errors import ConfigError
from seedlens.models.layers import NORM_KINDS


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer; got {value!r}")
    return value


def int_in_range(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer in [{low}, {high}]; got {value!r}")
    return value


def positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{name} must be a positive number; got {value!r}")
    return float(value)


def channel_tuple(name: str, value: object, min_len: int = 1) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) < min_len:
        raise ConfigError(f"{name} must be a sequence of at least {min_len} positive integers; got {value!r}")
    return tuple(positive_int(f"{name}[{i}]", v) for i, v in enumerate(value))


def norm_kind(value: object) -> str | None:
    if value not in NORM_KINDS:
        raise ConfigError(f"norm must be one of {', '.join(repr(k) for k in NORM_KINDS)}; got {value!r}")
    return value


def flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False; got {value!r}")
    return value

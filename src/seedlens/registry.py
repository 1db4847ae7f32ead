"""One generic registry: ``register`` by decorator, ``create`` by name, ``list`` by glob pattern.

Unknown names raise :class:`~seedlens.errors.UnknownNameError` listing close matches and all known names.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from seedlens.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of factories (classes or functions) of one kind.

    Args:
        kind: What the registry holds, used in error messages (e.g. ``"backbone"``).

    Example:
        >>> BACKBONES: Registry[Backbone] = Registry("backbone")
        >>> @BACKBONES.register("fcdd28")
        ... class FCDD28(Backbone): ...
        >>> net = BACKBONES.create("fcdd28", in_channels=1)
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Return a decorator that registers a factory under ``name`` (lower case, unique)."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            key = name.lower()
            if key in self._entries and self._entries[key] is not factory:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[key] = factory
            return factory

        return decorator

    def get(self, name: str) -> Callable[..., T]:
        """Return the factory registered under ``name``.

        Raises:
            UnknownNameError: ``name`` is not registered; the message lists close matches and known names.
        """
        key = str(name).lower()
        if key not in self._entries:
            close = difflib.get_close_matches(key, self._entries, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {', '.join(sorted(self._entries))}"
            )
        return self._entries[key]

    def create(self, name: str, **kwargs: Any) -> T:
        """Build the entry registered under ``name`` with keyword arguments ``kwargs``."""
        return self.get(name)(**kwargs)

    def list(self, pattern: str = "*") -> list[str]:
        """Return the sorted registered names matching the glob ``pattern``."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern.lower()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __len__(self) -> int:
        return len(self._entries)

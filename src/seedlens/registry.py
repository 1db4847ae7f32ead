"""One generic registry: ``register`` by decorator, ``create`` by name, ``list`` by glob pattern, ``facts`` by name.

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
        >>> @BACKBONES.register("fcdd28", summary="FCDD's network for 28×28 images", modality="image")
        ... class FCDD28(Backbone): ...
        >>> net = BACKBONES.create("fcdd28", in_channels=1)
        >>> BACKBONES.facts("fcdd28")["modality"]
        'image'
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}
        self._facts: dict[str, dict[str, Any]] = {}

    def register(
        self, name: str, *, summary: str | None = None, **facts: Any
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Return a decorator that registers a factory under ``name`` (lower case, unique).

        Args:
            name: The name to build it by.
            summary: What it is, in one line (``seedlens backbones`` / ``detectors`` print it); default the first
                sentence of the factory's docstring.
            **facts: What a user chooses it by (e.g. ``modality="image"``, ``pretrained=True``), kept as given.
        """

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            key = name.lower()
            if key in self._entries and self._entries[key] is not factory:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[key] = factory
            self._facts[key] = {"summary": summary if summary is not None else _first_sentence(factory), **facts}
            return factory

        return decorator

    def facts(self, name: str) -> dict[str, Any]:
        """Return what was registered about ``name``: ``name``, ``summary`` and the facts given to ``register``.

        Raises:
            UnknownNameError: ``name`` is not registered.
        """
        self.get(name)
        key = str(name).lower()
        return {"name": key, **self._facts[key]}

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


def _first_sentence(factory: Callable[..., Any]) -> str:
    """The first sentence of the first line of ``factory``'s docstring ("" without one)."""
    line = (factory.__doc__ or "").strip().split("\n", 1)[0].strip()
    return line.split(". ", 1)[0].rstrip(".")

"""The backbone registry: build a backbone by name, list the known names.

Every backbone module registers its classes with ``@BACKBONES.register(name)``; the package
``seedlens.models.backbones`` imports each of those modules by name, so importing this module (which imports
the package first) makes every backbone available.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from seedlens.errors import ConfigError
from seedlens.models.backbones.base import Backbone
from seedlens.registry import Registry

BACKBONES = Registry[Backbone]("backbone")


def create_backbone(name: str, in_channels: int, **cfg: Any) -> Backbone:
    """Build the backbone registered under ``name``.

    Args:
        name: Registered name, e.g. ``"fcdd32"``, ``"fcdd3d"``, ``"spectral"`` (see :func:`list_backbones`).
        in_channels: Input channels (bands for cubes).
        **cfg: The backbone's own keyword options; each is checked against the backbone's signature.

    Returns:
        The backbone, in training mode.

    Raises:
        UnknownNameError: ``name`` is not registered; the message lists close matches and the known names.
        ConfigError: an option is unknown to this backbone (the message lists the accepted ones) or invalid.
    """
    factory = BACKBONES.get(name)
    params = inspect.signature(factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
        unknown = sorted(set(cfg) - set(accepted))
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, accepted, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ConfigError(
                f"unknown option(s) for backbone {name!r}: {', '.join(hints)}; accepted: {', '.join(accepted)}"
            )
    return BACKBONES.create(name, in_channels=in_channels, **cfg)


def list_backbones(pattern: str = "*") -> list[str]:
    """Return the sorted names of the registered backbones matching the glob ``pattern`` (e.g. ``"fcdd*"``)."""
    return BACKBONES.list(pattern)

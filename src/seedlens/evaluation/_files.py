"""Atomic file writes for reports and figures: the one rule of :mod:`seedlens.atomic`."""

from seedlens.atomic import atomic_write_bytes

__all__ = ["atomic_write_bytes"]

"""The typed errors seedlens raises. Every message names the value received and what was expected."""

from __future__ import annotations

from pathlib import Path


class SeedlensError(Exception):
    """Base class of every error seedlens raises on purpose."""


class ConfigError(SeedlensError, ValueError):
    """A parameter or configuration value is invalid."""


class ShapeError(SeedlensError, ValueError):
    """An array or tensor has the wrong shape, e.g. ``volume must be (N, 1, D, H, W); got (2, 64, 64)``."""


class NotFittedError(SeedlensError, RuntimeError):
    """A method that needs a fitted estimator was called before ``fit``."""


class ExportError(SeedlensError, RuntimeError):
    """A model cannot be exported: an optional exporter package is missing, or the exported graph disagrees."""


class UnknownNameError(SeedlensError, KeyError):
    """A name (backbone, detector, format, column...) is not known; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ReadError(SeedlensError, OSError):
    """A file could not be read. ``path`` names the file, the message says what was wrong."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


class UnknownFormatError(ReadError):
    """No reader knows the file's format."""


class CorruptFileError(ReadError):
    """The file has a known format but its content is corrupt or truncated."""


class DicomSeriesError(ReadError):
    """A DICOM folder is not one consistent series (mixed series, uneven or duplicate slice positions)."""


class DataSourceError(SeedlensError, ValueError):
    """A manifest or dataset folder is malformed (missing column, unknown split, missing file...)."""

"""Errors raised by the data hub. All derive from :class:`~seedlens.errors.SeedlensError`."""

from __future__ import annotations

from seedlens.errors import ConfigError, DataSourceError, SeedlensError


class HubError(SeedlensError):
    """Base class of the hub's errors."""


class HubNotFoundError(HubError, ConfigError):
    """No hub was named and no default hub is configured, or the named hub does not exist."""


class CatalogVersionError(HubError):
    """The catalog's schema revision is not the one this seedlens expects."""


class ReadOnlyHubError(HubError, PermissionError):
    """A write was attempted on a read-only hub (a bundle, or a hub opened read-only)."""


class ExprError(HubError, ValueError):
    """A ``--where`` expression is malformed or names an unknown field.

    Attributes:
        expr: The expression text.
        position: 0-based character offset of the problem in ``expr``.
        problem: What is wrong, without the position.
    """

    def __init__(self, expr: str, position: int, problem: str, length: int = 1) -> None:
        self.expr = expr
        self.position = max(0, min(position, len(expr)))
        self.problem = problem
        self.length = max(1, length)
        super().__init__(self._render())

    @property
    def caret(self) -> str:
        """Two lines: the expression and a caret line under the offending part."""
        shown = self.expr.replace("\n", " ").replace("\t", " ").replace("\r", " ")
        return f"  {shown}\n  {' ' * self.position}{'^' * self.length}"

    def _render(self) -> str:
        return f"{self.problem} (at column {self.position + 1})\n{self.caret}"

    def __str__(self) -> str:
        return self._render()


class BlobError(HubError):
    """Base class of blob store errors; ``digest`` names the blob."""

    def __init__(self, digest: str, problem: str) -> None:
        self.digest = digest
        self.problem = problem
        super().__init__(f"blob {digest}: {problem}")


class BlobNotFoundError(BlobError, FileNotFoundError):
    """The store has no blob with this hash."""


class BlobCorruptError(BlobError):
    """A blob's bytes do not hash to its address (changed or truncated on disk)."""


class InvalidNameError(HubError, ValueError):
    """A name or parameter (sample id, file name, blob hash, tar member) is unsafe or malformed."""


class LabelsError(HubError, DataSourceError):
    """A labels CSV is malformed; the message names the file and the rows."""


class HubImportError(HubError, DataSourceError):
    """An import found files it cannot store; nothing was written. ``problems`` lists them, one per file."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"import aborted, nothing was stored; {len(problems)} problem(s):\n{shown}{more}")


class NotFoundError(HubError, LookupError):
    """A sample, model or token named by the caller does not exist."""


class ConflictError(HubError, ValueError):
    """The request conflicts with what is stored (duplicate name, trait kind mismatch...)."""


class AuthError(HubError, PermissionError):
    """A remote hub refused the token (HTTP 401/403)."""


class RemoteError(HubError):
    """A remote hub answered with an error status; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"hub answered {status}: {message}")


class BundleError(HubError):
    """A bundle is malformed or failed verification."""

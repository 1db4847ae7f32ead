"""Help texts in the usual form: ``Usage: seedlens score [OPTIONS] RUN [PATHS]...``, flags without a type.

Recent Typer versions write a required argument as ``{run}`` in the usage line and give every flag (``--help``
included) a ``<bool>`` type, as if it took a value. :func:`plain_help` makes every command and group of a Typer app
use :class:`PlainHelpCommand` / :class:`PlainHelpGroup`, which write arguments as ``NAME`` / ``[NAME]`` (``...`` when
repeated) and flags with no type, whatever Typer version is installed.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


def _argument_usage(param: Any) -> list[str]:
    """``NAME`` for a required argument, ``[NAME]`` for an optional one, ``...`` after a repeated one."""
    if getattr(param, "param_type_name", None) != "argument":
        return []
    name = param.metavar or str(param.name or "").upper()
    if not param.required:
        name = f"[{name}]"
    return [name + ("..." if param.nargs != 1 else "")]


def _untyped_flags(params: list[Any]) -> list[Any]:
    """``params`` with each on/off flag given an empty type label (a flag takes no value to name)."""
    for param in params:
        if getattr(param, "is_flag", False) and not getattr(param, "count", False) and param.metavar is None:
            param.metavar = ""
    return params


class PlainHelpCommand(TyperCommand):
    """A Typer command whose usage line names arguments ``RUN [PATHS]...`` and whose flags show no type."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS]`` then each argument."""
        pieces = [self.options_metavar] if self.options_metavar else []
        return pieces + [piece for param in self.get_params(ctx) for piece in _argument_usage(param)]

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, ``--help`` included, flags without a type label."""
        return _untyped_flags(list(super().get_params(ctx)))


class PlainHelpGroup(TyperGroup):
    """A Typer group with the help of :class:`PlainHelpCommand`: ``[OPTIONS] COMMAND [ARGS]...``."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS]``, each argument, then ``COMMAND [ARGS]...``."""
        pieces = [self.options_metavar] if self.options_metavar else []
        pieces += [piece for param in self.get_params(ctx) for piece in _argument_usage(param)]
        return [*pieces, self.subcommand_metavar]

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, ``--help`` included, flags without a type label."""
        return _untyped_flags(list(super().get_params(ctx)))


def plain_help(app: typer.Typer) -> None:
    """Make ``app``, its commands and its sub-groups (recursively) use the plain help classes.

    A command or group declared with a class of its own keeps it.
    """
    if _is_default(app.info.cls, TyperGroup):
        app.info.cls = PlainHelpGroup
    for command in app.registered_commands:
        if _is_default(command.cls, TyperCommand):
            command.cls = PlainHelpCommand
    for group in app.registered_groups:
        if _is_default(group.cls, TyperGroup):
            group.cls = PlainHelpGroup
        if group.typer_instance is not None:
            plain_help(group.typer_instance)


def _is_default(cls: Any, default: type) -> bool:
    """Whether ``cls`` is unset (None, Typer's default placeholder) or Typer's own ``default`` class."""
    return cls is None or cls is default or type(cls).__name__ == "DefaultPlaceholder"

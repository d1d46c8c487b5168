"""Options whose defaults and help come from a task's config dataclass, and small argument helpers.

A verb declares ``bptt: int = from_config(LanguageModelRecipe, "bptt")``: the default is the
dataclass field's, the help its ``metadata["help"]``, so a default is stated once, where the task
defines it, and ``--help`` always shows the value the library uses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import typer

from .._checks import MissingFileError, NotAFileError, NotAFolderError


def config_default(config_class: type, name: str) -> Any:
    """The default of the dataclass field ``name`` (a factory's value for a field with a factory)."""
    field = {f.name: f for f in dataclasses.fields(config_class)}[name]
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    raise LookupError(f"{config_class.__name__}.{name} has no default")


def from_config(config_class: type, name: str, *flags: str, help: Optional[str] = None, **kwargs) -> Any:
    """A ``typer.Option`` for the field ``name`` of ``config_class``: its default and its help."""
    field = {f.name: f for f in dataclasses.fields(config_class)}[name]
    text = help if help is not None else field.metadata.get("help")
    if text is None:
        raise LookupError(f"{config_class.__name__}.{name} has no help: give help= or field metadata")
    return typer.Option(
        config_default(config_class, name), *(flags or ("--" + name.replace("_", "-"),)), help=text, **kwargs
    )


def existing_file(path: Optional[Path], what: str) -> Optional[str]:
    """``path`` as a string if it is a file; a clear error if it is missing or a folder."""
    if path is None:
        return None
    if not path.exists():
        raise MissingFileError(f"{what} not found: {path}")
    if path.is_dir():
        raise NotAFileError(f"{what} is a folder, expected a file: {path}")
    return str(path)


def output_folder(path: Path, option: str = "--out") -> Path:
    """``path`` if it is a folder or does not exist yet; a clear error if it is a file."""
    if path.exists() and not path.is_dir():
        raise NotAFolderError(f"{option} {path} is a file; the run needs a folder (it is created if missing)")
    return path


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was given on the command line (not left at its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")

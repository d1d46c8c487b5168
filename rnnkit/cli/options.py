"""Options whose defaults and help come from a task's config dataclass, and small argument helpers.

A verb declares ``bptt: int = from_config(LanguageModelRecipe, "bptt")``: the default is the
dataclass field's, the help its ``metadata["help"]``, so a default is stated once, where the task
defines it, and ``--help`` always shows the value the library uses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import typer

from .._checks import (
    InvalidValueError,
    MissingFileError,
    NotAFileError,
    NotAFolderError,
    choice,
    in_range,
    non_negative_float,
    non_negative_int,
    positive_int,
)


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


# ---- one rule per option, the same on every verb ------------------------------------------------


def _fill(flag: str, value: object) -> object:
    from ..timeseries.frame import FILL_METHODS

    return choice(flag, value, FILL_METHODS)


def _freq(flag: str, value: object) -> object:
    from ..timeseries.frequency import date_offset

    text = str(value).strip()
    if not text.isdigit():
        try:
            date_offset(text)
        except InvalidValueError as err:
            raise InvalidValueError(f"{flag} {err}") from None
    elif int(text) < 1:
        raise InvalidValueError(f"{flag} as an int step must be >= 1, got {text}")
    return value


def _fraction(flag: str, value: object) -> float:
    return in_range(flag, value, 0.0, 1.0, low_open=True, high_open=True)


def _probability(flag: str, value: object) -> float:
    return in_range(flag, value, 0.0, 1.0, low_open=True)


# option name (the function parameter) -> its check, called with the flag as the name
OPTION_RULES: Dict[str, Callable[[str, object], object]] = {
    "seed": non_negative_int,
    "threads": positive_int,
    "horizon": positive_int,
    "stride": positive_int,
    "season_length": positive_int,
    "max_epochs": positive_int,
    "input_length": non_negative_int,
    "length": non_negative_int,
    "sample_length": non_negative_int,
    "top_k": positive_int,
    "top_p": _probability,
    "temperature": non_negative_float,
    "calibrate": _fraction,
    "fill": _fill,
    "freq": _freq,
}


def check_options(**values: object) -> None:
    """Check each given option (None: not given) by its rule in :data:`OPTION_RULES`; the error
    names the option as the user typed it (``--top-k must be an int >= 1, got 0``)."""
    for name, value in values.items():
        if value is not None:
            OPTION_RULES[name]("--" + name.replace("_", "-"), value)


def exclusive(**given: object) -> None:
    """Refuse two or more of the options ``given`` (name -> value; None or False: not given) together."""
    present = ["--" + name.replace("_", "-") for name, value in given.items() if value not in (None, False)]
    if len(present) > 1:
        raise InvalidValueError(f"{' and '.join(present)} exclude each other: give one of them")


def output_file(path: Optional[Path], option: str = "--out") -> Optional[Path]:
    """``path`` if a command may write its result there: not a folder, and not an existing file of a
    model folder (``--out RUN/model.safetensors`` would destroy the model)."""
    if path is None:
        return None
    if path.is_dir():
        raise NotAFileError(f"{option} {path} is a folder; give a file name for the output")
    if path.exists() and (path.parent / "config.json").is_file():
        raise InvalidValueError(
            f"{option} {path} would replace a file of the model folder {path.parent}: "
            "choose a new file name or a path outside the model folder"
        )
    return path

"""The one model format: every saved model is a folder, written and read here.

::

    DIR/
      config.json          {"model_type": "language_model", "format_version": 3,
                            "rnnkit_version": "0.2.0", "config": {...}, ...model-specific keys}
      model.safetensors    the weights (safetensors: no pickle, nothing runs on load)
      ...                  the model's own files (vocab.json, preprocessing.json, ...)

``config.json`` is written last, each file atomically, so a folder holding a ``config.json``
holds a complete model. :func:`load` reads ``model_type`` and returns the right model through
the table :data:`MODEL_TYPES` (a name -> ``"module:Class"``, imported only when needed, so this
module depends on no model).

Format versions. Version 3 is this layout, for every model kind. Folders written before it are
read too, recognised by their shape:

* the language model's first layout (no version): ``{"model_type": "rnnkit.LanguageModel",
  <config fields>}`` -- read as ``language_model`` version 1;
* the forecaster's versions 1 and 2: ``{"format": "rnnkit.forecaster", "version": 1 | 2,
  "config": {...}, "meta": {...}}`` -- read as ``forecaster`` version 1 or 2.

A model class reads its own config at any version (``from_folder``) and writes version 3.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Union

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from .._checks import FileFormatError, InvalidTypeError, MissingFileError, NotAFolderError
from .._version import __version__
from ..data.atomic import atomic_write

PathLike = Union[str, "os.PathLike[str]"]

FORMAT_VERSION = 3
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

# model_type -> "module:Class"; the class has ``from_folder(folder: ModelFolder, **kwargs)``
MODEL_TYPES: Dict[str, str] = {
    "language_model": "rnnkit.models.language_model:LanguageModel",
    "forecaster": "rnnkit.timeseries.forecaster:Forecaster",
}
# what a user calls each kind, and the command that writes it (for messages)
DESCRIPTIONS: Dict[str, str] = {
    "language_model": "a language model (written by `rnnkit train lm`)",
    "forecaster": "a forecaster (written by `rnnkit train forecast`)",
}


def register_model_type(name: str, target: str, description: Optional[str] = None) -> None:
    """Make ``rnnkit.load`` return ``target`` (``"package.module:Class"``) for folders of ``name``."""
    if ":" not in target:
        raise InvalidTypeError(f"target must be 'package.module:Class', got {target!r}")
    MODEL_TYPES[name] = target
    if description:
        DESCRIPTIONS[name] = description


def describe_type(name: str) -> str:
    return DESCRIPTIONS.get(name, f"a {name!r} model")


@dataclass
class ModelFolder:
    """A model folder as read from disk: its kind, format version, config and files."""

    path: Path
    model_type: str
    format_version: int
    config: Dict[str, Any]  # the model's own settings
    extra: Dict[str, Any] = field(default_factory=dict)  # other keys of config.json (e.g. "meta")

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    def file(self, name: str) -> Path:
        """The path of the model's file ``name``; :class:`MissingFileError` if it is not there."""
        path = self.path / name
        if not path.is_file():
            raise MissingFileError(f"{str(self.path)!r} is not a complete model folder: {name} is missing")
        return path

    def expect(self, expected: Union[str, Iterable[str]]) -> "ModelFolder":
        """This folder if it holds a model of the type(s) ``expected``; else :class:`FileFormatError`
        saying what it holds and what was expected."""
        allowed = (expected,) if isinstance(expected, str) else tuple(expected)
        if self.model_type not in allowed:
            wanted = " or ".join(describe_type(a) for a in allowed)
            raise FileFormatError(f"{str(self.path)!r} holds {describe_type(self.model_type)}, expected {wanted}")
        return self

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def read_json(self, name: str) -> Any:
        """The JSON document in the model's file ``name``; :class:`FileFormatError` naming it if unreadable."""
        return read_json_file(self.file(name))

    def tensors(self) -> Dict[str, torch.Tensor]:
        """The weights in ``model.safetensors``; :class:`FileFormatError` naming it if unreadable."""
        path = self.file(WEIGHTS_FILE)
        try:
            return load_safetensors(path.read_bytes())
        except (SafetensorError, RuntimeError, ValueError) as err:
            raise FileFormatError(
                f"{str(path)!r} is not a readable safetensors file (truncated or corrupt?): {err}"
            ) from None

    def load_state_dict(self, module: torch.nn.Module, tensors: Optional[Mapping[str, torch.Tensor]] = None) -> None:
        """Load the weights into ``module`` (strict); a mismatch is a :class:`FileFormatError`."""
        tensors = self.tensors() if tensors is None else tensors
        try:
            module.load_state_dict(tensors, strict=True)
        except (RuntimeError, TypeError, ValueError) as err:
            raise FileFormatError(
                f"{str(self.path / WEIGHTS_FILE)!r} does not match {str(self.config_path)!r}: "
                f"{' '.join(str(err).split())}"
            ) from None

    def bad_config(self, problem: str) -> FileFormatError:
        """An error naming ``config.json`` and what is wrong with it."""
        return FileFormatError(f"{str(self.config_path)!r}: {problem}")


def read_json_file(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FileFormatError(f"{str(path)!r} is not valid JSON: {err}") from None


def _recognise(raw: Any, path: Path) -> tuple:
    """``(model_type, format_version, config, extra)`` of a config.json document of any version."""
    if not isinstance(raw, dict):
        raise FileFormatError(
            f"{str(path)!r} must hold a JSON object describing the model, got a JSON {type(raw).__name__}"
        )
    if "format_version" in raw:  # version 3 and later
        version, kind, config = raw.get("format_version"), raw.get("model_type"), raw.get("config")
        if not isinstance(version, int) or isinstance(version, bool) or version < 3:
            raise FileFormatError(f"{str(path)!r}: format_version must be an int >= 3, got {version!r}")
        if version > FORMAT_VERSION:
            raise FileFormatError(
                f"{str(path)!r} has format_version {version}, newer than this rnnkit reads "
                f"({FORMAT_VERSION}): upgrade rnnkit"
            )
        if not isinstance(kind, str) or not isinstance(config, dict):
            raise FileFormatError(f"{str(path)!r} needs a 'model_type' string and a 'config' object")
        extra = {k: v for k, v in raw.items() if k not in ("model_type", "format_version", "config", "rnnkit_version")}
        return kind, version, config, extra
    if raw.get("model_type") == "rnnkit.LanguageModel":  # the language model's first layout
        return "language_model", 1, {k: v for k, v in raw.items() if k != "model_type"}, {}
    if raw.get("format") == "rnnkit.forecaster":  # the forecaster's versions 1 and 2
        version = raw.get("version")
        if version not in (1, 2) or not isinstance(raw.get("config"), dict) or not isinstance(raw.get("meta"), dict):
            raise FileFormatError(
                f"{str(path)!r} is not a readable forecaster file (format 'rnnkit.forecaster', "
                f"version {version!r}; versions 1 and 2 need 'config' and 'meta' objects)"
            )
        return "forecaster", version, raw["config"], {"meta": raw["meta"]}
    raise FileFormatError(f"{str(path)!r} does not describe a rnnkit model (no 'model_type' and 'format_version')")


def read_model(directory: PathLike, expected: Union[None, str, Iterable[str]] = None) -> ModelFolder:
    """Read the folder's ``config.json`` (any format version) and check its kind.

    ``expected``: the model type(s) the caller can use; another kind raises :class:`FileFormatError`
    saying what the folder holds. A missing folder or config raises :class:`MissingFileError`.
    """
    d = Path(os.fspath(directory))
    if not d.exists():
        raise MissingFileError(f"model folder {str(d)!r} does not exist")
    if not d.is_dir():
        raise NotAFolderError(f"{str(d)!r} is a file, not a model folder")
    config_path = d / CONFIG_FILE
    if not config_path.is_file():
        raise MissingFileError(f"{str(d)!r} is not a model folder: it holds no {CONFIG_FILE}")
    kind, version, config, extra = _recognise(read_json_file(config_path), config_path)
    folder = ModelFolder(d, kind, version, config, extra)
    return folder if expected is None else folder.expect(expected)


def save_model(
    directory: PathLike,
    model_type: str,
    config: Mapping[str, Any],
    tensors: Mapping[str, torch.Tensor],
    *,
    files: Optional[Mapping[str, Union[str, bytes]]] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> Path:
    """Write a model folder: the model's ``files`` and ``model.safetensors`` first, ``config.json`` last.

    ``config`` is the model's settings (JSON-serialisable); ``extra`` more top-level keys of
    ``config.json``; ``files`` maps a file name to its contents.
    """
    d = Path(os.fspath(directory))
    if d.exists() and not d.is_dir():
        raise NotAFolderError(f"cannot save a model into {str(d)!r}: it is a file, and a model needs a folder")
    d.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    for name, content in (files or {}).items():
        atomic_write(d / name, content)
    atomic_write(
        d / WEIGHTS_FILE,
        save_safetensors(
            weights, metadata={"format": "pt", "model_type": model_type, "format_version": str(FORMAT_VERSION)}
        ),
    )
    doc = {
        "model_type": model_type,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        "config": dict(config),
        **dict(extra or {}),
    }
    atomic_write(d / CONFIG_FILE, json.dumps(doc, indent=2) + "\n")
    return d


def model_class(model_type: str):
    """The class that loads folders of ``model_type`` (imported on first use)."""
    target = MODEL_TYPES.get(model_type)
    if target is None:
        raise FileFormatError(f"unknown model_type {model_type!r}; this rnnkit loads {sorted(MODEL_TYPES)}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def load(directory: PathLike, **kwargs):
    """Load any model saved by rnnkit: ``rnnkit.load("runs/lm")`` returns a ``LanguageModel``,
    ``rnnkit.load("runs/forecast")`` a ``Forecaster``, and so on for every model kind.

    ``kwargs`` go to the class's loader (e.g. ``map_location="cuda"`` for a language model).
    """
    folder = read_model(directory)
    return model_class(folder.model_type).from_folder(folder, **kwargs)

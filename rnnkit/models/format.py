"""The one model format: every saved model is a folder, written and read here.

::

    DIR/
      config.json          {"model_type": "language_model", "format_version": 3,
                            "rnnkit_version": "0.2.0", "config": {...}, "files": [...],
                            ...model-specific keys}
      model.safetensors    the weights (safetensors: no pickle, nothing runs on load)
      ...                  the model's own files (vocab.json, preprocessing.json, ...), listed in
                           config.json's "files"; anything else in DIR (logs, checkpoints, plots
                           of a run folder) is not the model's and is left alone

:func:`load` reads ``model_type`` and returns the right model through the table
:data:`MODEL_TYPES` (a name -> ``"module:Class"``, imported only when needed, so this module
depends on no model).

Saving is atomic for the whole set of files. A model saved over another one in the same folder
(a run folder re-saved with another model) must never leave the new weights beside the old
config, whatever moment the process dies at (kill -9, power cut). :func:`save_model` therefore

1. finishes a save that an earlier process left half done (step 4 below), and deletes a stale
   ``DIR/.rnnkit-staging/``;
2. writes every file of the model, and a manifest (the files to delete: the previous model's own
   files that the new one does not have), into ``DIR/.rnnkit-staging/``, each fsynced, then the
   folder itself;
3. renames ``.rnnkit-staging/`` to ``DIR/.rnnkit-commit/`` and fsyncs ``DIR``: **the commit**. Before
   it the folder holds the old model, after it the new one;
4. moves each file from ``.rnnkit-commit/`` over its name in ``DIR`` with ``os.replace``
   (``config.json`` last), deletes the files the manifest lists, and removes ``.rnnkit-commit/``.

Readers (:func:`read_model`, :meth:`ModelFolder.file` and everything built on it) read a file from
``.rnnkit-commit/`` when it is there, and treat the files the manifest deletes as absent: while a
commit is pending they see the new model, complete (the roll-forward, done read-only: a reader
never changes the folder). They never look into ``.rnnkit-staging/``. The next save completes the
pending commit first. Two processes saving into one folder at the same time are not supported.

Loading turns every kind of damage into a :class:`~rnnkit._checks.FileFormatError` (or
:class:`~rnnkit._checks.MissingFileError`) naming the file: missing, empty, truncated, not JSON, a
pickle or zip archive (named as such and never unpickled), JSON of the wrong shape, a field of the
wrong type or range, weights that do not fit the config (the tensor named, with both shapes),
non-finite weights, a ``format_version`` from the future. A model is first built on PyTorch's
``meta`` device (no memory) and its tensor shapes compared with the file's, so a config with
absurd sizes is refused before anything is allocated (:meth:`ModelFolder.build`).

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
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Set, Union

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch.overrides import TorchFunctionMode

from .._checks import (
    FileFormatError,
    InvalidTypeError,
    InvalidValueError,
    MissingFileError,
    NotAFileError,
    NotAFolderError,
    UserError,
)
from .._version import __version__
from ..data.atomic import fsync_dir, write_synced
from ..data.vocab import foreign_content

PathLike = Union[str, "os.PathLike[str]"]

FORMAT_VERSION = 3
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STAGING_DIR = ".rnnkit-staging"  # a save being written; ignored by readers, cleared by the next save
COMMIT_DIR = ".rnnkit-commit"  # a complete save being moved into place; readers prefer its files
MANIFEST_FILE = ".manifest.json"  # in the commit folder: {"files": [...], "remove": [...]}

# model_type -> "module:Class"; the class has ``from_folder(folder: ModelFolder, **kwargs)``
MODEL_TYPES: Dict[str, str] = {
    "language_model": "rnnkit.models.language_model:LanguageModel",
    "forecaster": "rnnkit.timeseries.forecaster:Forecaster",
    "sequence_classifier": "rnnkit.models.classifier:SequenceClassifier",
    "sequence_tagger": "rnnkit.models.tagger:SequenceTagger",
    "seq2seq": "rnnkit.models.seq2seq.model:Seq2Seq",
}
# what a user calls each kind, and the command that writes it (for messages)
DESCRIPTIONS: Dict[str, str] = {
    "language_model": "a language model (written by `rnnkit train lm`)",
    "forecaster": "a forecaster (written by `rnnkit train forecast`)",
    "sequence_classifier": "a sequence classifier (written by `rnnkit train classify`)",
    "sequence_tagger": "a sequence tagger (written by `rnnkit train tag`)",
    "seq2seq": "an encoder-decoder (written by `rnnkit train seq2seq`)",
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


# ---- where a model's file is read from -------------------------------------------------------


def _plain_name(name: object) -> bool:
    """A file name of the folder itself: no path, not hidden (hidden names are the format's own)."""
    return isinstance(name, str) and bool(name) and name == os.path.basename(name) and not name.startswith(".")


def _manifest(commit: Path) -> Dict[str, List[str]]:
    """The pending commit's manifest; empty lists where it is gone (the last step of a commit)."""
    try:
        doc = json.loads((commit / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    lists = {key: doc.get(key) if isinstance(doc.get(key), list) else [] for key in ("files", "remove")}
    return {key: [n for n in names if _plain_name(n)] for key, names in lists.items()}


def has_model(directory: PathLike) -> bool:
    """Whether ``directory`` holds a saved model (a ``config.json``, maybe in a pending commit): what
    to test before writing into a folder, rather than ``(directory / "config.json").exists()``."""
    path = model_file(directory, CONFIG_FILE)
    return path is not None and path.is_file()


def model_file(directory: PathLike, name: str) -> Optional[Path]:
    """Where the model file ``name`` of ``directory`` is read from: the pending commit's copy if
    there is one, the folder's own otherwise; None if a pending commit deletes it."""
    d = Path(os.fspath(directory))
    commit = d / COMMIT_DIR
    if commit.is_dir():
        if (commit / name).is_file():
            return commit / name
        if name in _manifest(commit)["remove"]:
            return None
    return d / name


# ---- reading files ----------------------------------------------------------------------------


def _not_what(path: Path, data: bytes, expected: str, detail: str) -> FileFormatError:
    """The error for a file that does not parse as ``expected``: a pickle or zip archive is named as
    such (it is never unpickled), an empty file as empty, anything else with the parser's ``detail``."""
    kind = foreign_content(data)
    if kind is not None and kind != "is empty":
        return FileFormatError(
            f"{str(path)!r} {kind}, not {expected}: rnnkit never unpickles a file (a pickle can run any code)"
        )
    return FileFormatError(f"{str(path)!r} {detail}" + (": the file is empty" if kind else ""))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise MissingFileError(f"{str(path)!r} does not exist") from None
    except OSError as err:
        raise FileFormatError(f"{str(path)!r} cannot be read: {err.strerror or err}") from None


def read_json_file(path: PathLike) -> Any:
    """The JSON document in ``path``; :class:`FileFormatError` naming the file if it is not one."""
    path = Path(os.fspath(path))
    data = _read_bytes(path)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        detail = f"is not valid JSON: not UTF-8 text ({err.reason} at byte {err.start})"
    except RecursionError:
        detail = "is not valid JSON for rnnkit: it is nested too deeply"
    except ValueError as err:  # JSONDecodeError, and numbers of more digits than Python converts
        detail = f"is not valid JSON: {err}"
    raise _not_what(path, data, "JSON", detail)


def read_safetensors(path: PathLike) -> Dict[str, torch.Tensor]:
    """The tensors in a safetensors file; :class:`FileFormatError` naming it if it is not one."""
    path = Path(os.fspath(path))
    data = _read_bytes(path)
    try:
        return load_safetensors(data)
    except (SafetensorError, RuntimeError, ValueError, TypeError, OverflowError) as err:
        detail = f"is not a readable safetensors file (truncated or corrupt?): {err}"
    raise _not_what(path, data, "safetensors", detail)


# ---- a model folder as read ------------------------------------------------------------------


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
        return model_file(self.path, CONFIG_FILE) or self.path / CONFIG_FILE

    def file(self, name: str) -> Path:
        """The path of the model's file ``name`` (in a pending commit if there is one, see the module
        docstring); :class:`MissingFileError` if it is not there."""
        path = model_file(self.path, name)
        if path is None or not path.is_file():
            raise MissingFileError(f"{str(self.path)!r} is not a complete model folder: {name} is missing")
        return path

    def expect(self, expected: Union[str, Iterable[str]]) -> "ModelFolder":
        """This folder if it holds a model of the type(s) ``expected``; else :class:`FileFormatError`
        saying what it holds and what was expected."""
        allowed = (expected,) if isinstance(expected, str) else tuple(expected)
        if self.model_type not in allowed:
            wanted = " or ".join(describe_type(a) for a in allowed)
            raise FileFormatError(
                f"{str(self.path)!r} holds {describe_type(self.model_type)}, expected {wanted} "
                f"(model_type {self.model_type!r:.60} in {CONFIG_FILE})"
            )
        return self

    def has(self, name: str) -> bool:
        path = model_file(self.path, name)
        return path is not None and path.is_file()

    def read_json(self, name: str) -> Any:
        """The JSON document in the model's file ``name``; :class:`FileFormatError` naming it if unreadable."""
        return read_json_file(self.file(name))

    def tensors(self) -> Dict[str, torch.Tensor]:
        """The weights in ``model.safetensors``; :class:`FileFormatError` naming it if unreadable."""
        return read_safetensors(self.file(WEIGHTS_FILE))

    def bad_config(self, problem: str) -> FileFormatError:
        """An error naming ``config.json`` and what is wrong with it."""
        return FileFormatError(f"{str(self.config_path)!r}: {problem}")

    # ---- weights against the config -------------------------------------------------------------
    def _mismatch(self, problem: str) -> FileFormatError:
        return FileFormatError(f"{str(self.path / WEIGHTS_FILE)!r} does not match {str(self.config_path)!r}: {problem}")

    def check_count(self, name: str, value: int, tensors: Mapping[str, torch.Tensor]) -> None:
        """Refuse a config count (``num_layers``) that the weights cannot hold: every counted part has
        at least one tensor. Checked before a model is built, since each part costs time even on the
        meta device."""
        if value > len(tensors):
            raise self._mismatch(f"{name}={value}, but the weights file holds only {len(tensors)} tensors in all")

    def check_weights(self, expected: Mapping[str, torch.Tensor], tensors: Mapping[str, torch.Tensor]) -> None:
        """Check ``tensors`` (from the file) against the state dict ``expected`` of the model the config
        describes: the same names, each with the same shape, floating where the model's is, finite."""
        missing = [k for k in expected if k not in tensors]
        unexpected = [k for k in tensors if k not in expected]
        if missing or unexpected:
            parts = [f"the weights file lacks the tensors {missing}"] if missing else []
            parts += [f"it holds the tensors {unexpected}, which the model the config describes has not"] * bool(
                unexpected
            )
            raise self._mismatch("; ".join(parts))
        for key, want in expected.items():
            got = tensors[key]
            if tuple(got.shape) != tuple(want.shape):
                others = sum(tuple(tensors[k].shape) != tuple(v.shape) for k, v in expected.items()) - 1
                more = f" (and {others} more tensors differ)" if others else ""
                raise self._mismatch(
                    f"size mismatch for tensor {key!r}: shape {tuple(got.shape)} in the weights file, "
                    f"{tuple(want.shape)} in the model the config describes{more}"
                )
            if want.is_floating_point() and not got.is_floating_point():
                raise self._mismatch(f"tensor {key!r} has dtype {got.dtype} in the weights file, expected floats")
        for key, got in tensors.items():
            if got.is_floating_point() and not _all_finite(got):
                raise FileFormatError(
                    f"{str(self.path / WEIGHTS_FILE)!r}: tensor {key!r} holds values that are not finite "
                    "(NaN or infinite): a model cannot compute with them"
                )

    def build(
        self, factory: Callable[[], torch.nn.Module], tensors: Optional[Mapping[str, torch.Tensor]] = None
    ) -> torch.nn.Module:
        """The module ``factory()`` builds from the config, holding the folder's weights (``tensors``,
        default: read from ``model.safetensors``).

        The module is first built on the ``meta`` device (shapes only, no memory) and checked against
        the weights (:meth:`check_weights`), so a config that describes another or an absurdly large
        model is refused, naming the tensor and both shapes, before anything is allocated. A config
        the factory refuses, or that cannot be built at all, is a :class:`FileFormatError` naming
        ``config.json``.
        """
        tensors = self.tensors() if tensors is None else tensors
        try:
            with torch.device("meta"), _SkipRandomInit():
                skeleton = factory()
        except (UserError, RuntimeError, ValueError, TypeError, OverflowError, MemoryError) as err:
            raise self.bad_config(f"describes a model that cannot be built: {err}") from None
        self.check_weights(skeleton.state_dict(), tensors)
        module = factory()
        self.load_state_dict(module, tensors)
        return module

    def load_state_dict(self, module: torch.nn.Module, tensors: Optional[Mapping[str, torch.Tensor]] = None) -> None:
        """Load the weights into ``module`` (strict, checked first by :meth:`check_weights`)."""
        tensors = self.tensors() if tensors is None else tensors
        self.check_weights(module.state_dict(), tensors)
        try:
            module.load_state_dict(tensors, strict=True)
        except (RuntimeError, TypeError, ValueError) as err:
            raise self._mismatch(" ".join(str(err).split())) from None


class _SkipRandomInit(TorchFunctionMode):
    """Random initialisation is skipped on meta tensors while a model is built for its shapes: there
    is nothing to fill, and torch runs ``normal_`` on meta through a Python reference that imports
    ``torch._dynamo`` (seconds, once per process)."""

    SKIPPED = frozenset(
        {torch.Tensor.normal_, torch.Tensor.uniform_, torch.nn.init.normal_, torch.nn.init.uniform_}
        | {torch.nn.init.trunc_normal_, torch.nn.init.kaiming_uniform_, torch.nn.init.kaiming_normal_}
        | {torch.nn.init.xavier_uniform_, torch.nn.init.xavier_normal_, torch.nn.init.orthogonal_}
    )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        target = args[0] if args else kwargs.get("tensor")
        if func in self.SKIPPED and isinstance(target, torch.Tensor) and target.is_meta:
            return target
        return func(*args, **kwargs)


def _all_finite(t: torch.Tensor) -> bool:
    try:
        return bool(torch.isfinite(t).all())
    except (RuntimeError, TypeError):  # dtypes isfinite does not take (float8)
        return bool(torch.isfinite(t.float()).all())


def _recognise(raw: Any, path: Path) -> tuple:
    """``(model_type, format_version, config, extra)`` of a config.json document of any version."""
    if not isinstance(raw, dict):
        raise FileFormatError(
            f"{str(path)!r} must hold a JSON object describing the model, got a JSON {_json_kind(raw)}"
        )
    if "format_version" in raw:  # version 3 and later
        version, kind, config = raw.get("format_version"), raw.get("model_type"), raw.get("config")
        if not isinstance(version, int) or isinstance(version, bool) or version < 3:
            raise FileFormatError(f"{str(path)!r}: format_version must be an int >= 3, got {version!r:.40}")
        if version > FORMAT_VERSION:
            raise FileFormatError(
                f"{str(path)!r} has format_version {version}, newer than this rnnkit reads "
                f"({FORMAT_VERSION}): upgrade rnnkit"
            )
        if not isinstance(kind, str) or not isinstance(config, dict):
            raise FileFormatError(f"{str(path)!r} needs a 'model_type' string and a 'config' object")
        own = ("model_type", "format_version", "config", "rnnkit_version", "files")
        extra = {k: v for k, v in raw.items() if k not in own}
        return kind, version, config, extra
    if raw.get("model_type") == "rnnkit.LanguageModel":  # the language model's first layout
        return "language_model", 1, {k: v for k, v in raw.items() if k != "model_type"}, {}
    if raw.get("format") == "rnnkit.forecaster":  # the forecaster's versions 1 and 2
        version = raw.get("version")
        if version not in (1, 2) or not isinstance(raw.get("config"), dict) or not isinstance(raw.get("meta"), dict):
            raise FileFormatError(
                f"{str(path)!r} is not a readable forecaster file (format 'rnnkit.forecaster', "
                f"version {version!r:.40}; versions 1 and 2 need 'config' and 'meta' objects)"
            )
        return "forecaster", version, raw["config"], {"meta": raw["meta"]}
    raise FileFormatError(f"{str(path)!r} does not describe a rnnkit model (no 'model_type' and 'format_version')")


def _json_kind(value: Any) -> str:
    names = {list: "list", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def read_model(directory: PathLike, expected: Union[None, str, Iterable[str]] = None) -> ModelFolder:
    """Read the folder's ``config.json`` (any format version) and check its kind.

    ``expected``: the model type(s) the caller can use; another kind raises :class:`FileFormatError`
    saying what the folder holds. A missing folder or config raises :class:`MissingFileError`. A save
    interrupted after its commit reads as the new model (see the module docstring).
    """
    d = Path(os.fspath(directory))
    if not d.exists():
        raise MissingFileError(f"model folder {str(d)!r} does not exist")
    if not d.is_dir():
        raise NotAFolderError(f"{str(d)!r} is a file, not a model folder")
    config_path = model_file(d, CONFIG_FILE)
    if config_path is None or not config_path.is_file():
        raise MissingFileError(f"{str(d)!r} is not a model folder: it holds no {CONFIG_FILE}")
    kind, version, config, extra = _recognise(read_json_file(config_path), config_path)
    folder = ModelFolder(d, kind, version, config, extra)
    return folder if expected is None else folder.expect(expected)


# ---- saving ------------------------------------------------------------------------------------


def save_model(
    directory: PathLike,
    model_type: str,
    config: Mapping[str, Any],
    tensors: Mapping[str, torch.Tensor],
    *,
    files: Optional[Mapping[str, Union[str, bytes]]] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> Path:
    """Write a model folder: ``config.json``, ``model.safetensors`` and the model's ``files``, as one
    atomic set (see the module docstring), replacing the model saved there before, if any, and
    leaving the folder's other files as they are.

    ``config`` is the model's settings (JSON-serialisable); ``extra`` more top-level keys of
    ``config.json``; ``files`` maps a file name (plain, not hidden) to its contents.
    """
    d = Path(os.fspath(directory))
    if d.exists() and not d.is_dir():
        raise NotAFolderError(f"cannot save a model into {str(d)!r}: it is a file, and a model needs a folder")
    own = dict(files or {})
    for name, content in own.items():
        if not _plain_name(name) or name in (CONFIG_FILE, WEIGHTS_FILE):
            raise InvalidValueError(
                f"a model's file needs a plain name (no folder, not hidden, not {CONFIG_FILE} or "
                f"{WEIGHTS_FILE}), got {name!r}"
            )
        if not isinstance(content, (str, bytes)):
            raise InvalidTypeError(f"the content of {name} must be str or bytes, got {type(content).__name__}")
    taken = sorted(set(extra or {}) & {"model_type", "format_version", "rnnkit_version", "config", "files"})
    if taken:
        raise InvalidValueError(f"extra cannot set the format's own keys of {CONFIG_FILE}: {taken}")
    # everything is encoded before the folder is touched: a refused save changes nothing
    contents: Dict[str, bytes] = {n: c.encode("utf-8") if isinstance(c, str) else c for n, c in own.items()}
    weights = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    contents[WEIGHTS_FILE] = save_safetensors(
        weights, metadata={"format": "pt", "model_type": model_type, "format_version": str(FORMAT_VERSION)}
    )
    doc = {
        "model_type": model_type,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        "config": dict(config),
        "files": sorted(own),
        **dict(extra or {}),
    }
    contents[CONFIG_FILE] = (json.dumps(doc, indent=2) + "\n").encode("utf-8")
    for name in contents:
        if (d / name).is_dir():
            raise NotAFileError(f"cannot save the model's {name} into {str(d)!r}: a folder of that name is there")

    d.mkdir(parents=True, exist_ok=True)
    finish_pending_save(d)
    remove = sorted(_files_of_saved_model(d) - set(contents))
    staging = d / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name, data in contents.items():
            write_synced(staging / name, data)
        write_synced(staging / MANIFEST_FILE, json.dumps({"files": sorted(contents), "remove": remove}).encode())
        fsync_dir(staging)
    except BaseException:  # e.g. a full disk: the old model stays, and so should no half-written copy
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.rename(staging, d / COMMIT_DIR)  # the commit: from here on the folder holds the new model
    fsync_dir(d)
    finish_pending_save(d)
    return d


def _files_of_saved_model(d: Path) -> Set[str]:
    """The own files (config.json's ``"files"``) of the model saved in ``d``; empty if none can be read."""
    try:
        listed = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError, RecursionError):
        return set()
    return {n for n in listed if _plain_name(n)} if isinstance(listed, list) else set()


def finish_pending_save(directory: PathLike) -> None:
    """Complete a save whose commit is done (``.rnnkit-commit/`` exists): move its files into place,
    ``config.json`` last, delete the files its manifest lists, remove the commit folder. A no-op
    where no commit is pending; safe to repeat after a crash at any point."""
    d = Path(os.fspath(directory))
    commit = d / COMMIT_DIR
    if not commit.is_dir():
        return
    manifest = _manifest(commit)
    names = sorted(
        (p.name for p in commit.iterdir() if p.is_file() and _plain_name(p.name)), key=lambda n: n == CONFIG_FILE
    )
    for name in names:
        os.replace(commit / name, d / name)
    fsync_dir(d)
    for name in manifest["remove"]:
        if name not in manifest["files"] and (d / name).is_file():
            os.unlink(d / name)
    fsync_dir(d)
    shutil.rmtree(commit)
    fsync_dir(d)


# ---- loading any model ---------------------------------------------------------------------------


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
    if folder.model_type not in MODEL_TYPES:
        raise folder.bad_config(
            f"unknown model_type {folder.model_type!r:.60}; this rnnkit loads {sorted(MODEL_TYPES)}"
        )
    return model_class(folder.model_type).from_folder(folder, **kwargs)

"""Checkpoints: atomic writes, safetensors for tensors, JSON for the rest; nothing is ever unpickled.

A checkpoint is a folder::

    last/
      config.json                  the model's config, when the model offers one (from_pretrained reads it)
      model.safetensors            the weights (the model folder convention)
      training_state.safetensors   every tensor of the training state (optimizer moments, RNG states,
                                   the data sampler's generator, the carried TBPTT state)
      training_state.json          everything else (step, epoch, data cursor, scheduler, python and
                                   numpy RNG, the TrainConfig), with references into the tensor file

Atomicity: the files are written into a hidden temporary folder next to the final one, each flushed
and fsync'ed; the folder is then renamed into place (the old one is first renamed aside and deleted
after). A crash at any point leaves either the old checkpoint or the new one under the final name,
never a mixture or a partial file; if it falls between the two renames, :func:`find_checkpoint`
picks the set-aside old folder. Single files go through :func:`atomic_write_bytes` (temporary file
in the same folder, flush, fsync, rename).

Loading uses ``safetensors`` and ``json`` only. A file that is not what it claims (e.g. a pickle put
where the training state belongs) is refused with a :class:`CheckpointError` (a ``ValueError``) before
any of it runs. A damaged or truncated file raises a ``CheckpointError`` naming it, saying what to do
and which intact checkpoint next to it (``best/``, ``last/``, or a copy set aside by an interrupted
save) could be used instead.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import load_model, save, save_model
from torch import Tensor, nn

from .._checks import FileFormatError, InvalidValueError
from ..data.atomic import atomic_write, fsync_dir, write_synced

PathLike = Union[str, Path]
FORMAT_VERSION = 1
MODEL_FILE, CONFIG_FILE = "model.safetensors", "config.json"
STATE_TENSORS, STATE_JSON = "training_state.safetensors", "training_state.json"

__all__ = [
    "atomic_write_bytes",
    "save_checkpoint",
    "load_model_weights",
    "load_training_state",
    "find_checkpoint",
    "capture_rng",
    "restore_rng",
    "encode_tree",
    "decode_tree",
    "CheckpointError",
]


class CheckpointError(FileFormatError):
    """A checkpoint is missing, damaged, or not in our safe format."""


# ---- atomic files ----------------------------------------------------------------------------

_fsync_dir = fsync_dir
_write_synced = write_synced
atomic_write_bytes = atomic_write  # the one atomic writer of the package (rnnkit.data.atomic)


# ---- JSON + tensors trees --------------------------------------------------------------------


def encode_tree(obj: Any, tensors: Dict[str, Tensor], path: str = "") -> Any:
    """A JSON-able copy of ``obj``; tensors go into ``tensors`` and are referenced by key.

    Keeps what plain JSON would lose: tuples, non-string dict keys, numpy arrays, tensors.
    """
    if isinstance(obj, Tensor):
        key = path or "root"
        tensors[key] = obj.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_tree(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode_tree(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_tree(v, tensors, f"{path}.{k}") for k, v in obj.items()}
        return {
            "__dict__": [
                [encode_tree(k, tensors, f"{path}.key{i}"), encode_tree(v, tensors, f"{path}.{k}")]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint (at {path or 'the root'}): {obj!r:.80}")


def decode_tree(obj: Any, tensors: Dict[str, Tensor]) -> Any:
    """The inverse of :func:`encode_tree`."""
    if isinstance(obj, list):
        return [decode_tree(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            key = obj["__tensor__"]
            if key not in tensors:
                raise CheckpointError(f"the training state refers to tensor {key!r}, missing from {STATE_TENSORS}")
            return tensors[key]
        if "__ndarray__" in obj:
            return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
        if "__tuple__" in obj:
            return tuple(decode_tree(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {_hashable(decode_tree(k, tensors)): decode_tree(v, tensors) for k, v in obj["__dict__"]}
        return {k: decode_tree(v, tensors) for k, v in obj.items()}
    return obj


def _hashable(k: Any) -> Any:
    return tuple(_hashable(v) for v in k) if isinstance(k, (list, tuple)) else k


# ---- RNG -------------------------------------------------------------------------------------


def capture_rng() -> Dict[str, Any]:
    """The states of python's, numpy's and torch's (CPU and every CUDA device's) global generators."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Dict[str, Any]) -> None:
    random.setstate(_lists_to_tuples(state["python"]))
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _lists_to_tuples(v: Any) -> Any:
    return tuple(_lists_to_tuples(x) for x in v) if isinstance(v, (list, tuple)) else v


# ---- checkpoints -----------------------------------------------------------------------------


def model_config_dict(model: nn.Module) -> Optional[Dict[str, Any]]:
    """The model's config as a dict, if it offers one (``get_config()`` or a dataclass ``config``)."""
    if hasattr(model, "get_config") and callable(model.get_config):
        cfg = model.get_config()
        return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)
    cfg = getattr(model, "config", None)
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return dataclasses.asdict(cfg)
    return None


def save_checkpoint(folder: PathLike, model: nn.Module, training_state: Optional[Dict[str, Any]] = None) -> Path:
    """Write a checkpoint folder atomically (see the module docstring); returns its path.

    Refuses (``ValueError``) a model with a non-finite parameter, so a diverged model never replaces
    a good checkpoint.
    """
    folder = Path(folder)
    for name, p in model.state_dict().items():
        if p.is_floating_point() and not bool(torch.isfinite(p).all()):
            raise InvalidValueError(f"refusing to write a checkpoint to {folder}: parameter {name!r} is not finite")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        save_model(model, str(tmp / MODEL_FILE))
        _fsync_file(tmp / MODEL_FILE)
        cfg = model_config_dict(model)
        if cfg is not None:
            _write_synced(tmp / CONFIG_FILE, json.dumps(cfg, indent=2, sort_keys=True).encode())
        if training_state is not None:
            tensors: Dict[str, Tensor] = {}
            tree = {"format": FORMAT_VERSION, "state": encode_tree(training_state, tensors)}
            _write_synced(tmp / STATE_TENSORS, save(tensors))
            _write_synced(tmp / STATE_JSON, json.dumps(tree).encode())
        _fsync_dir(tmp)
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            os.rename(folder, old)
        os.rename(tmp, folder)
        _fsync_dir(folder.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def find_checkpoint(folder: PathLike) -> Optional[Path]:
    """``folder`` if it exists; else an old copy set aside by an interrupted save; else None."""
    folder = Path(folder)
    if folder.is_dir():
        return folder
    olds = sorted(folder.parent.glob(f".{folder.name}.old-*"), key=lambda p: p.stat().st_mtime)
    return olds[-1] if olds else None


def load_model_weights(folder: PathLike, model: nn.Module, strict: bool = True) -> None:
    """Load ``model.safetensors`` from a checkpoint folder into ``model``."""
    path = Path(folder) / MODEL_FILE
    if not path.is_file():
        raise CheckpointError(f"no weights at {path}")
    _refuse_pickle(path)
    try:
        load_model(model, str(path), strict=strict)
    except Exception as err:  # safetensors raises its own SafetensorError for a damaged file
        if type(err).__name__ == "SafetensorError":
            raise _damaged(path, str(err)) from None
        raise  # e.g. the weights do not fit this model: torch's message says which


def load_training_state(folder: PathLike) -> Dict[str, Any]:
    """Read the training state of a checkpoint folder (safetensors + JSON; never unpickles)."""
    folder = Path(folder)
    tpath, jpath = folder / STATE_TENSORS, folder / STATE_JSON
    for p in (tpath, jpath):
        if not p.is_file():
            raise CheckpointError(f"no training state at {p}: is {folder} a checkpoint written by rnnkit's Trainer?")
        _refuse_pickle(p)
    try:
        tensors = st_load(tpath.read_bytes())
    except Exception as err:  # safetensors raises its own error type
        raise _damaged(tpath, f"not a valid safetensors file: {err}") from None
    try:
        tree = json.loads(jpath.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _damaged(jpath, f"not valid JSON: {err}") from None
    if not isinstance(tree, dict) or tree.get("format") != FORMAT_VERSION or "state" not in tree:
        raise CheckpointError(f"{jpath} is not a training state of format {FORMAT_VERSION}")
    return decode_tree(tree["state"], tensors)


def _refuse_pickle(path: Path) -> None:
    """Check a file's framing before any parser sees it; name pickles and torch.save archives."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    if path.suffix == ".json":
        ok = head.lstrip()[:1] == b"{"
    else:  # safetensors: 8-byte little-endian header length, then a JSON header
        n = int.from_bytes(head[:8], "little") if len(head) >= 8 else -1
        ok = len(head) == 9 and 0 < n <= size - 8 and head[8:9] == b"{"
    if ok:
        return
    if head[:1] == b"\x80" or head[:2] == b"PK":
        raise CheckpointError(
            f"{path} looks like a pickle or torch.save archive, not a safetensors/JSON file; rnnkit never "
            "unpickles checkpoint files (pickle can run arbitrary code), so it refuses to load it"
        )
    kind = "JSON" if path.suffix == ".json" else "safetensors"
    raise _damaged(path, f"not a valid {kind} file: its header is incomplete or missing")


# ---- damaged files ---------------------------------------------------------------------------


def _weights_whole(path: Path) -> bool:
    """Whether a safetensors file is complete: its header parses and its tensors cover the file exactly."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n <= size - 8:
                return False
            header = json.loads(f.read(n))
        ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
        return 8 + n + max(ends, default=0) == size
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return False


def intact_checkpoints_beside(folder: PathLike) -> List[Path]:
    """Checkpoints next to ``folder`` whose weights are whole: ``best/`` or ``last/``, and set-aside copies."""
    folder = Path(folder)
    parent = folder.parent
    candidates = [parent / name for name in ("best", "last")]
    for name in ("last", "best"):
        candidates += sorted(parent.glob(f".{name}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [c for c in candidates if c != folder and c.is_dir() and _weights_whole(c / MODEL_FILE)]


def _damaged(path: Path, detail: str) -> CheckpointError:
    folder = path.parent
    good = intact_checkpoints_beside(folder)
    if good:
        notes = []
        if any(g.name == "best" for g in good):
            notes.append("best/ holds the best validated weights, not an exact resume point")
        if any(g.name == "last" for g in good):
            notes.append("last/ is the latest training checkpoint")
        if any(g.name.startswith(".") for g in good):
            notes.append(
                f"a hidden .old- folder is the checkpoint from before an interrupted save: rename it to "
                f"{folder.name}/ to resume from there"
            )
        hint = f"Intact checkpoints next to it: {', '.join(str(g) for g in good)} ({'; '.join(notes)}). Or "
    else:
        hint = "No intact checkpoint was found next to it; "
    return CheckpointError(
        f"{path} is damaged or truncated ({detail}), so it cannot be loaded (was the disk full, or the copy cut "
        f"short?). {hint}delete {folder} to start a fresh run."
    )

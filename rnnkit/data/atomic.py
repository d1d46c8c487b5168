"""Atomic file writes: a reader sees the old file or the new one, never half of either.

The data is written to a temporary file in the same folder, flushed and fsynced, renamed over the
final name with ``os.replace`` (atomic on POSIX and Windows), and the folder is fsynced so the
rename itself survives a power cut. Every file rnnkit saves (weights, configs, vocabularies, logs,
forecasts, checkpoint parts) goes through :func:`atomic_write`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Union

from .._checks import InvalidTypeError, NotAFileError

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["atomic_write", "fsync_dir", "write_synced"]


def fsync_dir(path: PathLike) -> None:
    """fsync a folder, so renames and new entries in it are on disk (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_synced(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` (not atomically) and fsync it: for files inside a temporary folder
    that is itself renamed into place."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write(path: PathLike, data: Union[bytes, str]) -> None:
    """Write ``data`` (``str`` is encoded as UTF-8) to ``path`` atomically (see the module docstring)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidTypeError(f"data must be bytes or str, got {type(data).__name__}")
    p = Path(os.fspath(path))
    if p.is_dir():
        raise NotAFileError(f"cannot write a file over the folder {str(p)!r}")
    folder = p.parent if str(p.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes 0600; a saved model should be readable like any file
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(folder)

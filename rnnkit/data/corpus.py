"""Corpora: read a text file with clear errors, the default corpus, the train/validation split.

* :func:`read_text` -- a UTF-8 text file as a ``str``; a missing path, a folder, an empty file, a
  binary file (NUL bytes) or bytes that are not UTF-8 raise an error naming the path.
* :func:`default_corpus` -- the help text of the Python reference manual (``pydoc_data.topics``),
  which ships with every Python, so a language model can be trained with no download.
* :func:`split_train_val` -- the last ``val_fraction`` of a text or id sequence is the validation
  part, as nanoGPT splits tinyshakespeare (first 90% train, last 10% validation).
* :func:`atomic_write` -- write a file so that a reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence, Tuple, TypeVar, Union

from .._checks import FileFormatError, InvalidTypeError, InvalidValueError, MissingFileError, NotAFileError
from .atomic import atomic_write  # noqa: F401  (re-exported: rnnkit.data.corpus.atomic_write)

PathLike = Union[str, "os.PathLike[str]"]
S = TypeVar("S", bound=Sequence)


def read_text(path: PathLike) -> str:
    """Read ``path`` as UTF-8 text (a leading byte-order mark is dropped; ``\\r\\n`` and ``\\r``
    become ``\\n``).

    Raises:
        MissingFileError: the path does not exist (a ``FileNotFoundError``).
        NotAFileError: the path is a folder (an ``IsADirectoryError``).
        FileFormatError: the file is empty or only whitespace, contains NUL bytes (binary), or is
            not valid UTF-8 (the message gives the byte offset); a ``ValueError``.
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise MissingFileError(f"text file {str(p)!r} does not exist")
    if p.is_dir():
        raise NotAFileError(f"expected a text file, got the folder {str(p)!r}")
    data = p.read_bytes()
    if not data:
        raise FileFormatError(f"text file {str(p)!r} is empty (0 bytes); a corpus needs text")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise FileFormatError(
            f"file {str(p)!r} is not text: it contains a NUL byte at offset {nul} (a binary file?); expected UTF-8 text"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FileFormatError(
            f"file {str(p)!r} is not valid UTF-8: byte {data[err.start]:#04x} at offset {err.start} "
            f"({err.reason}); convert it to UTF-8 first"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise FileFormatError(f"text file {str(p)!r} contains only whitespace ({len(data)} bytes); a corpus needs text")
    return text


def default_corpus() -> str:
    """The default corpus: every topic of ``pydoc_data.topics`` (Python's reference manual help
    text, about 465 KB of English prose and code), joined in sorted key order with a blank line
    between topics, so it is the same string on every run of the same Python."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key].strip("\n") for key in sorted(topics)) + "\n"


def split_train_val(data: S, val_fraction: float = 0.1) -> Tuple[S, S]:
    """Split a text, list or 1-D tensor into ``(train, validation)``: the last ``val_fraction``.

    The cut is at ``int(len(data) * (1 - val_fraction))`` (nanoGPT's rule). ``val_fraction=0``
    gives an empty validation part. Both parts must be non-empty otherwise.
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise InvalidValueError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    try:
        n = len(data)
    except TypeError:
        raise InvalidTypeError(f"data must be a str, list or 1-D tensor, got {type(data).__name__}") from None
    cut = int(n * (1 - val_fraction))
    if val_fraction > 0 and (cut == 0 or cut == n):
        raise InvalidValueError(
            f"cannot split {n} items with val_fraction={val_fraction}: one part would be empty "
            f"(train {cut}, validation {n - cut}); use a longer corpus or another fraction"
        )
    return data[:cut], data[cut:]

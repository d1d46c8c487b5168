"""Parallel text for sequence-to-sequence tasks: pairs of a source and a target, read from TSV or JSONL.

Two formats, chosen by the suffix (each optionally ``.gz``):

* ``.tsv`` -- one pair per line, ``source<TAB>target``, no header. A line holds exactly one tab;
  both sides are stripped of surrounding whitespace and must not be blank. Empty lines are
  skipped; a line with text but no tab, with two tabs or more, or with a blank side is refused,
  naming the file and the line number.
* ``.jsonl`` / ``.ndjson`` -- one JSON object per line with string fields ``"source"`` and
  ``"target"`` (other fields are ignored), stripped like TSV's; blank lines are skipped; a line
  that is not JSON, not an object, lacks a field, or holds a non-string or blank side is refused
  with its line number.

Files are UTF-8 (a byte-order mark is dropped; another encoding is refused naming the byte offset)
and must hold at least one pair: :func:`~rnnkit.data.labelled_text.read_text_file` does the
reading, so missing files, folders, broken gzip and empty files get the same messages as every
other reader of rnnkit. Lines are split on ``"\\n"`` only (a trailing ``"\\r"`` is dropped), so the
line numbers are those an editor shows and a U+2028 inside a text stays text.

Tokenising each side (characters, words, BPE) is a :class:`~rnnkit.data.vocab.Vocabulary`'s job;
:class:`Pairs` keeps the text. A source may occur on several lines with different targets (a word
with two pronunciations): :meth:`Pairs.grouped` gathers them into the references of one example,
so an evaluation counts a prediction right if it matches any of them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple, Union

from .._checks import FileFormatError, InvalidTypeError, InvalidValueError
from .atomic import atomic_write
from .labelled_text import read_text_file

__all__ = ["Pairs", "read_pairs", "write_pairs", "PAIR_SUFFIXES"]

PathLike = Union[str, "os.PathLike[str]"]

#: suffix -> format; ``.gz`` may follow either
PAIR_SUFFIXES = {".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Pairs:
    """Source and target texts, pair for pair.

    Attributes:
        sources: the input of each pair, never blank.
        targets: the output of each pair, never blank.
        source: where the pairs came from (a file, or a generator and its split), for messages.
    """

    sources: List[str]
    targets: List[str]
    source: str

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.targets):
            raise InvalidValueError(
                f"pairs from {self.source!r}: {len(self.sources)} sources but {len(self.targets)} targets; "
                f"each source needs one target"
            )

    def __len__(self) -> int:
        return len(self.sources)

    def __iter__(self):
        return iter(zip(self.sources, self.targets))

    def grouped(self) -> Tuple[List[str], List[List[str]]]:
        """The distinct sources in first-seen order, and for each the list of its targets (its
        acceptable outputs, in file order, repeats dropped): the ``refs`` of
        :mod:`rnnkit.diagnostics.sequence_metrics`."""
        refs: Dict[str, List[str]] = {}
        for src, tgt in zip(self.sources, self.targets):
            alternatives = refs.setdefault(src, [])
            if tgt not in alternatives:
                alternatives.append(tgt)
        return list(refs), list(refs.values())


def _format(p: Path) -> str:
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = PAIR_SUFFIXES.get(suffixes[-1]) if suffixes else None
    if kind is None:
        raise InvalidValueError(
            f"unsupported pairs file {str(p)!r}: expected .tsv (source<TAB>target per line) or .jsonl/.ndjson "
            f'({{"source": ..., "target": ...}} per line), each optionally .gz'
        )
    return kind


def _tsv_pairs(text: str, shown: str) -> Tuple[List[str], List[str]]:
    sources, targets = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            continue
        tabs = line.count("\t")
        if tabs != 1:
            found = "no tab" if tabs == 0 else f"{tabs} tabs"
            raise FileFormatError(
                f"{shown!r} line {number} has {found}; expected source<TAB>target (exactly one tab): {line[:60]!r}"
            )
        src, tgt = (side.strip() for side in line.split("\t"))
        if not src or not tgt:
            side = "source (before the tab)" if not src else "target (after the tab)"
            raise FileFormatError(f"{shown!r} line {number}: the {side} is empty; every pair needs both sides")
        sources.append(src)
        targets.append(tgt)
    return sources, targets


def _jsonl_pairs(text: str, shown: str) -> Tuple[List[str], List[str]]:
    sources, targets = [], []
    for number, raw in enumerate(text.split("\n"), start=1):  # not splitlines: JSON strings may hold U+2028
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            raise FileFormatError(
                f"{shown!r} line {number} is not valid JSON: {err.msg} (column {err.colno})"
            ) from None
        if not isinstance(obj, dict):
            raise FileFormatError(
                f'{shown!r} line {number}: expected an object {{"source": ..., "target": ...}}, '
                f"got {type(obj).__name__}"
            )
        sides = []
        for key in ("source", "target"):
            if key not in obj:
                raise FileFormatError(f"{shown!r} line {number}: the object has no {key!r} field (it has {list(obj)})")
            value = obj[key]
            if not isinstance(value, str):
                raise FileFormatError(
                    f"{shown!r} line {number}: {key!r} holds {type(value).__name__} {value!r}, expected text"
                )
            if not value.strip():
                raise FileFormatError(f"{shown!r} line {number}: {key!r} is empty; every pair needs both sides")
            sides.append(value.strip())
        sources.append(sides[0])
        targets.append(sides[1])
    return sources, targets


def read_pairs(path: PathLike) -> Pairs:
    """Read source/target pairs from a ``.tsv`` or ``.jsonl``/``.ndjson`` file, each optionally
    ``.gz`` (formats and errors in the module docstring).

    Raises:
        InvalidValueError: an unsupported suffix.
        MissingFileError, NotAFileError: no such file, or a folder.
        FileFormatError: not UTF-8, broken gzip, empty, or a malformed line (its number named).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidTypeError(f"path must be a file path (str or os.PathLike), got {type(path).__name__}")
    p = Path(os.fspath(path))
    kind = _format(p)
    shown = str(p)
    text = read_text_file(p, f"{kind.upper()} pairs file")
    sources, targets = (_tsv_pairs if kind == "tsv" else _jsonl_pairs)(text, shown)
    if not sources:  # pragma: no cover - read_text_file refuses blank files, and any text line is a pair or an error
        raise FileFormatError(f"{shown!r} holds no pairs")
    return Pairs(sources, targets, shown)


def write_pairs(pairs: Pairs, path: PathLike) -> Path:
    """Write ``pairs`` to a ``.tsv`` or ``.jsonl``/``.ndjson`` file (not ``.gz``), atomically, so that
    :func:`read_pairs` gives them back. A TSV side may not hold a tab or a line break (JSONL may)."""
    if not isinstance(pairs, Pairs):
        raise InvalidTypeError(f"pairs must be a Pairs, got {type(pairs).__name__}")
    p = Path(os.fspath(path))
    if p.suffix.lower() == ".gz":
        raise InvalidValueError(f"write_pairs writes plain text; drop the .gz from {str(p)!r}")
    kind = _format(p)
    lines = []
    for i, (src, tgt) in enumerate(pairs):
        for side, value in (("source", src), ("target", tgt)):
            if not isinstance(value, str) or not value.strip() or value != value.strip():
                raise InvalidValueError(
                    f"pair {i + 1} of {pairs.source!r}: the {side} {value!r} must be non-blank text without "
                    f"surrounding whitespace (reading strips it)"
                )
            if kind == "tsv" and any(c in value for c in "\t\n\r"):
                raise InvalidValueError(
                    f"pair {i + 1} of {pairs.source!r}: the {side} {value!r} holds a tab or a line break, which a "
                    f"TSV line cannot; write .jsonl instead"
                )
        if kind == "tsv":
            lines.append(f"{src}\t{tgt}\n")
        else:
            lines.append(json.dumps({"source": src, "target": tgt}, ensure_ascii=False) + "\n")
    if not lines:
        raise InvalidValueError(f"no pairs to write to {str(p)!r}: {pairs.source!r} is empty")
    atomic_write(p, "".join(lines))
    return p

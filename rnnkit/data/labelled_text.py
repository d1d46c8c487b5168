"""Labelled texts for classification, read from CSV, TSV, JSONL or Parquet tables.

:func:`read_labelled_text` reads one table (the kind comes from the suffix: ``.csv``, ``.tsv``,
``.jsonl``/``.ndjson``, each optionally ``.gz``; ``.parquet``/``.pq``) into :class:`LabelledTexts`:
the texts, their labels and whether the task is multi-label. The texts stay text: tokenising them
is a :class:`~rnnkit.data.vocab.Vocabulary`'s job (the language model's char, word or BPE
tokenizers serve classification unchanged).

Labels, three ways:

* single-label -- ``label_col`` names one column; each row has one class (a string; JSONL/Parquet
  integers and booleans become ``"3"``, ``"true"``). At least two classes must occur.
* multi-label, one column -- ``label_col`` with ``label_sep``: the cell ``"sports|politics"`` is
  split on ``label_sep`` into ``["sports", "politics"]`` (pieces stripped, empty pieces dropped).
  A JSONL/Parquet cell holding a list of strings is multi-label without a separator.
* multi-label, indicator columns -- ``label_cols=["sports", "politics", ...]``: each column is
  0/1 (``true``/``false`` also read) and names its label; a row's labels are the columns set to 1,
  in the order given; a row may have none.

Every problem names the file and, for a row, its number (1 = the first data row; for CSV/TSV also
its line, which differs when a quoted field spans lines): an unknown column (the columns there are
listed), an empty file or a table without rows, a missing or blank text or label, a text that is
not a string, a label that is not a class name, an indicator that is not 0/1, a single-label
column with only one class. The file's errors are :class:`~rnnkit._checks.FileFormatError`
(a ``ValueError``); a column name that is not in the file is an
:class:`~rnnkit._checks.InvalidValueError`.

CSV is read with Python's ``csv`` module (RFC 4180 quoting; UTF-8, a byte-order mark dropped).
TSV is read without quoting (a tab-separated field cannot hold a tab or a newline, and review
texts are full of stray ``"``). Parquet needs ``pyarrow``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .._checks import (
    FileFormatError,
    InvalidTypeError,
    InvalidValueError,
    MissingFileError,
    MissingOptionalDependency,
    NotAFileError,
)

__all__ = ["LabelledTexts", "read_labelled_text", "read_texts", "read_text_file", "TABLE_SUFFIXES"]

PathLike = Union[str, "os.PathLike[str]"]

#: suffix -> table kind; ``.gz`` may follow the text kinds
TABLE_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

_TRUE = {"1", "1.0", "true"}
_FALSE = {"0", "0.0", "false"}


@dataclass(frozen=True)
class LabelledTexts:
    """Texts and their labels, row for row.

    Attributes:
        texts: one string per example, never blank.
        labels: one class name per example (``multi_label`` False), or one list of class names per
            example (``multi_label`` True; a list may be empty).
        multi_label: whether each example may have several labels (or none).
        source: where the examples came from (the file, or a corpus and split), for messages.
        ids: an identifier per example where the source has one (a corpus's message ids), else None.
    """

    texts: List[str]
    labels: Union[List[str], List[List[str]]]
    multi_label: bool
    source: str
    ids: Optional[List[str]] = None

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def classes(self) -> List[str]:
        """The distinct class names that occur, sorted."""
        if self.multi_label:
            return sorted({name for names in self.labels for name in names})
        return sorted(set(self.labels))


# ---- files -------------------------------------------------------------------------------------


def read_text_file(path: PathLike, what: str = "file") -> str:
    """The UTF-8 text of ``path`` (gunzipped if it ends in ``.gz``; a byte-order mark dropped).

    Raises :class:`MissingFileError` (not there), :class:`NotAFileError` (a folder),
    :class:`FileFormatError` (not gzip though named so, not UTF-8 -- the byte offset is named --,
    or empty: no bytes or only whitespace). ``what`` names the file's role in messages ("CoNLL file").
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise MissingFileError(f"{what} {str(p)!r} does not exist")
    if p.is_dir():
        raise NotAFileError(f"expected a {what}, got the folder {str(p)!r}")
    data = p.read_bytes()
    if p.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise FileFormatError(f"{what} {str(p)!r} is not a valid gzip file: {err}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FileFormatError(
            f"{what} {str(p)!r} is not valid UTF-8: byte {data[err.start]:#04x} at offset {err.start} "
            f"({err.reason}); convert it to UTF-8 first"
        ) from None
    if not text.strip():
        raise FileFormatError(
            f"{what} {str(p)!r} is empty ({len(data)} bytes{' unzipped' if p.suffix == '.gz' else ''})"
        )
    return text


def _kind(p: Path) -> str:
    suffixes = [s.lower() for s in p.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    last = suffixes[-2] if gz and len(suffixes) > 1 else (suffixes[-1] if suffixes and not gz else "")
    kind = TABLE_SUFFIXES.get(last)
    if kind is None or (gz and kind == "parquet"):
        raise InvalidValueError(
            f"unsupported table file {str(p)!r}: expected .csv, .tsv, .jsonl or .ndjson (each optionally .gz), "
            f".parquet or .pq"
        )
    return kind


# A row: (where, values) -- where is "row 3" or "row 3 (line 5)"; values maps column -> cell.
Row = Tuple[str, Dict[str, Any]]


def _delimited_rows(text: str, path: str, kind: str) -> Tuple[List[str], List[Row]]:
    stream = io.StringIO(text, newline="")  # the csv module splits lines itself (quoted newlines stay)
    if kind == "tsv":
        reader = csv.reader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(stream)
    old_limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # long documents are texts too
    try:
        records = []
        for record in reader:
            records.append((reader.line_num, record))
    except csv.Error as err:
        raise FileFormatError(f"{path!r} line {reader.line_num}: could not be read as {kind.upper()}: {err}") from None
    finally:
        csv.field_size_limit(old_limit)
    records = [(line, rec) for line, rec in records if any(cell.strip() for cell in rec)]
    if not records:
        raise FileFormatError(f"{path!r} is empty: no header and no rows")
    header = [name.strip() for name in records[0][1]]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise FileFormatError(f"{path!r}: the header repeats the column names {repeated}; each column needs its own")
    rows = []
    for number, (line, record) in enumerate(records[1:], start=1):
        where = f"row {number} (line {line})"
        if len(record) != len(header):
            raise FileFormatError(
                f"{path!r} {where} has {len(record)} fields, the header has {len(header)} ({header}); "
                f"a text with the separator in it must be quoted"
            )
        rows.append((where, dict(zip(header, record))))
    return header, rows


def _jsonl_rows(text: str, path: str) -> Tuple[List[str], List[Row]]:
    columns: Dict[str, None] = {}
    rows = []
    for line, raw in enumerate(text.split("\n"), start=1):  # not splitlines: JSON strings may hold U+2028
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            raise FileFormatError(f"{path!r} line {line} is not valid JSON: {err.msg} (column {err.colno})") from None
        if not isinstance(obj, dict):
            raise FileFormatError(f"{path!r} line {line}: expected a JSON object per line, got {type(obj).__name__}")
        columns.update(dict.fromkeys(obj))
        rows.append((f"row {len(rows) + 1} (line {line})", obj))
    return list(columns), rows


def _parquet_rows(path: str) -> Tuple[List[str], List[Row]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingOptionalDependency(
            f"reading the Parquet file {path!r} needs pyarrow: pip install pyarrow (or 'rnnkit[timeseries]')"
        ) from None
    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow's ArrowInvalid and OSError: the file's content
        raise FileFormatError(f"{path!r} could not be read as Parquet: {' '.join(str(err).split())}") from None
    columns = [str(name) for name in table.column_names]
    data = table.to_pydict()
    rows = [(f"row {i + 1}", {c: data[c][i] for c in columns}) for i in range(table.num_rows)]
    return columns, rows


def _read_table(path: PathLike) -> Tuple[str, List[str], List[Row]]:
    p = Path(os.fspath(path))
    kind = _kind(p)
    shown = str(p)
    if kind == "parquet":
        if not p.exists():
            raise MissingFileError(f"table file {shown!r} does not exist")
        if p.is_dir():
            raise NotAFileError(f"expected a table file, got the folder {shown!r}")
        columns, rows = _parquet_rows(shown)
    else:
        text = read_text_file(p, f"{kind.upper()} file")
        columns, rows = _jsonl_rows(text, shown) if kind == "jsonl" else _delimited_rows(text, shown, kind)
    if not rows:
        raise FileFormatError(f"{shown!r} has no rows (columns {columns}): a classifier needs labelled examples")
    return shown, columns, rows


# ---- cells -------------------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any, path: str, where: str, column: str) -> str:
    if _blank(value):
        raise FileFormatError(f"{path!r} {where}: the text column {column!r} is missing or blank")
    if not isinstance(value, str):
        raise FileFormatError(
            f"{path!r} {where}: the text column {column!r} holds {type(value).__name__} {value!r}, expected text"
        )
    return value


def _class_name(value: Any, path: str, where: str, column: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise FileFormatError(
        f"{path!r} {where}: the label column {column!r} holds {type(value).__name__} {value!r}; "
        f"expected a class name (text or an integer)"
    )


def _indicator(value: Any, path: str, where: str, column: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        cell = value.strip().lower()
        if cell in _TRUE:
            return True
        if cell in _FALSE:
            return False
    raise FileFormatError(
        f"{path!r} {where}: the label column {column!r} holds {value!r}; an indicator column must hold 0 or 1"
    )


def _check_columns(path: str, columns: List[str], wanted: Sequence[Tuple[str, str]]) -> None:
    for role, name in wanted:
        if name not in columns:
            raise InvalidValueError(f"{role} {name!r} is not a column of {path!r}; the columns are {columns}")


def _check_name(role: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidTypeError(f"{role} must be a column name (a non-empty str), got {value!r}")
    return value


# ---- the reader --------------------------------------------------------------------------------


def read_labelled_text(
    path: PathLike,
    text_col: str,
    label_col: Optional[str] = None,
    *,
    label_sep: Optional[str] = None,
    label_cols: Optional[Sequence[str]] = None,
) -> LabelledTexts:
    """Read a table of labelled texts (see the module docstring for the formats and label modes).

    Args:
        path: a ``.csv``, ``.tsv``, ``.jsonl``/``.ndjson`` (each optionally ``.gz``), ``.parquet`` or
            ``.pq`` file with a header (CSV/TSV) or keys (JSONL) naming the columns.
        text_col: the column holding the text.
        label_col: the column holding the label(s); give this or ``label_cols``.
        label_sep: split ``label_col``'s cells on this string into several labels (multi-label).
        label_cols: 0/1 indicator columns, each named after its label (multi-label).

    Returns:
        :class:`LabelledTexts`, rows in file order.
    """
    text_col = _check_name("text_col", text_col)
    if (label_col is None) == (label_cols is None):
        raise InvalidValueError(
            "give the labels as label_col (one column) or label_cols (0/1 columns, one per label), not "
            + ("both" if label_col is not None else "neither")
        )
    if label_cols is not None:
        if isinstance(label_cols, str) or not label_cols:
            raise InvalidTypeError(f"label_cols must be a non-empty list of column names, got {label_cols!r}")
        label_cols = [_check_name("each of label_cols", c) for c in label_cols]
        if len(set(label_cols)) != len(label_cols):
            raise InvalidValueError(f"label_cols repeats a column: {label_cols}")
        if label_sep is not None:
            raise InvalidValueError("label_sep splits one label column; it does not apply to label_cols")
    else:
        label_col = _check_name("label_col", label_col)
        if label_sep is not None and (not isinstance(label_sep, str) or not label_sep):
            raise InvalidValueError(f"label_sep must be a non-empty string, got {label_sep!r}")
    label_names = list(label_cols) if label_cols is not None else [label_col]
    if text_col in label_names:
        raise InvalidValueError(f"the column {text_col!r} cannot be both the text and a label")

    shown, columns, rows = _read_table(path)
    _check_columns(shown, columns, [("text column", text_col)] + [("label column", c) for c in label_names])

    texts = [_text(values.get(text_col), shown, where, text_col) for where, values in rows]
    if label_cols is not None:
        labels: list = [[c for c in label_cols if _indicator(values.get(c), shown, where, c)] for where, values in rows]
        return LabelledTexts(texts, labels, True, shown)

    labels, lists = _labels(rows, shown, label_col, label_sep)
    multi = label_sep is not None or lists
    if not multi:
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise FileFormatError(
                f"{shown!r}: the label column {label_col!r} has only one class, {classes[0]!r}, in all {len(labels)} "
                f"rows; a classifier needs at least two"
            )
    return LabelledTexts(texts, labels, multi, shown)


def _labels(rows: List[Row], path: str, column: str, sep: Optional[str]) -> Tuple[list, bool]:
    """The labels of ``column`` row by row, and whether they came as lists (JSONL/Parquet)."""
    lists = any(isinstance(values.get(column), (list, tuple)) for _, values in rows)
    out = []
    for where, values in rows:
        value = values.get(column)
        if _blank(value):
            raise FileFormatError(f"{path!r} {where}: the label column {column!r} is missing or blank")
        if lists:
            if not isinstance(value, (list, tuple)):
                raise FileFormatError(
                    f"{path!r} {where}: the label column {column!r} holds {value!r} where other rows hold lists "
                    f"of labels; give every row a list"
                )
            out.append(list(dict.fromkeys(_class_name(v, path, where, column) for v in value)))
        elif sep is not None:
            cell = _class_name(value, path, where, column)
            out.append(list(dict.fromkeys(piece.strip() for piece in cell.split(sep) if piece.strip())))
        else:
            out.append(_class_name(value, path, where, column))
    return out, lists


def read_texts(path: PathLike, text_col: str) -> List[str]:
    """The texts of one column of a table (no labels needed): what a trained classifier predicts on.
    The same formats and errors as :func:`read_labelled_text`."""
    text_col = _check_name("text_col", text_col)
    shown, columns, rows = _read_table(path)
    _check_columns(shown, columns, [("text_col", text_col)])
    return [_text(row.get(text_col), shown, where, text_col) for where, row in rows]

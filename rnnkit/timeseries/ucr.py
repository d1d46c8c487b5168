"""Series classification data: the UCR/UEA archive's file formats and the sets that ship with sktime.

Three readers, one result, :class:`SeriesClassificationData` (a list of ``(channels, length)``
float64 arrays and a class label per series):

* :func:`read_ts` -- sktime's ``.ts`` format (the UEA/UCR archive's): comment lines (``#``, ``%``;
  before ``@data`` any line not starting with ``@``), a header of ``@`` lines, then ``@data`` and
  one series a line. Within a line the dimensions (channels)
  are separated by ``:``, the values of one dimension by ``,``, and the class label comes last.
  Univariate and multivariate, equal or unequal length; ``?`` (or ``NaN``) is a missing value.
* :func:`read_ucr_tsv` -- the UCR 2018 archive's ``.tsv`` (and the older ``.txt``): one series a
  line, the label first, then the values, separated by tabs, commas or whitespace. Trailing ``NaN``
  pad shorter series to the longest (the archive's convention for unequal lengths) and are cut off.
* :func:`read_wide_csv` -- a CSV with a header, one series a row, the label in ``label_col``, every
  other column a time step in order; trailing empty cells shorten a series.

:func:`read_series_file` picks the reader by suffix. :func:`load_ucr` reads the official train or
test split of a set that ships inside the ``sktime`` package (``sktime/datasets/data/<name>/``:
ArrowHead, GunPoint, ItalyPowerDemand, BasicMotions, JapaneseVowels, ...), found without importing
sktime, so nothing is downloaded; :func:`available_ucr` lists them.

Header lines of ``.ts`` files (tags case-insensitive): ``@problemName NAME``, ``@timeStamps
false`` (``true`` -- values as ``(time,value)`` pairs -- is refused), ``@missing true|false``,
``@univariate true|false``, ``@dimensions N``, ``@equalLength true|false``, ``@seriesLength N``,
``@classLabel true L1 L2 ...`` or ``@classLabel false`` (unlabelled), ``@targetLabel true``
(regression: refused), ``@data``. Unknown tags are ignored. What a header declares is checked
against every line (dimensions, lengths, labels).

Missing values: ``allow_missing=False`` (default) refuses them naming the line, because an RNN
cannot take a NaN; ``allow_missing=True`` keeps them as NaN for the caller to fill. An infinite
value, a non-numeric value, a line with the wrong number of dimensions, channels of different
lengths in one series, a label the header does not declare, a malformed header and an empty file
are :class:`~rnnkit._checks.FileFormatError` naming the file and the line.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .._checks import FileFormatError, InvalidTypeError, InvalidValueError, MissingOptionalDependency, boolean
from ..data.labelled_text import read_text_file

__all__ = [
    "SeriesClassificationData",
    "read_ts",
    "read_ucr_tsv",
    "read_wide_csv",
    "read_series_file",
    "load_ucr",
    "available_ucr",
    "ucr_folder",
]

PathLike = Union[str, "os.PathLike[str]"]
_MISSING = {"?", "nan", "NaN", "NAN", ""}


@dataclass(frozen=True)
class SeriesClassificationData:
    """Series and their class labels.

    Attributes:
        series: one float64 array ``(channels, length)`` per example; every series has the same
            number of channels, lengths may differ. Missing values (if allowed) are NaN.
        labels: one class label per series, or None for an unlabelled file (data to predict).
        equal_length: whether every series has the same length.
        name: the problem's name (``@problemName``, else the file's stem).
        classes: the class labels in a fixed order: as a ``.ts`` header declares them, else sorted
            (numerically where all labels are numbers). Empty when unlabelled.
    """

    series: List[np.ndarray]
    labels: Optional[List[str]]
    equal_length: bool
    name: str
    classes: Tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.series)

    @property
    def num_channels(self) -> int:
        return int(self.series[0].shape[0])

    @property
    def lengths(self) -> List[int]:
        return [int(s.shape[1]) for s in self.series]

    @property
    def has_missing(self) -> bool:
        return any(np.isnan(s).any() for s in self.series)

    def as_array(self) -> np.ndarray:
        """All series as one ``(N, channels, length)`` array; :class:`InvalidValueError` if their
        lengths differ (pad or resample them first, or use a model that takes lengths)."""
        if not self.equal_length:
            lengths = self.lengths
            raise InvalidValueError(
                f"{self.name}: the series have unequal lengths ({min(lengths)} to {max(lengths)}); "
                f"this needs equal-length series"
            )
        return np.stack(self.series)


# ---- values ------------------------------------------------------------------------------------


def _values(
    pieces: Sequence[str], where: str, allow_missing: bool, what: str = "value", names: Optional[Sequence[str]] = None
) -> np.ndarray:
    """Parse numbers; ``?``/``NaN``/empty are missing (NaN). Errors name ``where`` and the position
    (``what`` and its number, or ``names[i]`` where given: a CSV's column names)."""

    def at(i: int) -> str:
        return f"column {names[i]!r}" if names is not None else f"{what} {i + 1}"

    try:
        arr = np.array([np.nan if p.strip() in _MISSING else float(p) for p in pieces], dtype=np.float64)
    except ValueError:
        for i, p in enumerate(pieces):
            if p.strip() not in _MISSING:
                try:
                    float(p)
                except ValueError:
                    raise FileFormatError(f"{where}: {at(i)} is {p.strip()[:40]!r}, not a number") from None
        raise  # pragma: no cover - some value failed above
    if np.isinf(arr).any():
        i = int(np.flatnonzero(np.isinf(arr))[0])
        raise FileFormatError(f"{where}: {at(i)} is {pieces[i].strip()!r}, an infinite value; expected a finite number")
    if not allow_missing and np.isnan(arr).any():
        i = int(np.flatnonzero(np.isnan(arr))[0])
        raise FileFormatError(
            f"{where}: {at(i)} is missing ({pieces[i].strip() or 'empty'!r}); fill the missing values first, "
            f"or pass allow_missing=True to keep them as NaN"
        )
    return arr


def _trim_trailing_nan(arr: np.ndarray) -> np.ndarray:
    finite = np.flatnonzero(~np.isnan(arr))
    return arr[: finite[-1] + 1] if finite.size else arr[:0]


def _label_order(labels: Sequence[str]) -> Tuple[str, ...]:
    distinct = set(labels)
    try:
        return tuple(sorted(distinct, key=float))
    except ValueError:
        return tuple(sorted(distinct))


def _normalise_label(label: str) -> str:
    """``"1.0000000e+00"`` (the old UCR .txt files) -> ``"1"``; other labels unchanged."""
    if re.search(r"[.eE]", label):
        try:
            value = float(label)
        except ValueError:
            return label
        if value.is_integer():
            return str(int(value))
    return label


def _finish(series: List[np.ndarray], labels: Optional[List[str]], name: str, shown: str, classes=None):
    if not series:
        raise FileFormatError(f"{shown!r} holds no series")
    equal = len({s.shape[1] for s in series}) == 1
    if classes is None:
        classes = _label_order(labels) if labels is not None else ()
    return SeriesClassificationData(series, labels, equal, name, tuple(classes))


# ---- .ts ---------------------------------------------------------------------------------------

_BOOL = {"true": True, "false": False}


def _header_bool(tag: str, rest: str, where: str) -> bool:
    value = rest.split()[0].lower() if rest.split() else ""
    if value not in _BOOL:
        raise FileFormatError(f"{where}: @{tag} must be true or false, got {rest.strip()[:40]!r}")
    return _BOOL[value]


def _header_int(tag: str, rest: str, where: str) -> int:
    value = rest.strip()
    if not value.isdigit() or int(value) < 1:
        raise FileFormatError(f"{where}: @{tag} must be a positive integer, got {value[:40]!r}")
    return int(value)


def _parse_ts_header(lines: List[str], shown: str) -> Tuple[dict, int]:
    """The header's settings and the index of the first line after ``@data``."""
    head: dict = {}
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line.startswith("@"):
            continue  # comments ('#', '%') and any other text before @data, as sktime reads them
        where = f"{shown!r} line {i + 1}"
        written, _, rest = line[1:].partition(" ")
        tag = written.lower()
        if tag == "data":
            return head, i + 1
        if tag == "problemname":
            head["name"] = rest.strip()
        elif tag == "timestamps":
            if _header_bool(written, rest, where):
                raise FileFormatError(f"{where}: time-stamped .ts files (@timeStamps true) are not supported")
        elif tag in ("missing", "univariate", "equallength"):
            head[tag] = _header_bool(written, rest, where)
        elif tag in ("dimensions", "serieslength"):
            head[tag] = _header_int(written, rest, where)
        elif tag == "classlabel":
            words = rest.split()
            if not words or words[0].lower() not in _BOOL:
                raise FileFormatError(f"{where}: @classLabel must be 'true' followed by the labels, or 'false'")
            if _BOOL[words[0].lower()]:
                if len(words) < 2:
                    raise FileFormatError(f"{where}: @classLabel true must list the class labels")
                head["classes"] = tuple(words[1:])
            else:
                head["classes"] = None
        elif tag == "targetlabel":
            if _header_bool(written, rest, where):
                raise FileFormatError(
                    f"{where}: @targetLabel true marks a regression problem; series classification needs class labels"
                )
    raise FileFormatError(f"{shown!r} has no @data line: not a .ts file, or its header is incomplete")


def read_ts(path: PathLike, allow_missing: bool = False) -> SeriesClassificationData:
    """Read an sktime/UEA ``.ts`` file (format in the module docstring)."""
    allow_missing = boolean("allow_missing", allow_missing)
    shown = os.fspath(path)
    lines = read_text_file(path, ".ts file").split("\n")
    head, start = _parse_ts_header(lines, shown)
    if "classes" not in head:
        raise FileFormatError(f"{shown!r}: the header has no @classLabel line (true with the labels, or false)")
    classes = head["classes"]
    labelled = classes is not None
    dims = 1 if head.get("univariate") else head.get("dimensions")
    if head.get("univariate") and head.get("dimensions", 1) != 1:
        raise FileFormatError(f"{shown!r}: @univariate true but @dimensions {head['dimensions']}")
    length = head.get("serieslength") if head.get("equallength", True) else None
    series: List[np.ndarray] = []
    labels: List[str] = []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith(("#", "%")):
            continue
        where = f"{shown!r} line {i + 1}"
        if line.startswith("@"):
            raise FileFormatError(f"{where}: a header line after @data ({line[:40]!r})")
        parts = line.split(":")
        if labelled:
            if len(parts) < 2:
                raise FileFormatError(f"{where}: no class label (expected values, then ':' and the label)")
            label = parts.pop().strip()
            if label not in classes:
                raise FileFormatError(f"{where}: class label {label!r} is not one of the header's {list(classes)}")
            labels.append(label)
        if dims is None:
            dims = len(parts)  # multivariate without @dimensions: the first line decides
        if len(parts) != dims:
            raise FileFormatError(
                f"{where} has {len(parts)} dimension(s), expected {dims}"
                + (" (each dimension's values end with ':'; is the class label missing?)" if not labelled else "")
            )
        channels = []
        for d, part in enumerate(parts):
            if not part.strip():
                raise FileFormatError(f"{where}: dimension {d + 1} has no values")
            channels.append(_values(part.split(","), where, allow_missing, f"dimension {d + 1} value"))
        sizes = {c.size for c in channels}
        if len(sizes) > 1:
            raise FileFormatError(
                f"{where}: the dimensions have different lengths {[c.size for c in channels]}; "
                f"rnnkit needs every channel of one series the same length"
            )
        if length is not None and channels[0].size != length:
            raise FileFormatError(
                f"{where}: a series of length {channels[0].size}, but the header declares @seriesLength {length}"
            )
        series.append(np.stack(channels))
    name = head.get("name") or Path(shown).stem
    data = _finish(series, labels if labelled else None, name, shown, classes if labelled else ())
    if head.get("equallength") and not data.equal_length:
        lengths = data.lengths
        raise FileFormatError(
            f"{shown!r}: @equalLength true but the series have lengths {min(lengths)} to {max(lengths)}"
        )
    return data


# ---- UCR .tsv/.txt and wide CSV ------------------------------------------------------------------


def _split_values(line: str) -> List[str]:
    if "\t" in line:
        return line.split("\t")
    if "," in line:
        return line.split(",")
    return line.split()


def read_ucr_tsv(path: PathLike, allow_missing: bool = False) -> SeriesClassificationData:
    """Read a UCR archive ``.tsv``/``.txt`` file: each line the label, then the values (univariate).

    Labels such as ``1.0000000e+00`` (the old ``.txt`` files) become ``"1"``. Trailing NaN are cut
    (the archive pads shorter series with them); other missing values follow ``allow_missing``.
    """
    allow_missing = boolean("allow_missing", allow_missing)
    shown = os.fspath(path)
    text = read_text_file(path, "UCR file")
    series, labels = [], []
    for i, raw in enumerate(text.split("\n")):
        line = raw.strip()
        if not line:
            continue
        where = f"{shown!r} line {i + 1}"
        pieces = [p.strip() for p in _split_values(line)]
        if len(pieces) < 2:
            raise FileFormatError(f"{where}: expected the label, then the values; got {line[:40]!r}")
        label = _normalise_label(pieces[0])
        if label in _MISSING:
            raise FileFormatError(f"{where}: the label (first field) is missing")
        values = _trim_trailing_nan(_values(pieces[1:], where, True))
        if values.size == 0:
            raise FileFormatError(f"{where}: the series has no values")
        if not allow_missing and np.isnan(values).any():
            _values(pieces[1 : values.size + 1], where, False)  # raises, naming the first missing value
        labels.append(label)
        series.append(values[None, :])
    return _finish(series, labels, Path(shown).name.split(".")[0], shown)


def read_wide_csv(
    path: PathLike, label_col: Optional[str] = None, allow_missing: bool = False
) -> SeriesClassificationData:
    """Read a wide CSV: a header, one series a row, ``label_col`` its class (None: unlabelled), every
    other column a time step in file order. Trailing empty cells shorten a series (unequal lengths)."""
    allow_missing = boolean("allow_missing", allow_missing)
    if label_col is not None and (not isinstance(label_col, str) or not label_col):
        raise InvalidTypeError(f"label_col must be None or a column name, got {label_col!r}")
    shown = os.fspath(path)
    text = read_text_file(path, "CSV file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = [(reader.line_num, rec) for rec in reader]
    except csv.Error as err:
        raise FileFormatError(f"{shown!r} line {reader.line_num}: could not be read as CSV: {err}") from None
    records = [(n, rec) for n, rec in records if any(c.strip() for c in rec)]
    header = [c.strip() for c in records[0][1]]
    if label_col is not None and label_col not in header:
        raise InvalidValueError(f"label column {label_col!r} is not a column of {shown!r}; the columns are {header}")
    label_at = header.index(label_col) if label_col is not None else None
    steps = [j for j in range(len(header)) if j != label_at]
    if not steps:
        raise FileFormatError(f"{shown!r} has no value columns besides the label column {label_col!r}")
    series, labels = [], []
    for line, rec in records[1:]:
        where = f"{shown!r} line {line}"
        if len(rec) != len(header):
            raise FileFormatError(f"{where} has {len(rec)} fields, the header has {len(header)}")
        if label_at is not None:
            label = rec[label_at].strip()
            if not label:
                raise FileFormatError(f"{where}: the label column {label_col!r} is empty")
            labels.append(label)
        cells = [rec[j] for j in steps]
        values = _trim_trailing_nan(_values(cells, where, True, names=[header[j] for j in steps]))
        if values.size == 0:
            raise FileFormatError(f"{where}: the series has no values")
        if not allow_missing and np.isnan(values).any():
            _values(cells[: values.size], where, False, names=[header[j] for j in steps])  # names the first
        series.append(values[None, :])
    return _finish(series, labels if label_at is not None else None, Path(shown).name.split(".")[0], shown)


def read_series_file(
    path: PathLike, label_col: Optional[str] = None, allow_missing: bool = False
) -> SeriesClassificationData:
    """Read ``.ts`` with :func:`read_ts`, ``.tsv``/``.txt`` with :func:`read_ucr_tsv`, ``.csv`` with
    :func:`read_wide_csv` (``label_col`` is used only there)."""
    suffix = Path(Path(os.fspath(path)).name.lower().removesuffix(".gz")).suffix
    if suffix == ".ts":
        return read_ts(path, allow_missing)
    if suffix in (".tsv", ".txt"):
        return read_ucr_tsv(path, allow_missing)
    if suffix == ".csv":
        return read_wide_csv(path, label_col, allow_missing)
    raise InvalidValueError(
        f"unsupported series file {os.fspath(path)!r}: expected .ts (sktime/UEA), .tsv or .txt (UCR), or .csv (wide)"
    )


# ---- the sets that ship with sktime -----------------------------------------------------------


def ucr_folder() -> Path:
    """sktime's bundled datasets folder (``sktime/datasets/data``), found without importing sktime."""
    spec = importlib.util.find_spec("sktime")
    if spec is None or not spec.submodule_search_locations:
        raise MissingOptionalDependency(
            "the UCR/UEA sets ship with the sktime package, which is not installed: pip install 'rnnkit[datasets]'"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def _is_classification(path: Path) -> bool:
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            words = line.strip().lower().split()
            if words[:1] == ["@classlabel"]:
                return words[1:2] == ["true"]
            if words[:1] == ["@data"]:
                return False
    return False


def available_ucr() -> List[str]:
    """The classification sets in sktime's datasets folder that have ``<name>_TRAIN.ts`` and
    ``<name>_TEST.ts`` (regression sets such as Covid3Month are left out), sorted."""
    root = ucr_folder()
    names = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        train, test = folder / f"{folder.name}_TRAIN.ts", folder / f"{folder.name}_TEST.ts"
        if train.is_file() and test.is_file() and _is_classification(train):
            names.append(folder.name)
    return names


_SPLITS: Dict[str, str] = {"train": "TRAIN", "test": "TEST"}


def load_ucr(name: str, split: str = "train", allow_missing: bool = False) -> SeriesClassificationData:
    """The official ``split`` (``"train"`` or ``"test"``) of the UCR/UEA set ``name`` that ships with
    sktime (the name's case does not matter: ``"italypowerdemand"`` finds ``ItalyPowerDemand``).
    An unknown name raises :class:`InvalidValueError` listing the sets there are."""
    if not isinstance(name, str) or not name:
        raise InvalidTypeError(f"name must be a dataset name such as 'GunPoint', got {name!r}")
    if not isinstance(split, str) or split.lower() not in _SPLITS:
        raise InvalidValueError(f"split must be 'train' or 'test', got {split!r}")
    names = available_ucr()
    found = {n.lower(): n for n in names}.get(name.lower())
    if found is None:
        raise InvalidValueError(f"no UCR/UEA set {name!r} in sktime's datasets folder; the sets there are {names}")
    path = ucr_folder() / found / f"{found}_{_SPLITS[split.lower()]}.ts"
    return read_ts(path, allow_missing)

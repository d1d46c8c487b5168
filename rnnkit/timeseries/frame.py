"""Time series read from CSV or Parquet into a validated :class:`TimeSeriesFrame`.

A frame holds one time index at a regular frequency, one or more target columns, optional past
covariates (known only up to now, e.g. a measured temperature) and optional known-future
covariates (known ahead, e.g. a holiday flag; calendar features are derived, see
:mod:`rnnkit.timeseries.calendar`). Every problem found on the way in -- a missing column, a
non-numeric target, an all-missing column, duplicate or irregular timestamps, missing values, a
value that cannot be computed with (infinite, or beyond +-1e150: see
:mod:`rnnkit.timeseries.scaling`), an unknown fill method, a table without rows -- raises one of
the project's user errors (:class:`~rnnkit._checks.InvalidValueError`, a ``ValueError``, or
:class:`~rnnkit._checks.InvalidTypeError`, a ``TypeError``) naming the column, the row or
positions and what was expected.

The time column may hold dates (any format pandas parses) or integers (e.g. years); an integer
index must advance by a constant step, which is then its ``freq``. Frequencies, their grids and
their inference are in :mod:`rnnkit.timeseries.frequency`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from .._checks import (
    FileFormatError,
    InvalidTypeError,
    InvalidValueError,
    MissingFileError,
    MissingOptionalDependency,
    choice,
    is_int,
    optional,
)
from .frequency import (
    Freq,
    IrregularTimestampsError,
    date_grid,
    extend_index,
    pd,
    regular_grid,
    require_pandas,
    resolve_freq,
    show_positions,
)
from .scaling import check_values

__all__ = [
    "TimeSeriesFrame",
    "read_series",
    "from_dataframe",
    "from_array",
    "as_frame",
    "fill_missing",
    "FILL_METHODS",
    "MissingValuesError",
    "IrregularTimestampsError",
]

FILL_METHODS = ("ffill", "bfill", "linear", "zero", "mean")


class MissingValuesError(InvalidValueError):
    """Raised when columns have missing values and no fill method was asked for.

    ``positions`` maps each column to the timestamps (index labels) of its missing values.
    """

    def __init__(self, message: str, positions: Dict[str, list]) -> None:
        super().__init__(message)
        self.positions = positions


@dataclass(frozen=True)
class TimeSeriesFrame:
    """A regular time series: ``targets`` ``(T, C)`` and optional covariates on one time index.

    Attributes:
        time: a ``pandas.DatetimeIndex`` or an integer ``pandas.Index`` of length T, increasing.
        targets: float64 array ``(T, C)`` -- the series to forecast.
        target_names: C column names.
        past_covariates: ``(T, P)`` or None -- inputs known only up to the present.
        past_names: P names.
        future_covariates: ``(T, F)`` or None -- inputs known ahead of time (for the horizon too).
        future_names: F names.
        freq: pandas offset alias (``"MS"``, ``"D"``, ...) for dates, the integer step otherwise.
        filled: column -> index labels of values that were filled (empty if none were).

    Construction checks the shapes and every value: a value that is missing, infinite or beyond
    ``+-1e150`` (:func:`rnnkit.timeseries.scaling.check_values`) raises
    :class:`~rnnkit._checks.InvalidValueError` naming its column, row and timestamp.
    """

    time: "pd.Index"
    targets: np.ndarray
    target_names: Tuple[str, ...]
    past_covariates: Optional[np.ndarray] = None
    past_names: Tuple[str, ...] = ()
    future_covariates: Optional[np.ndarray] = None
    future_names: Tuple[str, ...] = ()
    freq: Freq = None
    filled: Optional[Dict[str, list]] = None

    def __post_init__(self) -> None:
        T = len(self.time)
        blocks = (
            ("targets", self.targets, self.target_names),
            ("past_covariates", self.past_covariates, self.past_names),
            ("future_covariates", self.future_covariates, self.future_names),
        )
        for field, block, names in blocks:
            if block is None:
                if names:
                    raise InvalidValueError(f"{field} is None but names are given for it: {list(names)}")
                if field == "targets":
                    raise InvalidValueError("a frame needs targets: a (T, C) array")
                continue
            if not isinstance(block, np.ndarray) or block.dtype.kind != "f":
                raise InvalidTypeError(f"{field} must be a float array (T, K), got {type(block).__name__}")
            if block.ndim != 2 or block.shape[0] != T or block.shape[1] != len(names):
                raise InvalidValueError(
                    f"{field} must have shape (T, K) = ({T}, {len(names)}) for {T} timestamps and the names "
                    f"{list(names)}, got {block.shape}"
                )
            check_values(block, names, self.time)
        if not self.target_names:
            raise InvalidValueError("a frame needs at least one target column")

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    @property
    def n_targets(self) -> int:
        return int(self.targets.shape[1])

    def slice(self, start: Optional[int] = None, stop: Optional[int] = None) -> "TimeSeriesFrame":
        """Rows ``start:stop`` (positions, as Python slicing) as a new frame."""
        s = slice(start, stop)
        return replace(
            self,
            time=self.time[s],
            targets=self.targets[s],
            past_covariates=None if self.past_covariates is None else self.past_covariates[s],
            future_covariates=None if self.future_covariates is None else self.future_covariates[s],
        )

    def split(self, at: int) -> Tuple["TimeSeriesFrame", "TimeSeriesFrame"]:
        """``(first at rows, the rest)``; a negative ``at`` counts from the end (``-36``: hold out 36)."""
        if isinstance(at, bool) or not isinstance(at, (int, np.integer)):
            raise InvalidTypeError(f"split position must be an int, got {at!r}")
        n = len(self)
        pos = at + n if at < 0 else at
        if not 0 < pos < n:
            raise InvalidValueError(f"split position must leave rows on both sides of a {n}-row series, got {at}")
        return self.slice(0, pos), self.slice(pos, None)

    def future_times(self, horizon: int) -> "pd.Index":
        """The ``horizon`` timestamps after the last one, at the frame's frequency."""
        return extend_index(self.time, horizon, self.freq)

    def to_dataframe(self) -> "pd.DataFrame":
        require_pandas()
        df = pd.DataFrame(self.targets, index=self.time, columns=list(self.target_names))
        if self.past_covariates is not None:
            df[list(self.past_names)] = self.past_covariates
        if self.future_covariates is not None:
            df[list(self.future_names)] = self.future_covariates
        return df


# ---- construction ----------------------------------------------------------------------------


def read_series(
    path: Union[str, os.PathLike],
    time_column: str,
    target_columns: Union[str, Sequence[str]],
    past_covariates: Sequence[str] = (),
    future_covariates: Sequence[str] = (),
    freq: Freq = None,
    fill: Optional[str] = None,
) -> TimeSeriesFrame:
    """Read a CSV (``.csv``, ``.csv.gz``, ``.txt``) or Parquet (``.parquet``, ``.pq``) file.

    Args:
        path: the file; its suffix picks the reader.
        time_column: the column holding timestamps (dates or integers).
        target_columns: one name or a list of names of the series to forecast.
        past_covariates / future_covariates: names of covariate columns (see :class:`TimeSeriesFrame`).
        freq: the frequency (pandas alias such as ``"MS"``, or an int step); inferred if None.
            With a given freq, timestamps missing from the regular grid become missing rows.
        fill: None to raise :class:`MissingValuesError` listing missing values, or one of
            ``"ffill"``, ``"bfill"``, ``"linear"`` (interpolation), ``"zero"``, ``"mean"``.
    """
    require_pandas()
    fill = _check_fill(fill)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MissingFileError(f"time series file not found: {path!r}")
    lower = path.lower()
    parquet = lower.endswith((".parquet", ".pq"))
    if not parquet and not lower.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        raise InvalidValueError(
            f"unsupported file type for {path!r}: expected .csv, .csv.gz, .tsv, .txt, .parquet or .pq"
        )
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise FileFormatError(f"{path!r} is empty: a series file needs a header row and data rows")
    try:
        df = pd.read_parquet(path) if parquet else pd.read_csv(path, sep="\t" if lower.endswith(".tsv") else ",")
    except ImportError as err:  # Parquet without pyarrow (or fastparquet)
        raise MissingOptionalDependency(
            f"reading {path!r} needs pyarrow: pip install 'rnnkit[timeseries]' ({err})"
        ) from None
    except ValueError as err:  # pandas' and pyarrow's parse errors, a file that is not text: the file's content
        kind = "Parquet" if parquet else "CSV"
        raise FileFormatError(f"{path!r} could not be read as {kind}: {' '.join(str(err).split())}") from None
    return from_dataframe(df, time_column, target_columns, past_covariates, future_covariates, freq, fill)


def from_dataframe(
    df: "pd.DataFrame",
    time_column: Optional[str],
    target_columns: Union[str, Sequence[str]],
    past_covariates: Sequence[str] = (),
    future_covariates: Sequence[str] = (),
    freq: Freq = None,
    fill: Optional[str] = None,
) -> TimeSeriesFrame:
    """Validate a DataFrame into a :class:`TimeSeriesFrame` (see :func:`read_series`).

    ``time_column=None`` uses the DataFrame's index as the time.
    """
    require_pandas()
    fill = _check_fill(fill)
    if not isinstance(df, pd.DataFrame):
        raise InvalidTypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    targets = [target_columns] if isinstance(target_columns, str) else list(target_columns)
    if not targets:
        raise InvalidValueError("target_columns is empty: name at least one column to forecast")
    past, future = list(past_covariates), list(future_covariates)
    wanted = targets + past + future
    columns = [str(c) for c in df.columns]
    if time_column is not None and time_column not in df.columns:
        raise InvalidValueError(f"time column {time_column!r} not found; the columns are {columns}")
    for name in wanted:
        if name not in df.columns:
            raise InvalidValueError(f"column {name!r} not found; the columns are {columns}")
    dup = sorted({n for n in wanted if wanted.count(n) > 1})
    if dup or (time_column is not None and time_column in wanted):
        raise InvalidValueError(
            f"columns may be used once, as time, target or covariate; repeated: {dup or [time_column]}"
        )

    if len(df) == 0:
        raise InvalidValueError(f"the table has no rows (columns {columns}): a series needs at least one")
    time = pd.Index(df.index if time_column is None else df[time_column])
    time = _parse_time(time, time_column or "index")
    data = df[wanted].copy()
    data.index = time
    for name in wanted:
        data[name] = _numeric_column(df[name], name).to_numpy()
    check_values(data.to_numpy(dtype=np.float64), wanted, time, allow_missing=True)  # rows as in the file

    if not time.is_monotonic_increasing:
        order = np.argsort(np.asarray(time), kind="stable")
        data = data.iloc[order]
        time = data.index
    if time.has_duplicates:
        dups = time[time.duplicated()].unique()[:5]
        raise InvalidValueError(f"duplicate timestamps in {time_column or 'index'!r}: {[str(t) for t in dups]}")

    _check_grid_size(time, freq, time_column or "index")
    freq = resolve_freq(time, freq, time_column or "index")
    grid = regular_grid(time, freq)
    if len(grid) != len(time):  # timestamps absent from the grid become missing rows
        data = data.reindex(grid)
        time = grid

    for name in wanted:
        if data[name].isna().all():
            raise InvalidValueError(f"column {name!r} has no values: all {len(data)} rows are missing")
    missing = {name: list(data.index[data[name].isna()]) for name in wanted if data[name].isna().any()}
    if missing and fill is None:
        parts = [f"{name!r} at {show_positions(pos)}" for name, pos in missing.items()]
        raise MissingValuesError(
            "missing values in " + "; ".join(parts) + f"; pass --fill / fill= one of {list(FILL_METHODS)} to fill them",
            missing,
        )
    if missing:
        data = fill_missing(data, fill)

    def block(names):
        return data[names].to_numpy(dtype=np.float64) if names else None

    return TimeSeriesFrame(
        time=time,
        targets=block(targets),
        target_names=tuple(targets),
        past_covariates=block(past),
        past_names=tuple(past),
        future_covariates=block(future),
        future_names=tuple(future),
        freq=freq,
        filled=missing if missing else {},
    )


def from_array(values, start=0, freq: Freq = None, names: Optional[Sequence[str]] = None) -> TimeSeriesFrame:
    """Wrap a 1-D ``(T,)`` or 2-D ``(T, C)`` array as a frame with an integer (default) or date index.

    ``start`` is an int (index ``start, start+step, ...`` with ``step = freq or 1``) or a timestamp
    (then ``freq`` must be a pandas alias such as ``"MS"``).
    """
    require_pandas()
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise InvalidTypeError(f"series values must be numeric, got an array of dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidValueError(f"series values must have shape (T,) or (T, C) with T, C > 0, got {np.shape(values)}")
    names = (
        tuple(names) if names is not None else tuple(f"y{i}" if arr.shape[1] > 1 else "y" for i in range(arr.shape[1]))
    )
    if len(names) != arr.shape[1]:
        raise InvalidValueError(f"got {len(names)} names for {arr.shape[1]} columns")
    check_values(arr, names)
    if isinstance(start, (int, np.integer)) and not isinstance(start, bool):
        step = 1 if freq is None else freq
        if not isinstance(step, (int, np.integer)) or step <= 0:
            raise InvalidValueError(f"with an integer start, freq must be a positive int step, got {freq!r}")
        time = pd.Index(start + step * np.arange(arr.shape[0]), dtype=np.int64)
        freq = int(step)
    else:
        if not isinstance(freq, str):
            raise InvalidValueError(f"with a date start, freq must be a pandas alias such as 'MS' or 'D', got {freq!r}")
        time = date_grid(pd.Timestamp(start), freq, periods=arr.shape[0])
    return TimeSeriesFrame(time=time, targets=arr, target_names=names, freq=freq, filled={})


def as_frame(series) -> TimeSeriesFrame:
    """A :class:`TimeSeriesFrame` as is; an array or a pandas Series/DataFrame wrapped with defaults."""
    if isinstance(series, TimeSeriesFrame):
        return series
    if pd is not None and isinstance(series, pd.Series):
        series = series.to_frame(name=str(series.name) if series.name is not None else "y")
    if pd is not None and isinstance(series, pd.DataFrame):
        return from_dataframe(series, None, [c for c in series.columns])
    return from_array(series)


# ---- missing values --------------------------------------------------------------------------


def _check_fill(fill: Optional[str]) -> Optional[str]:
    """``fill`` if it is None or one of :data:`FILL_METHODS`, checked whether or not anything is missing
    (a method that does not exist is a mistake even in a complete series, and a saved model keeps it)."""
    return optional(choice, "fill", fill, FILL_METHODS)


def fill_missing(data: "pd.DataFrame", method: str) -> "pd.DataFrame":
    """Fill missing values column by column with ``method`` (one of :data:`FILL_METHODS`).

    ``ffill``/``bfill``/``linear`` also fill the edges from the nearest value, so nothing stays missing.
    """
    if method not in FILL_METHODS:
        raise InvalidValueError(f"fill must be one of {list(FILL_METHODS)}, got {method!r}")
    if method == "zero":
        return data.fillna(0.0)
    if method == "mean":
        return data.fillna(data.mean())
    if method == "ffill":
        return data.ffill().bfill()
    if method == "bfill":
        return data.bfill().ffill()
    return data.interpolate(method="linear", limit_direction="both")


# ---- time and values ----------------------------------------------------------------------

_MAX_INT_TIME = 2**53  # integer timestamps: exact in float64 (a CSV column may pass through floats), and
#                        their differences and grids far from int64's overflow
_MAX_GRID_FACTOR = 100  # a regular grid with more than 100x the rows given (+ 10,000) is a wrong freq


def _huge_time(name: str, arr: np.ndarray) -> InvalidValueError:
    row = int(np.flatnonzero(np.abs(arr.astype(np.float64)) > _MAX_INT_TIME)[0])
    return InvalidValueError(
        f"time column {name!r} row {row}: {arr[row]:g} is too large for an integer timestamp; "
        f"integer times must stay within +-2**53 = {_MAX_INT_TIME}"
    )


def _check_grid_size(time: "pd.Index", freq: Freq, name: str) -> None:
    """Refuse a regular grid (given or inferred ``freq``) that would hold far more rows than ``time``:
    the timestamps are then not at that frequency, and building the grid could exhaust memory."""
    if len(time) < 2:
        return
    if isinstance(time, pd.DatetimeIndex):
        if not isinstance(freq, str):
            return  # inferred: the candidates are already limited; a wrong type is resolve_freq's to name
        step_grid = date_grid(time[0], freq, periods=2)
        step = step_grid[1] - step_grid[0]
        if step <= pd.Timedelta(0):
            return
        rows = (time[-1] - time[0]) / step + 1
        shown = repr(freq)
    else:
        if freq is None:
            values, counts = np.unique(np.diff(time.to_numpy()), return_counts=True)
            step = int(values[np.argmax(counts)])  # as resolve_freq infers it
        elif is_int(freq) and freq > 0:
            step = int(freq)
        else:
            return  # resolve_freq names a bad freq
        rows = (int(time[-1]) - int(time[0])) // step + 1
        shown = f"step {step}"
    if rows > _MAX_GRID_FACTOR * len(time) + 10_000:
        raise InvalidValueError(
            f"timestamps in {name!r} span {rows:.0f} steps of {shown} ({time[0]} to {time[-1]}) but there are "
            f"only {len(time)} rows: a regular grid would be almost all missing values; is that the "
            f"frequency of this series (pass --freq / freq=)?"
        )


def _parse_time(time: "pd.Index", name: str) -> "pd.Index":
    if isinstance(time, pd.DatetimeIndex):
        if time.hasnans:
            raise InvalidValueError(
                f"time column {name!r} has missing timestamps at rows {np.flatnonzero(time.isna())[:5].tolist()}"
            )
        return time
    if time.dtype.kind in "iu":
        arr = time.to_numpy()
        if (arr > _MAX_INT_TIME).any() or (time.dtype.kind == "i" and (arr < -_MAX_INT_TIME).any()):
            raise _huge_time(name, arr)
        return pd.Index(arr.astype(np.int64))
    if time.dtype.kind == "f":
        arr = time.to_numpy()
        if np.isnan(arr).any() or (arr != np.round(arr)).any():
            raise InvalidTypeError(f"time column {name!r} holds non-integer numbers; expected dates or integers")
        if (np.abs(arr) > _MAX_INT_TIME).any():
            raise _huge_time(name, arr)
        return pd.Index(arr.astype(np.int64))
    try:
        parsed = pd.DatetimeIndex(pd.to_datetime(time, errors="raise"))
    except (ValueError, TypeError) as exc:
        raise InvalidTypeError(f"time column {name!r} could not be parsed as dates or integers: {exc}") from None
    if parsed.hasnans:
        raise InvalidValueError(
            f"time column {name!r} has missing timestamps at rows {np.flatnonzero(parsed.isna())[:5].tolist()}"
        )
    return parsed


def _numeric_column(col: "pd.Series", name: str) -> "pd.Series":
    if col.dtype.kind in "biuf":
        return col.astype(np.float64)
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidTypeError(
            f"column {name!r} is not numeric (dtype {col.dtype}): value {col.iloc[row]!r} at row {row} "
            f"({int(bad.sum())} non-numeric values); expected numbers"
        )
    return converted.astype(np.float64)

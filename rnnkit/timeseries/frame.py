"""Time series read from CSV or Parquet into a validated :class:`TimeSeriesFrame`.

A frame holds one time index at a regular frequency, one or more target columns, optional past
covariates (known only up to now, e.g. a measured temperature) and optional known-future
covariates (known ahead, e.g. a holiday flag; calendar features are derived, see
:func:`calendar_features`). Every problem found on the way in -- a missing column, a non-numeric
target, an all-missing column, duplicate or irregular timestamps, missing values -- raises a
``ValueError``/``TypeError`` naming the column, the positions and what was expected.

The time column may hold dates (any format pandas parses) or integers (e.g. years); an integer
index must advance by a constant step, which is then its ``freq``.

A date frequency is a pandas alias (``"MS"``, ``"W-SUN"``, ``"QS-OCT"``, ``"2h"``) or, for a
monthly, quarterly or yearly series on another day than the first or last of the period (pandas
has no alias for those), a period-start alias shifted by whole days: ``"MS+14D"`` is monthly on
the 15th. When ``pandas.infer_freq`` finds no frequency, the regular grid from the first timestamp
that holds most rows (hourly, daily, weekly, monthly, ... candidates, calendar-aware) is taken as
the intended one and the timestamps missing from it or off it are reported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

try:  # pandas is an optional dependency (extra "timeseries")
    import pandas as pd
except ImportError:  # pragma: no cover - exercised only without pandas
    pd = None

FILL_METHODS = ("ffill", "bfill", "linear", "zero", "mean")
Freq = Union[str, int, None]


def _require_pandas():
    if pd is None:
        raise ImportError("reading time series needs pandas: pip install 'rnnkit[timeseries]'")
    return pd


class IrregularTimestampsError(ValueError):
    """Raised when the timestamps are not on a regular grid and no ``freq`` was given.

    ``freq`` is the frequency of the regular grid that holds most rows (None if none does);
    ``missing`` lists its timestamps absent from the data, ``extra`` the data's timestamps off it.
    """

    def __init__(self, message: str, freq: Freq, missing: list, extra: list) -> None:
        super().__init__(message)
        self.freq, self.missing, self.extra = freq, missing, extra


class MissingValuesError(ValueError):
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
            raise TypeError(f"split position must be an int, got {at!r}")
        n = len(self)
        pos = at + n if at < 0 else at
        if not 0 < pos < n:
            raise ValueError(f"split position must leave rows on both sides of a {n}-row series, got {at}")
        return self.slice(0, pos), self.slice(pos, None)

    def future_times(self, horizon: int) -> "pd.Index":
        """The ``horizon`` timestamps after the last one, at the frame's frequency."""
        return extend_index(self.time, horizon, self.freq)

    def to_dataframe(self) -> "pd.DataFrame":
        _require_pandas()
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
    _require_pandas()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"time series file not found: {path!r}")
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        df = pd.read_parquet(path)
    elif lower.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        df = pd.read_csv(path, sep="\t" if lower.endswith(".tsv") else ",")
    else:
        raise ValueError(f"unsupported file type for {path!r}: expected .csv, .csv.gz, .tsv, .txt, .parquet or .pq")
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
    _require_pandas()
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    targets = [target_columns] if isinstance(target_columns, str) else list(target_columns)
    if not targets:
        raise ValueError("target_columns is empty: name at least one column to forecast")
    past, future = list(past_covariates), list(future_covariates)
    wanted = targets + past + future
    columns = [str(c) for c in df.columns]
    if time_column is not None and time_column not in df.columns:
        raise ValueError(f"time column {time_column!r} not found; the columns are {columns}")
    for name in wanted:
        if name not in df.columns:
            raise ValueError(f"column {name!r} not found; the columns are {columns}")
    dup = sorted({n for n in wanted if wanted.count(n) > 1})
    if dup or (time_column is not None and time_column in wanted):
        raise ValueError(f"columns may be used once, as time, target or covariate; repeated: {dup or [time_column]}")

    time = pd.Index(df.index if time_column is None else df[time_column])
    time = _parse_time(time, time_column or "index")
    data = df[wanted].copy()
    data.index = time
    for name in wanted:
        data[name] = _numeric_column(df[name], name).to_numpy()

    if not time.is_monotonic_increasing:
        order = np.argsort(np.asarray(time), kind="stable")
        data = data.iloc[order]
        time = data.index
    if time.has_duplicates:
        dups = time[time.duplicated()].unique()[:5]
        raise ValueError(f"duplicate timestamps in {time_column or 'index'!r}: {[str(t) for t in dups]}")

    freq = _resolve_freq(time, freq, time_column or "index")
    grid = _regular_grid(time, freq)
    if len(grid) != len(time):  # timestamps absent from the grid become missing rows
        data = data.reindex(grid)
        time = grid

    for name in wanted:
        if data[name].isna().all():
            raise ValueError(f"column {name!r} has no values: all {len(data)} rows are missing")
    missing = {name: list(data.index[data[name].isna()]) for name in wanted if data[name].isna().any()}
    if missing and fill is None:
        parts = [f"{name!r} at {_show_positions(pos)}" for name, pos in missing.items()]
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
    _require_pandas()
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"series values must be numeric, got an array of dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"series values must have shape (T,) or (T, C) with T, C > 0, got {np.shape(values)}")
    names = tuple(names) if names is not None else tuple(f"y{i}" if arr.shape[1] > 1 else "y" for i in range(arr.shape[1]))
    if len(names) != arr.shape[1]:
        raise ValueError(f"got {len(names)} names for {arr.shape[1]} columns")
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        raise ValueError(f"series values must be finite; non-finite at (row, column) {bad[:5].tolist()}")
    if isinstance(start, (int, np.integer)) and not isinstance(start, bool):
        step = 1 if freq is None else freq
        if not isinstance(step, (int, np.integer)) or step <= 0:
            raise ValueError(f"with an integer start, freq must be a positive int step, got {freq!r}")
        time = pd.Index(start + step * np.arange(arr.shape[0]), dtype=np.int64)
        freq = int(step)
    else:
        if not isinstance(freq, str):
            raise ValueError(f"with a date start, freq must be a pandas alias such as 'MS' or 'D', got {freq!r}")
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


def fill_missing(data: "pd.DataFrame", method: str) -> "pd.DataFrame":
    """Fill missing values column by column with ``method`` (one of :data:`FILL_METHODS`).

    ``ffill``/``bfill``/``linear`` also fill the edges from the nearest value, so nothing stays missing.
    """
    if method not in FILL_METHODS:
        raise ValueError(f"fill must be one of {list(FILL_METHODS)}, got {method!r}")
    if method == "zero":
        return data.fillna(0.0)
    if method == "mean":
        return data.fillna(data.mean())
    if method == "ffill":
        return data.ffill().bfill()
    if method == "bfill":
        return data.bfill().ffill()
    return data.interpolate(method="linear", limit_direction="both")


def _show_time(t) -> str:
    """A timestamp at midnight as its date (2020-06-01), others in full; integers as they are."""
    if isinstance(t, pd.Timestamp) and t == t.normalize():
        return str(t.date())
    return str(t)


def _show_positions(labels: list, limit: int = 5) -> str:
    shown = ", ".join(_show_time(t) for t in labels[:limit])
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return f"[{shown}{more}] ({len(labels)} in all)"


# ---- time and frequency ----------------------------------------------------------------------


def _parse_time(time: "pd.Index", name: str) -> "pd.Index":
    if isinstance(time, pd.DatetimeIndex):
        if time.hasnans:
            raise ValueError(f"time column {name!r} has missing timestamps at rows {np.flatnonzero(time.isna())[:5].tolist()}")
        return time
    if time.dtype.kind in "iu":
        return pd.Index(time.astype(np.int64))
    if time.dtype.kind == "f":
        arr = time.to_numpy()
        if np.isnan(arr).any() or (arr != np.round(arr)).any():
            raise TypeError(f"time column {name!r} holds non-integer numbers; expected dates or integers")
        return pd.Index(arr.astype(np.int64))
    try:
        parsed = pd.DatetimeIndex(pd.to_datetime(time, errors="raise"))
    except (ValueError, TypeError) as exc:
        raise TypeError(f"time column {name!r} could not be parsed as dates or integers: {exc}") from None
    if parsed.hasnans:
        raise ValueError(f"time column {name!r} has missing timestamps at rows {np.flatnonzero(parsed.isna())[:5].tolist()}")
    return parsed


def _numeric_column(col: "pd.Series", name: str) -> "pd.Series":
    if col.dtype.kind in "biuf":
        return col.astype(np.float64)
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise TypeError(
            f"column {name!r} is not numeric (dtype {col.dtype}): value {col.iloc[row]!r} at row {row} "
            f"({int(bad.sum())} non-numeric values); expected numbers"
        )
    return converted.astype(np.float64)


def _resolve_freq(time: "pd.Index", freq: Freq, name: str) -> Freq:
    if len(time) < 3 and freq is None:
        raise ValueError(f"cannot infer a frequency from {len(time)} timestamps; pass --freq / freq=")
    if not isinstance(time, pd.DatetimeIndex):  # integer index: a constant positive step
        steps = np.diff(time.to_numpy())
        if freq is not None:
            if isinstance(freq, bool) or not isinstance(freq, (int, np.integer)) or freq <= 0:
                raise ValueError(f"freq for an integer time column must be a positive int step, got {freq!r}")
            if (steps % freq != 0).any():
                bad = int(np.flatnonzero(steps % freq != 0)[0])
                raise ValueError(f"timestamps in {name!r} are off the step {freq}: {time[bad]} -> {time[bad + 1]}")
            return int(freq)
        values, counts = np.unique(steps, return_counts=True)
        step = int(values[np.argmax(counts)])  # the most common step
        grid = _regular_grid(time, step)
        _check_on_grid(time, name, step if _fit(time, grid) >= 0.5 else None, grid)
        return step
    if freq is not None:
        if not isinstance(freq, str):
            raise ValueError(f"freq for a date time column must be a pandas alias such as 'MS' or 'D', got {freq!r}")
        grid = date_grid(time[0], freq, end=time[-1])
        off = time.difference(grid)
        if len(off):
            raise ValueError(f"timestamps in {name!r} are off the {freq!r} grid starting {time[0]}: {[str(t) for t in off[:5]]}")
        return freq
    inferred = pd.infer_freq(time)
    if inferred is not None:
        return inferred
    best, best_grid, best_fit = None, None, 0.0
    for candidate in _candidate_freqs(time):
        grid = date_grid(time[0], candidate, end=time[-1])
        fit = _fit(time, grid)
        if fit > best_fit:
            best, best_grid, best_fit = candidate, grid, fit
    _check_on_grid(time, name, best if best_fit >= 0.5 else None, best_grid)
    return best  # a regular grid pandas has no alias for, e.g. monthly on the 15th: 'MS+14D'


def _fit(time, grid) -> float:
    """How well a regular grid fits the timestamps: shared / all (1: every row on it, none missing)."""
    return len(time.intersection(grid)) / len(time.union(grid))


def _check_on_grid(time, name: str, freq: Freq, grid) -> None:
    """Raise :class:`IrregularTimestampsError` unless ``time`` is exactly ``grid`` (``freq``'s)."""
    if freq is None:
        steps = np.diff(time.to_numpy())
        values, counts = np.unique(steps, return_counts=True)
        common = values[np.argmax(counts)]
        odd = np.flatnonzero(steps != common)[:3]
        shown = [f"{time[i]} -> {time[i + 1]}" for i in odd]
        raise IrregularTimestampsError(
            f"irregular timestamps in {name!r}: no regular frequency fits; most steps are "
            f"{pd.Timedelta(common) if isinstance(time, pd.DatetimeIndex) else common}, but not {shown}; "
            "pass --freq / freq= to place the rows on a regular grid (gaps become missing values)",
            None, [], [],
        )
    missing, extra = list(grid.difference(time)), list(time.difference(grid))
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"missing {_show_positions(missing)}")
    if extra:
        parts.append(f"off the {freq!r} grid: {_show_positions(extra)}")
    hint = (f"pass --freq {freq} / freq={freq!r} to place the rows on that grid (the missing timestamps become "
            "missing values: fill them with --fill / fill=)")
    if extra:
        hint = "remove or correct the rows off the grid, or give another --freq / freq="
    raise IrregularTimestampsError(
        f"irregular timestamps in {name!r}: the rows lie on the {freq!r} grid from {_show_time(time[0])} except: "
        + "; ".join(parts) + f"; {hint}",
        freq, missing, extra,
    )


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def _candidate_freqs(time: "pd.DatetimeIndex") -> List[str]:
    """Regular grids through ``time[0]``: the most common step, business days, weeks, months,
    quarters and years anchored on that timestamp; grids far denser than the data are left out."""
    first = time[0]
    span = time[-1] - first
    steps = pd.to_timedelta(np.diff(time.to_numpy()))
    values, counts = np.unique(steps, return_counts=True)
    common = pd.Timedelta(values[np.argmax(counts)])
    day = pd.Timedelta(days=1)
    if common % day == pd.Timedelta(0):
        n = common // day
        weekday = _WEEKDAYS[first.dayofweek]
        fixed = ("D" if n == 1 else f"{n}D") if n % 7 else ("" if n == 7 else str(n // 7)) + f"W-{weekday}"
    else:
        fixed = pd.tseries.frequencies.to_offset(common).freqstr
    month = _MONTHS[first.month - 1]
    if first.day == 1:
        ends = ("MS", f"QS-{month}", f"YS-{month}")
    elif first.is_month_end:
        ends = ("ME", f"QE-{month}", f"YE-{month}")
    elif first.day <= 28:  # the same day exists in every month
        shift = f"+{first.day - 1}D"
        ends = ("MS" + shift, f"QS-{month}" + shift, f"YS-{month}" + shift)
    else:
        ends = ()
    nominal = [(fixed, common), (f"W-{_WEEKDAYS[first.dayofweek]}", 7 * day)]
    if first.dayofweek < 5:
        nominal.append(("B", day))
    nominal += list(zip(ends, (28 * day, 89 * day, 365 * day)))
    limit = 4 * len(time) + 10  # a grid with more points than this fits the rows less than 1/4
    return list(dict.fromkeys(f for f, length in nominal if span / length <= limit))


def date_offset(freq: str) -> Tuple[object, "pd.Timedelta"]:
    """``(pandas offset, shift)`` of a date frequency: a pandas alias (shift 0) or an ``MS``/``QS``/
    ``YS`` alias shifted by 1 to 27 whole days, ``"MS+14D"`` (monthly on the 15th)."""
    _require_pandas()
    base, plus, shift = str(freq).partition("+")
    days = re.fullmatch(r"([1-9]|1[0-9]|2[0-7])D", shift) if plus else None
    try:
        offset = pd.tseries.frequencies.to_offset(base)
    except ValueError:
        offset = None
    anchored = isinstance(offset, (pd.offsets.MonthBegin, pd.offsets.QuarterBegin, pd.offsets.YearBegin))
    if offset is None or (plus and (days is None or not anchored)):
        raise ValueError(f"freq {freq!r} is not a pandas frequency alias (e.g. 'D', 'h', 'W', 'MS', 'ME', 'YS') "
                         "nor a period start shifted by 1 to 27 days (e.g. 'MS+14D': monthly on the 15th)")
    return offset, pd.Timedelta(days=int(days.group(1)) if days else 0)


def date_grid(start: "pd.Timestamp", freq: str, end: Optional["pd.Timestamp"] = None,
              periods: Optional[int] = None) -> "pd.DatetimeIndex":
    """``pandas.date_range`` for any frequency :func:`date_offset` accepts (from ``start``, which
    is rolled forward to the grid if off it)."""
    offset, shift = date_offset(freq)
    grid = pd.date_range(start - shift, None if end is None else end - shift, periods=periods, freq=offset)
    return grid + shift if shift else grid


_PERIODS = {"h": 24, "D": 7, "B": 5, "C": 5, "W": 52, "SMS": 24, "SME": 24, "MS": 12, "ME": 12, "BMS": 12,
            "BME": 12, "QS": 4, "QE": 4, "BQS": 4, "BQE": 4, "YS": 1, "YE": 1, "BYS": 1, "BYE": 1}


def seasonal_period(freq: Freq) -> int:
    """Steps in the usual seasonal cycle of a frequency, anchors ignored: hourly 24 (a day), daily
    7 (a week), business daily 5, weekly 52, monthly 12, quarterly 4 (a year), yearly 1 (none).

    A multiple divides the period when it can (``"2W-SUN"`` 26, ``"3MS"`` 4, ``"2h"`` 12), else 1;
    integer steps, finer frequencies and ``None`` give 1.
    """
    if not isinstance(freq, str):
        return 1
    try:
        offset, _ = date_offset(freq)
    except ValueError:
        return 1
    period = _PERIODS.get(offset.name.split("-")[0], 1)
    return period // offset.n if offset.n > 0 and period % offset.n == 0 else 1


def _regular_grid(time: "pd.Index", freq: Freq) -> "pd.Index":
    if isinstance(time, pd.DatetimeIndex):
        return date_grid(time[0], freq, end=time[-1])
    return pd.Index(np.arange(time[0], time[-1] + 1, freq, dtype=np.int64))


def extend_index(time: "pd.Index", horizon: int, freq: Freq) -> "pd.Index":
    """The ``horizon`` timestamps after ``time[-1]`` at frequency ``freq``."""
    _require_pandas()
    if isinstance(time, pd.DatetimeIndex):
        if freq is None:
            raise ValueError("cannot extend a date index without a frequency")
        return date_grid(time[-1], freq, periods=horizon + 1)[1:]
    step = 1 if freq is None else int(freq)
    return pd.Index(time[-1] + step * np.arange(1, horizon + 1), dtype=np.int64)


# ---- calendar features -----------------------------------------------------------------------


def calendar_features(time: "pd.Index") -> Tuple[np.ndarray, Tuple[str, ...]]:
    """Known-future covariates derived from dates: sin/cos of hour, day of week and month.

    Which cycles are included depends on the index spacing: month for monthly or finer series,
    day of week for daily or finer, hour of day for sub-daily. Yearly (or coarser) and integer
    indexes give no features: ``(array (T, 0), ())``.
    """
    _require_pandas()
    if not isinstance(time, pd.DatetimeIndex) or len(time) < 2:
        return np.zeros((len(time), 0)), ()
    spacing_days = float(np.median(np.diff(time.to_numpy())) / np.timedelta64(1, "D"))
    cycles: List[Tuple[str, np.ndarray, float]] = []
    if spacing_days < 1:
        cycles.append(("hour", time.hour.to_numpy(), 24.0))
    if spacing_days < 7:
        cycles.append(("dayofweek", time.dayofweek.to_numpy(), 7.0))
    if spacing_days < 100:
        cycles.append(("month", time.month.to_numpy() - 1, 12.0))
    cols, names = [], []
    for name, value, period in cycles:
        angle = 2 * np.pi * value / period
        cols += [np.sin(angle), np.cos(angle)]
        names += [f"{name}_sin", f"{name}_cos"]
    if not cols:
        return np.zeros((len(time), 0)), ()
    return np.stack(cols, axis=1).astype(np.float64), tuple(names)

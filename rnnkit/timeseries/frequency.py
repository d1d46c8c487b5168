"""Frequencies of regular time series: inferring them, their grids, their seasonal period.

A date frequency is a pandas alias (``"MS"``, ``"W-SUN"``, ``"QS-OCT"``, ``"2h"``) or, for a
monthly, quarterly or yearly series on another day than the first or last of the period (pandas
has no alias for those), a period-start alias shifted by whole days: ``"MS+14D"`` is monthly on
the 15th. An integer time index has an int step as its frequency. When ``pandas.infer_freq``
finds no frequency, the regular grid from the first timestamp that holds most rows (hourly,
daily, weekly, monthly, ... candidates, calendar-aware) is taken as the intended one and the
timestamps missing from it or off it are reported (:class:`IrregularTimestampsError`).

:func:`seasonal_period` is the one rule for the seasonal period of a frequency (a bundled
dataset records its own in :mod:`rnnkit.timeseries.datasets`).
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple, Union

import numpy as np

from .._checks import InvalidValueError, MissingOptionalDependency

try:  # pandas is an optional dependency (extra "timeseries")
    import pandas as pd
except ImportError:  # pragma: no cover - exercised only without pandas
    pd = None

Freq = Union[str, int, None]


def require_pandas():
    """The pandas module; :class:`MissingOptionalDependency` saying how to install it if absent."""
    if pd is None:
        raise MissingOptionalDependency("time series need pandas: pip install 'rnnkit[timeseries]'")
    return pd


class IrregularTimestampsError(InvalidValueError):
    """Raised when the timestamps are not on a regular grid and no ``freq`` was given.

    ``freq`` is the frequency of the regular grid that holds most rows (None if none does);
    ``missing`` lists its timestamps absent from the data, ``extra`` the data's timestamps off it.
    """

    def __init__(self, message: str, freq: Freq, missing: list, extra: list) -> None:
        super().__init__(message)
        self.freq, self.missing, self.extra = freq, missing, extra


def show_time(t) -> str:
    """A timestamp at midnight as its date (2020-06-01), others in full; integers as they are."""
    if isinstance(t, pd.Timestamp) and t == t.normalize():
        return str(t.date())
    return str(t)


def show_positions(labels: list, limit: int = 5) -> str:
    """The first ``limit`` timestamps of ``labels`` and how many there are, for an error message."""
    shown = ", ".join(show_time(t) for t in labels[:limit])
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return f"[{shown}{more}] ({len(labels)} in all)"


def resolve_freq(time: "pd.Index", freq: Freq, name: str) -> Freq:
    if len(time) < 3 and freq is None:
        raise InvalidValueError(f"cannot infer a frequency from {len(time)} timestamps; pass --freq / freq=")
    if not isinstance(time, pd.DatetimeIndex):  # integer index: a constant positive step
        steps = np.diff(time.to_numpy())
        if freq is not None:
            if isinstance(freq, bool) or not isinstance(freq, (int, np.integer)) or freq <= 0:
                raise InvalidValueError(f"freq for an integer time column must be a positive int step, got {freq!r}")
            if (steps % freq != 0).any():
                bad = int(np.flatnonzero(steps % freq != 0)[0])
                raise InvalidValueError(
                    f"timestamps in {name!r} are off the step {freq}: {time[bad]} -> {time[bad + 1]}"
                )
            return int(freq)
        values, counts = np.unique(steps, return_counts=True)
        step = int(values[np.argmax(counts)])  # the most common step
        grid = regular_grid(time, step)
        _check_on_grid(time, name, step if _fit(time, grid) >= 0.5 else None, grid)
        return step
    if freq is not None:
        if not isinstance(freq, str):
            raise InvalidValueError(
                f"freq for a date time column must be a pandas alias such as 'MS' or 'D', got {freq!r}"
            )
        grid = date_grid(time[0], freq, end=time[-1])
        off = time.difference(grid)
        if len(off):
            raise InvalidValueError(
                f"timestamps in {name!r} are off the {freq!r} grid starting {time[0]}: {[str(t) for t in off[:5]]}"
            )
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
            None,
            [],
            [],
        )
    missing, extra = list(grid.difference(time)), list(time.difference(grid))
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"missing {show_positions(missing)}")
    if extra:
        parts.append(f"off the {freq!r} grid: {show_positions(extra)}")
    hint = (
        f"pass --freq {freq} / freq={freq!r} to place the rows on that grid (the missing timestamps become "
        "missing values: fill them with --fill / fill=)"
    )
    if extra:
        hint = "remove or correct the rows off the grid, or give another --freq / freq="
    raise IrregularTimestampsError(
        f"irregular timestamps in {name!r}: the rows lie on the {freq!r} grid from {show_time(time[0])} except: "
        + "; ".join(parts)
        + f"; {hint}",
        freq,
        missing,
        extra,
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
    require_pandas()
    base, plus, shift = str(freq).partition("+")
    days = re.fullmatch(r"([1-9]|1[0-9]|2[0-7])D", shift) if plus else None
    try:
        offset = pd.tseries.frequencies.to_offset(base)
    except ValueError:
        offset = None
    anchored = isinstance(offset, (pd.offsets.MonthBegin, pd.offsets.QuarterBegin, pd.offsets.YearBegin))
    if offset is None or (plus and (days is None or not anchored)):
        raise InvalidValueError(
            f"freq {freq!r} is not a pandas frequency alias (e.g. 'D', 'h', 'W', 'MS', 'ME', 'YS') "
            "nor a period start shifted by 1 to 27 days (e.g. 'MS+14D': monthly on the 15th)"
        )
    return offset, pd.Timedelta(days=int(days.group(1)) if days else 0)


def date_grid(
    start: "pd.Timestamp", freq: str, end: Optional["pd.Timestamp"] = None, periods: Optional[int] = None
) -> "pd.DatetimeIndex":
    """``pandas.date_range`` for any frequency :func:`date_offset` accepts (from ``start``, which
    is rolled forward to the grid if off it)."""
    offset, shift = date_offset(freq)
    grid = pd.date_range(start - shift, None if end is None else end - shift, periods=periods, freq=offset)
    return grid + shift if shift else grid


_PERIODS = {
    "h": 24,
    "D": 7,
    "B": 5,
    "C": 5,
    "W": 52,
    "SMS": 24,
    "SME": 24,
    "MS": 12,
    "ME": 12,
    "BMS": 12,
    "BME": 12,
    "QS": 4,
    "QE": 4,
    "BQS": 4,
    "BQE": 4,
    "YS": 1,
    "YE": 1,
    "BYS": 1,
    "BYE": 1,
}


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


def regular_grid(time: "pd.Index", freq: Freq) -> "pd.Index":
    if isinstance(time, pd.DatetimeIndex):
        return date_grid(time[0], freq, end=time[-1])
    return pd.Index(np.arange(time[0], time[-1] + 1, freq, dtype=np.int64))


def extend_index(time: "pd.Index", horizon: int, freq: Freq) -> "pd.Index":
    """The ``horizon`` timestamps after ``time[-1]`` at frequency ``freq``."""
    require_pandas()
    if isinstance(time, pd.DatetimeIndex):
        if freq is None:
            raise InvalidValueError("cannot extend a date index without a frequency")
        return date_grid(time[-1], freq, periods=horizon + 1)[1:]
    step = 1 if freq is None else int(freq)
    return pd.Index(time[-1] + step * np.arange(1, horizon + 1), dtype=np.int64)

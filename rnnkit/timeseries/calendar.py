"""Calendar features: known-future covariates a forecaster derives from dates itself."""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

from .frequency import require_pandas


def calendar_features(time) -> Tuple[np.ndarray, Tuple[str, ...]]:
    """Known-future covariates derived from dates ``time`` (a pandas Index): sin/cos of hour, day of
    week and month, ``(sin(2 pi v / P), cos(2 pi v / P))`` for a value ``v`` of period ``P``.

    Which cycles are included depends on the index spacing: month for monthly or finer series,
    day of week for daily or finer, hour of day for sub-daily. Yearly (or coarser) and integer
    indexes give no features: ``(array (T, 0), ())``.
    """
    pd = require_pandas()
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

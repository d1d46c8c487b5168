"""Per-series standard scaling, fitted on training data only and inverted on output.

Each column (series) ``c`` is mapped to ``(x[:, c] - mean[c]) / std[c]`` with the mean and
standard deviation of the data given to :meth:`StandardScaler.fit` -- only ever the training part,
so nothing about held-out data leaks into the model. A constant column gets ``std = 1`` (or, far
from zero, ``1e-12 * |mean|``: the float64 rounding of such a column is not a spread).

Which numbers can be computed with (:func:`check_values`, applied to every series where it enters
rnnkit, see :mod:`rnnkit.timeseries.frame`): finite ones within ``+-MAX_MAGNITUDE`` = 1e150.
Standardising happens in float64: ``std`` squares the deviations ``x - mean``, which are at most
``2 * 1e150`` in magnitude, so each square is at most ``4e300`` and their sum stays below float64's
largest number (about ``1.8e308``) for up to 4.5e7 rows; at 1e306-1e308 the squares (and even the
sums of the mean) overflow to ``inf``, and what follows is NaN forecasts with infinite intervals
or a failed least-squares solve. The scaled values ``z`` then reach the float32 network, which
squares them again (window normalisation's standard deviation): :meth:`StandardScaler.transform`
refuses ``|z| > MAX_SCALED`` = 1e15, whose squares summed over a million-step window stay below
float32's largest number (about ``3.4e38``). Training data is always inside that bound (a
standardised column has ``|z| <= sqrt(T)``); new data far outside the training range is not.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from .._checks import InvalidValueError

MAX_MAGNITUDE = 1e150  # |x| bound for series values: their squares must not overflow float64 (see above)
MAX_SCALED = 1e15  # |z| bound for standardised values: their squares must not overflow float32 (see above)


def check_values(
    values,
    names: Sequence[str],
    time=None,
    *,
    allow_missing: bool = False,
    what: str = "column",
) -> None:
    """Refuse the first value of ``values`` ``(T, K)`` that cannot be computed with.

    A value is refused when it is infinite, when ``|x| > MAX_MAGNITUDE`` (see the module
    docstring for the bound's reason), or when it is missing (NaN) and ``allow_missing`` is False.
    The :class:`~rnnkit._checks.InvalidValueError` names the column (``names[k]``), the row (its
    position in ``values``) and, when ``time`` (T labels) is given, its timestamp, e.g.
    ``column 'sales' row 17 (2020-05-01): 1e+308 is too large in magnitude: ...``.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InvalidValueError(f"series values must be a table (T, K), got shape {arr.shape}")
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(arr) <= MAX_MAGNITUDE)  # NaN and inf fail the comparison
    if allow_missing:
        bad &= ~np.isnan(arr)
    if not bad.any():
        return
    columns, rows = np.nonzero(bad.T)  # column by column: the first bad value of the first bad column
    k, row = int(columns[0]), int(rows[0])
    value = float(arr[row, k])
    name = names[k] if k < len(names) else k
    where = f"{what} {name!r} row {row}"
    if time is not None:
        from .frequency import show_time

        where += f" ({show_time(time[row])})"
    count = int(bad.sum())
    also = f" ({count} such values in all)" if count > 1 else ""
    if np.isnan(value):
        raise InvalidValueError(
            f"{where}: a missing value (NaN){also}: fill missing values first (fill= / --fill); "
            f"series values must be finite numbers"
        )
    if np.isinf(value):
        raise InvalidValueError(
            f"{where}: {value!r} is not a finite number{also}: values must be finite numbers within "
            f"+-{MAX_MAGNITUDE:g} (an empty cell is a missing value, which fill= / --fill fills)"
        )
    raise InvalidValueError(
        f"{where}: {value!r} is too large in magnitude{also}: values must stay within "
        f"+-{MAX_MAGNITUDE:g} so that the scaler's squares do not overflow"
    )


class StandardScaler:
    """Per-column standardisation: ``fit(train)``, ``transform(x)``, ``inverse_transform(z)``.

    ``transform`` and ``inverse_transform`` accept any array whose last axis has the fitted
    number of columns (``(T, C)``, ``(N, T, C)``, ...); ``inverse_scale`` maps standard
    deviations (no shift). The state is plain JSON (:meth:`state_dict` / :meth:`from_state_dict`).
    """

    def __init__(self) -> None:
        self.mean: Optional[np.ndarray] = None  # (C,)
        self.std: Optional[np.ndarray] = None  # (C,)

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    def fit(self, x) -> "StandardScaler":
        arr = _as_2d(x, "fit")
        if arr.shape[0] == 0:
            raise InvalidValueError("cannot fit a scaler on 0 rows")
        if np.isnan(arr).any():
            raise InvalidValueError("cannot fit a scaler on data with missing or infinite values; fill them first")
        check_values(arr, [], what="fit: column")
        self.mean = arr.mean(axis=0)
        std = arr.std(axis=0)
        tiny = 1e-12 * np.maximum(1.0, np.abs(self.mean))  # below this a spread is float64 rounding
        self.std = np.where(std > tiny, std, np.maximum(1.0, tiny))
        return self

    def transform(self, x) -> np.ndarray:
        """``(x - mean) / std``; refuses results beyond ``+-MAX_SCALED`` (see the module docstring),
        naming the column, the value and how far it lies from the fitted data."""
        arr = self._check(x, "transform")
        with np.errstate(over="ignore", invalid="ignore"):
            z = (arr - self.mean) / self.std
        bad = ~(np.abs(z) <= MAX_SCALED)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            c = index[-1]
            if not np.isfinite(arr[index]):
                raise InvalidValueError(
                    f"column {c} holds {float(arr[index])!r} at position {index[:-1]}: values must be finite numbers"
                )
            raise InvalidValueError(
                f"{float(arr[index])!r} in column {c} lies {abs(z[index]):g} standard deviations "
                f"from the data the scaler was fitted on (mean {self.mean[c]:g}, std {self.std[c]:g}); "
                f"scaled values must stay within +-{MAX_SCALED:g} so that the float32 network's squares "
                f"do not overflow: is the series in the units the model was trained on?"
            )
        return z

    def inverse_transform(self, z) -> np.ndarray:
        arr = self._check(z, "inverse_transform")
        return arr * self.std + self.mean

    def inverse_scale(self, s) -> np.ndarray:
        """Map a spread (standard deviation) from scaled units back to data units."""
        return self._check(s, "inverse_scale") * self.std

    def state_dict(self) -> Dict[str, List[float]]:
        if not self.fitted:
            raise InvalidValueError("the scaler is not fitted")
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state_dict(cls, state: Dict[str, List[float]]) -> "StandardScaler":
        if not isinstance(state, dict) or set(state) != {"mean", "std"}:
            raise InvalidValueError(f"scaler state must be a dict with keys 'mean' and 'std', got {state!r}")
        scaler = cls()
        scaler.mean = np.asarray(state["mean"], dtype=np.float64)
        scaler.std = np.asarray(state["std"], dtype=np.float64)
        if scaler.mean.shape != scaler.std.shape or scaler.mean.ndim != 1 or (scaler.std <= 0).any():
            raise InvalidValueError(f"invalid scaler state: {state!r}")
        return scaler

    def _check(self, x, what: str) -> np.ndarray:
        if not self.fitted:
            raise InvalidValueError(f"call fit() before {what}()")
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 0 or arr.shape[-1] != self.mean.shape[0]:
            raise InvalidValueError(
                f"{what} expects a last axis of {self.mean.shape[0]} columns, got shape {arr.shape}"
            )
        return arr


def _as_2d(x, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InvalidValueError(f"{what} expects an array (T,) or (T, C), got shape {arr.shape}")
    return arr

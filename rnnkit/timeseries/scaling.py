"""Per-series standard scaling, fitted on training data only and inverted on output.

Each column (series) ``c`` is mapped to ``(x[:, c] - mean[c]) / std[c]`` with the mean and
standard deviation of the data given to :meth:`StandardScaler.fit` -- only ever the training part,
so nothing about held-out data leaks into the model. A constant column gets ``std = 1``.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from .._checks import InvalidValueError


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
        if not np.isfinite(arr).all():
            raise InvalidValueError("cannot fit a scaler on data with missing or infinite values; fill them first")
        self.mean = arr.mean(axis=0)
        std = arr.std(axis=0)
        self.std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(self.mean)), std, 1.0)
        return self

    def transform(self, x) -> np.ndarray:
        arr = self._check(x, "transform")
        return (arr - self.mean) / self.std

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

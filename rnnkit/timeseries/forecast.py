"""What every forecaster returns: :class:`Forecast` -- point forecasts, interval bounds, times."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .._checks import InvalidTypeError, InvalidValueError, describe, is_int


@dataclass(frozen=True)
class Forecast:
    """A forecast of ``H`` steps for ``C`` series, in the data's own units.

    Attributes:
        mean: point forecasts ``(H, C)``.
        lower, upper: interval bounds ``(H, C)`` at nominal coverage ``level``, or None when the
            model gives no interval (naive baselines).
        level: nominal coverage of ``[lower, upper]`` (e.g. 0.9).
        time: the H timestamps (a pandas Index) or None.
        names: the C series names.
    """

    mean: np.ndarray
    lower: Optional[np.ndarray] = None
    upper: Optional[np.ndarray] = None
    level: Optional[float] = None
    time: object = None
    names: Tuple[str, ...] = ()

    @property
    def horizon(self) -> int:
        return int(self.mean.shape[0])

    def to_dataframe(self):
        """Columns ``{name}``, ``{name}_lower``, ``{name}_upper`` indexed by time (needs pandas)."""
        import pandas as pd

        names = list(self.names) or [f"y{i}" for i in range(self.mean.shape[1])]
        df = pd.DataFrame(self.mean, columns=names, index=self.time)
        if self.lower is not None:
            for i, n in enumerate(names):
                df[f"{n}_lower"] = self.lower[:, i]
                df[f"{n}_upper"] = self.upper[:, i]
        return df


def check_horizon(horizon) -> int:
    """``horizon`` if it is an int >= 1, else :class:`InvalidTypeError`/:class:`InvalidValueError` naming it."""
    if not is_int(horizon):
        raise InvalidTypeError(f"horizon must be an int, got {describe(horizon)}")
    if horizon <= 0:
        raise InvalidValueError(f"horizon must be a positive number of steps, got {horizon}")
    return int(horizon)

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")

from rnnkit.timeseries.anomaly import AnomalyResult  # noqa: E402
from rnnkit.timeseries.forecast import Forecast  # noqa: E402
from rnnkit.timeseries.frame import from_array  # noqa: E402
from rnnkit.timeseries.plots import plot_anomalies, plot_backtest_errors, plot_forecast  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


def test_forecast_backtest_and_anomaly_plots(tmp_path):
    history = from_array(np.sin(np.arange(48) / 4.0), start="2020-01-01", freq="MS")
    times = history.future_times(6)
    mean = np.sin(np.arange(48, 54) / 4.0)[:, None]
    fc = Forecast(mean=mean, lower=mean - 0.2, upper=mean + 0.2, level=0.9, time=times, names=("y",))
    assert _is_png(plot_forecast(history, fc, tmp_path / "fc.png", actual=mean[:, 0], last=24))

    summary = pd.DataFrame({"mase": [0.8, 1.0, 1.2]}, index=pd.Index(["rnnkit", "ets", "seasonal_naive"], name="model"))
    assert _is_png(plot_backtest_errors(summary, tmp_path / "bt.png"))
    with pytest.raises(ValueError, match="metric 'mape' not in the summary"):
        plot_backtest_errors(summary, tmp_path / "bt2.png", metric="mape")

    flags = np.zeros(48, dtype=bool)
    flags[[10, 30]] = True
    result = AnomalyResult(
        scores=np.abs(np.random.default_rng(0).normal(size=48)), flags=flags, threshold=2.0, time=history.time
    )
    assert _is_png(plot_anomalies(history, result, tmp_path / "an.png", labels=flags))
    with pytest.raises(ValueError, match="must end with .png"):
        plot_anomalies(history, result, tmp_path / "an.jpg")

"""Sessions over a forecaster and an anomaly detector (adapters in rnnkit.timeseries.streaming)."""

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit._checks import InvalidValueError

pytest.importorskip("pandas")

from rnnkit.timeseries import AnomalyDetector, Forecaster, ForecasterConfig  # noqa: E402
from rnnkit.timeseries.anomaly import inject_spikes  # noqa: E402

SERIES = np.sin(np.arange(260) / 4.0) * 3 + 10 + np.random.default_rng(0).normal(0, 0.1, 260)
L = 12


@pytest.fixture(scope="module")
def detector():
    cfg = ForecasterConfig(hidden_size=8, input_length=L, horizon=1, epochs=3, val_fraction=0.0, calendar=False)
    return AnomalyDetector(Forecaster(cfg), threshold=4.0).fit(SERIES[:200])


@pytest.mark.slow
def test_forecaster_steps_equal_its_window_forecasts(detector):
    forecaster = detector.forecaster
    a, b = SERIES[200:226], SERIES[160:186]
    session = rnnkit.stream(forecaster, 2)
    out = session.run(torch.tensor(np.stack([a, b]))[..., None])  # (2, T, 1)
    assert torch.isnan(out[:, : L - 1]).all() and not torch.isnan(out[:, L - 1 :]).any()
    for row, series in enumerate((a, b)):
        windows = np.stack([series[t - L + 1 : t + 1] for t in range(L - 1, len(series))])[..., None]
        point, _, _ = forecaster.predict_windows(windows, 1)
        np.testing.assert_allclose(out[row, L - 1 :, 0].numpy(), point[:, 0, 0], atol=1e-6, rtol=0)
    full = forecaster.predict(1, history=a)  # the forecaster's own run over the whole history
    np.testing.assert_allclose(np.asarray(full.mean).reshape(-1)[0], out[0, -1, 0].item(), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_detector_steps_equal_detect(detector):
    values, _ = inject_spikes(SERIES[200:], n=3, magnitude=3.0, start=15, seed=1, min_gap=10)
    offline = detector.detect(values)
    session = rnnkit.stream(detector, 1)
    out = session.run(torch.tensor(values)[None, :, None])[0]  # (T, 2): score, flag
    np.testing.assert_allclose(out[:, 0].numpy(), offline.scores, atol=1e-6, rtol=0, equal_nan=True)
    assert np.array_equal(out[:, 1].numpy() == 1, offline.flags)


def test_a_forecaster_with_calendar_features_is_refused_saying_why():
    cfg = ForecasterConfig(hidden_size=4, input_length=L, horizon=1, epochs=1, val_fraction=0.0)
    import pandas as pd

    series = pd.Series(SERIES[:120], index=pd.date_range("2020-01-01", periods=120, freq="D"))
    forecaster = Forecaster(cfg).fit(series)
    if not forecaster.meta["calendar_names"]:
        pytest.skip("this series gave the model no calendar features")
    with pytest.raises(InvalidValueError, match="calendar"):
        rnnkit.stream(forecaster)

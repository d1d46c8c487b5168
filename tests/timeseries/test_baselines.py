import numpy as np
import pytest

from rnnkit.timeseries.baselines import ARIMAForecaster, ETSForecaster, NaiveForecaster, SeasonalNaiveForecaster


def test_naive_and_seasonal_naive_exact():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert NaiveForecaster().fit(y).predict(3).mean[:, 0].tolist() == [5.0, 5.0, 5.0]
    assert SeasonalNaiveForecaster(2).fit(y).predict(5).mean[:, 0].tolist() == [4.0, 5.0, 4.0, 5.0, 4.0]
    two = np.stack([y, -y], 1)
    np.testing.assert_array_equal(NaiveForecaster().fit(two).predict(2).mean, [[5, -5], [5, -5]])


def test_predict_with_history_refits():
    m = NaiveForecaster().fit([1.0, 2.0])
    assert m.predict(1, history=[7.0, 9.0]).mean[0, 0] == 9.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="horizon must be a positive"):
        NaiveForecaster().fit([1.0]).predict(0)
    with pytest.raises(ValueError, match="call fit"):
        NaiveForecaster().predict(1)
    with pytest.raises(ValueError, match="season_length 4 needs that many points, got 3"):
        SeasonalNaiveForecaster(4).fit([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="season_length must be an int >= 1"):
        ETSForecaster(0)


def _seasonal(n=96, m=12):
    t = np.arange(n)
    return 50 + 0.5 * t + 10 * np.sin(2 * np.pi * t / m)


def test_ets_and_arima_track_a_clean_seasonal_trend():
    pytest.importorskip("statsmodels")
    y = _seasonal(108)
    for model in (ETSForecaster(12), ARIMAForecaster(12)):
        out = model.fit(y[:96]).predict(12)
        np.testing.assert_allclose(out.mean[:, 0], y[96:], atol=1.0)
    arima = ARIMAForecaster(12, level=0.9).fit(y[:96] + np.random.default_rng(0).normal(0, 1, 96)).predict(12)
    assert (arima.lower < arima.mean).all() and (arima.mean < arima.upper).all() and arima.level == 0.9


def test_ets_matches_darts_reference_on_airline():
    pytest.importorskip("statsmodels")
    pytest.importorskip("sktime")
    from rnnkit.timeseries.datasets import load_dataset
    from rnnkit.timeseries.metrics import mape

    train, test = load_dataset("airline").split(-36)
    out = ETSForecaster(12).fit(train).predict(36)
    assert mape(test.targets, out.mean) == pytest.approx(5.11, abs=0.01)  # Darts' quickstart figure
    assert str(out.time[0].date()) == "1958-01-01"

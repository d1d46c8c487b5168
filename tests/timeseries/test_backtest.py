import numpy as np
import pytest

pytest.importorskip("pandas")

from rnnkit.timeseries.backtest import backtest, backtest_origins  # noqa: E402
from rnnkit.timeseries.baselines import NaiveForecaster, SeasonalNaiveForecaster  # noqa: E402

Y = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0, 8.0, 7.0])


def test_origins():
    assert backtest_origins(8, 4, 2, 1) == [4, 5, 6]
    assert backtest_origins(8, 4, 2, 2) == [4, 6]
    assert backtest_origins(8, -4, 2, 2) == [4, 6]
    assert backtest_origins(10, 0.5, 2, 3) == [5, 8]
    with pytest.raises(ValueError, match="needs history before it and 2 points after"):
        backtest_origins(8, 7, 2)
    with pytest.raises(ValueError, match="horizon must be a positive"):
        backtest_origins(8, 4, 0)


def test_metrics_match_hand_computation():
    res = backtest({"naive": NaiveForecaster()}, Y, start=4, horizon=2, stride=2, season_length=1)
    # origin 4: history [1,3,2,5], forecast 5,5 vs [4,6] -> errors 1,1; in-sample naive MAE (2+1+3)/3 = 2
    # origin 6: history [..,4,6], forecast 6,6 vs [8,7] -> errors 2,1; in-sample MAE (2+1+3+1+2)/5 = 9/5
    w = res.windows.set_index("origin")
    assert w.loc[4, "mae"] == pytest.approx(1.0) and w.loc[6, "mae"] == pytest.approx(1.5)
    assert w.loc[4, "mase"] == pytest.approx(1.0 / 2) and w.loc[6, "mase"] == pytest.approx(1.5 / (9 / 5))
    assert w.loc[4, "rmse"] == pytest.approx(1.0) and w.loc[6, "rmse"] == pytest.approx(np.sqrt(2.5))
    assert w.loc[4, "mape"] == pytest.approx(100 / 2 * (1 / 4 + 1 / 6))
    assert w.loc[6, "smape"] == pytest.approx(200 / 2 * (2 / 14 + 1 / 13))
    assert res.summary.loc["naive", "mae"] == pytest.approx(1.25)
    np.testing.assert_array_equal(res.forecasts["naive"][1][:, 0], [6.0, 6.0])


def test_models_are_compared_on_the_same_windows():
    res = backtest({"naive": NaiveForecaster(), "snaive": SeasonalNaiveForecaster(2)}, Y, 4, 2, 1, season_length=2)
    assert list(res.summary.index) == ["naive", "snaive"]
    assert res.windows.groupby("model")["origin"].apply(list).tolist() == [[4, 5, 6], [4, 5, 6]]


class _Spy(NaiveForecaster):
    """Records, per origin, whether backtest refitted (fit then predict) or passed the history."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def predict(self, horizon, history=None):
        self.calls.append("fit" if history is None else len(history))
        return super().predict(horizon, history)


@pytest.mark.parametrize("retrain, calls", [(True, ["fit"] * 4), (False, ["fit", 4, 5, 6]), (2, ["fit", 4, "fit", 6])])
def test_retrain_policy(retrain, calls):
    spy = _Spy()
    backtest({"spy": spy}, Y, 3, 2, 1, retrain=retrain)
    assert spy.calls == calls


def test_no_leakage_future_values_do_not_change_earlier_forecasts():
    changed = Y.copy()
    changed[6:] = 1000.0
    a = backtest({"n": NaiveForecaster()}, Y, 3, 2, 1)
    b = backtest({"n": NaiveForecaster()}, changed, 3, 2, 1)
    for fa, fb in zip(a.forecasts["n"][:3], b.forecasts["n"][:3]):  # origins 3, 4, 5 end before row 6
        np.testing.assert_array_equal(fa, fb)


def test_bad_models():
    with pytest.raises(ValueError, match="models is empty"):
        backtest({}, Y, 3, 2)
    with pytest.raises(TypeError, match="no fit/predict"):
        backtest({"x": object()}, Y, 3, 2)


def test_no_leakage_into_the_rnnkit_forecaster_or_its_scaler():
    from rnnkit.timeseries.forecaster import Forecaster, ForecasterConfig

    y = 5 + np.sin(np.arange(80) * 2 * np.pi / 8) + 0.05 * np.arange(80)
    changed = y.copy()
    changed[60:] = -1e4  # the future after the first origin
    cfg = ForecasterConfig(hidden_size=8, input_length=8, horizon=4, epochs=3, calendar=False)
    fa, fb = Forecaster(cfg), Forecaster(cfg)
    a = backtest({"r": fa}, y, 56, 4, 4)
    b = backtest({"r": fb}, changed, 56, 4, 4)
    np.testing.assert_array_equal(a.forecasts["r"][0], b.forecasts["r"][0])  # origin 56 ends before row 60
    assert not np.array_equal(a.forecasts["r"][-1], b.forecasts["r"][-1])  # later origins do see it
    # the scaler of the last fit was fitted on exactly the history before the last origin
    assert fb.scalers["target"].mean[0] == pytest.approx(changed[: a.origins[-1]].mean())

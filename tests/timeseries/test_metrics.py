import numpy as np
import pytest

from rnnkit.timeseries.metrics import UndefinedMetricError, all_metrics, mae, mape, mase, rmse, smape

ACTUAL = np.array([10.0, 20.0, 30.0])
PRED = np.array([12.0, 18.0, 33.0])  # errors 2, -2, 3


def test_hand_computed_values():
    assert mae(ACTUAL, PRED) == pytest.approx(7 / 3)
    assert rmse(ACTUAL, PRED) == pytest.approx(np.sqrt(17 / 3))
    assert mape(ACTUAL, PRED) == pytest.approx(100 / 3 * (2 / 10 + 2 / 20 + 3 / 30))
    assert smape(ACTUAL, PRED) == pytest.approx(200 / 3 * (2 / 22 + 2 / 38 + 3 / 63))


def test_mase_is_mae_over_in_sample_seasonal_naive_error():
    insample = np.array([1.0, 4.0, 2.0, 6.0, 3.0, 9.0])
    # m = 2: |2-1|, |6-4|, |3-2|, |9-6| -> mean 7/4
    assert mase(ACTUAL, PRED, insample, m=2) == pytest.approx((7 / 3) / (7 / 4))
    # m = 1: |3|, |2|, |4|, |3|, |6| -> 18/5
    assert mase(ACTUAL, PRED, insample, m=1) == pytest.approx((7 / 3) / (18 / 5))


def test_several_series_are_averaged():
    a = np.stack([ACTUAL, 2 * ACTUAL], 1)
    p = np.stack([PRED, 2 * ACTUAL], 1)
    assert mae(a, p) == pytest.approx(7 / 6)


def test_undefined_and_bad_inputs():
    with pytest.raises(UndefinedMetricError, match="zeros"):
        mape([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(UndefinedMetricError, match="seasonal naive error"):
        mase([1.0], [2.0], [5.0, 5.0, 5.0], m=1)
    with pytest.raises(ValueError, match="same shape"):
        mae([1.0, 2.0], [1.0])
    out = all_metrics([0.0, 1.0], [1.0, 1.0], [1.0, 2.0, 3.0])
    assert np.isnan(out["mape"]) and out["mae"] == 0.5 and out["mase"] == 0.5

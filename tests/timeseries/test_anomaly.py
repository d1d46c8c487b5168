import numpy as np
import pytest

pytest.importorskip("pandas")

from rnnkit.timeseries.anomaly import AnomalyDetector, inject_spikes, precision_recall_f1  # noqa: E402
from rnnkit.timeseries.forecaster import Forecaster, ForecasterConfig  # noqa: E402

RNG = np.random.default_rng(0)
CLEAN = np.sin(2 * np.pi * np.arange(500) / 25) + RNG.normal(0, 0.05, 500)


@pytest.fixture(scope="module")
def detector():
    cfg = ForecasterConfig(hidden_size=16, input_length=25, horizon=1, epochs=25, val_fraction=0.0, calendar=False)
    return AnomalyDetector(Forecaster(cfg), method="robust_z", threshold=5.0).fit(CLEAN[:300])


@pytest.fixture(scope="module")
def spiky():
    return inject_spikes(CLEAN[300:], n=6, magnitude=3.0, start=30, seed=1, min_gap=15)


def test_injected_spikes_are_found(detector, spiky):
    values, labels = spiky
    result = detector.detect(values)
    scores = precision_recall_f1(result.flags, labels)
    assert scores["recall"] == 1.0 and scores["precision"] >= 0.7, scores
    assert np.isnan(result.scores[:25]).all() and not result.flags[:25].any()
    clean = detector.detect(CLEAN[300:])
    assert clean.flags.sum() <= 2  # few false alarms on clean data


def test_streaming_equals_offline(detector, spiky):
    values, _ = spiky
    offline = detector.detect(values)
    stream = detector.stream()
    online = [stream.update(v) for v in values]
    scores = np.array([s for s, _ in online])
    flags = np.array([f for _, f in online])
    np.testing.assert_allclose(scores, offline.scores, rtol=1e-4, atol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(flags, offline.flags)
    assert len(stream.window) == 25  # constant memory: only the input window is kept


def test_quantile_threshold_is_fitted_on_training_scores(detector):
    q = AnomalyDetector(detector.forecaster, method="quantile", threshold=0.9).fit(CLEAN[:300], fit_forecaster=False)
    train_scores = q.detect(CLEAN[:300]).scores[25:]
    assert np.mean(train_scores > q.threshold) == pytest.approx(0.1, abs=0.01)


def test_precision_recall_f1_hand_values():
    out = precision_recall_f1([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert out["precision"] == pytest.approx(2 / 3) and out["recall"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(2 / 3) and (out["tp"], out["fp"], out["fn"]) == (2, 1, 1)
    assert precision_recall_f1([0, 0], [0, 0])["f1"] == 0.0


def test_errors(detector):
    with pytest.raises(ValueError, match="method must be one of"):
        AnomalyDetector(detector.forecaster, method="iforest")
    with pytest.raises(ValueError, match="quantile level in"):
        AnomalyDetector(detector.forecaster, method="quantile", threshold=3.0)
    with pytest.raises(ValueError, match="not fitted"):
        AnomalyDetector(detector.forecaster).detect(CLEAN)
    with pytest.raises(ValueError, match="update expects 1 finite number"):
        detector.stream().update(float("nan"))
    with pytest.raises(ValueError, match="scoring needs more than input_length = 25"):
        detector.detect(CLEAN[:20])


def test_a_model_with_calendar_features_detects_offline_and_streaming_alike():
    import pandas as pd

    from rnnkit.timeseries.frame import from_dataframe

    t = pd.date_range("2000-01-01", periods=240, freq="MS")
    rng = np.random.default_rng(3)
    y = 10 + 2 * np.sin(2 * np.pi * np.arange(240) / 12) + 0.02 * np.arange(240) + rng.normal(0, 0.1, 240)
    spiky, labels = inject_spikes(y[120:], n=3, magnitude=3.0, start=30, seed=2, min_gap=20)
    frame = from_dataframe(pd.DataFrame({"t": t, "y": np.concatenate([y[:120], spiky])}), "t", "y")
    cfg = ForecasterConfig(hidden_size=8, input_length=24, horizon=1, epochs=10)
    det = AnomalyDetector(Forecaster(cfg), threshold=5.0).fit(frame.slice(0, 120))
    assert det.forecaster.meta["calendar_names"]  # month features, derived from the dates
    test = frame.slice(96, None)  # 24 rows of context, then the spiky part
    offline = det.detect(test)
    assert precision_recall_f1(offline.flags[24:], labels)["recall"] == 1.0
    stream = det.stream()
    online = [stream.update(v, time=ts) for v, ts in zip(test.targets[:, 0], test.time)]
    np.testing.assert_allclose([s for s, _ in online], offline.scores, rtol=1e-4, atol=1e-5, equal_nan=True)
    np.testing.assert_array_equal([f for _, f in online], offline.flags)
    with pytest.raises(ValueError, match="pass update\\(value, time=timestamp\\)"):
        det.stream().update(1.0)
    with pytest.raises(ValueError, match="calendar features"):
        det.forecaster.predict_windows(np.zeros((1, 24, 1)), 1)

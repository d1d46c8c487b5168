import numpy as np
import pytest
import torch

pd = pytest.importorskip("pandas")

from rnnkit.data.timeseries import from_array, from_dataframe  # noqa: E402
from rnnkit.models.forecaster import Forecaster, ForecasterConfig, mix_inputs, teacher_forcing_probability  # noqa: E402

T = np.arange(240)
SINE = np.sin(2 * np.pi * T / 20)
TREND = 3.0 + 0.5 * T


def small(**kw):
    base = dict(hidden_size=16, input_length=20, horizon=10, epochs=40, val_fraction=0.0, calendar=False)
    base.update(kw)
    return ForecasterConfig(**base)


@pytest.fixture(scope="module")
def sine_model():
    return Forecaster(small()).fit(SINE[:200])


def test_noiseless_sine_direct(sine_model):
    out = sine_model.predict(10)
    assert out.mean.shape == out.lower.shape == (10, 1)
    np.testing.assert_allclose(out.mean[:, 0], SINE[200:210], atol=0.05)
    assert list(out.time) == list(range(200, 210))


def test_noiseless_linear_trend_direct():
    out = Forecaster(small()).fit(TREND[:200]).predict(10)
    np.testing.assert_allclose(out.mean[:, 0], TREND[200:210], rtol=0, atol=0.5)  # values ~100-105, slope 0.5


def test_noiseless_sine_autoregressive_rollout():
    fc = Forecaster(small(strategy="autoregressive", epochs=30, teacher_forcing_min=0.5)).fit(SINE[:200])
    out = fc.predict(20)  # longer than the trained horizon: the rollout carries on
    np.testing.assert_allclose(out.mean[:, 0], SINE[200:220], atol=0.1)


def test_direct_chains_blocks_beyond_its_horizon(sine_model):
    out = sine_model.predict(25)
    np.testing.assert_allclose(out.mean[:, 0], SINE[200:225], atol=0.1)


def test_interval_covers_about_the_nominal_share_on_a_noisy_series():
    rng = np.random.default_rng(0)
    y = np.sin(2 * np.pi * np.arange(600) / 25) + rng.normal(0, 0.3, 600)
    fc = Forecaster(small(input_length=25, horizon=5, epochs=25, window_norm=False, highway=False)).fit(y[:400])
    windows = np.lib.stride_tricks.sliding_window_view(y[375:], 30)[:, :, None]  # (N, 30, 1)
    point, lo, hi = fc.predict_windows(windows[:, :25], horizon=5)
    actual = windows[:, 25:]
    coverage = np.mean((lo <= actual) & (actual <= hi))
    assert 0.8 <= coverage <= 0.97, coverage
    assert np.mean(np.abs(point - actual)) < 0.35  # close to the noise floor (0.24 for sd 0.3)


def test_scaler_is_fitted_on_the_training_part_only():
    y = TREND.copy()
    fc = Forecaster(small(epochs=2)).fit(y[:120])
    assert fc.scalers["target"].mean[0] == pytest.approx(y[:120].mean())
    assert fc.scalers["target"].std[0] == pytest.approx(y[:120].std())
    # the same training part with a different future gives the same model and forecast
    other = y.copy()
    other[120:] = -1e6
    a = fc.predict(10).mean
    b = Forecaster(small(epochs=2)).fit(other[:120]).predict(10).mean
    np.testing.assert_array_equal(a, b)


def test_save_load_identical_forecasts(tmp_path):
    idx = pd.date_range("2000-01-01", periods=120, freq="MS")
    df = pd.DataFrame({"t": idx, "a": 10 + SINE[:120] + 0.05 * T[:120], "b": np.cos(T[:120] / 3.0),
                       "promo": (T[:120] % 4 == 0).astype(float)})
    frame = from_dataframe(df, "t", ["a", "b"], future_covariates=["promo"])
    fc = Forecaster(small(calendar=True, epochs=3, head="quantile")).fit(frame)
    future = (np.arange(120, 126) % 4 == 0).astype(float)[:, None]
    before = fc.predict(6, future_covariates=future)
    fc.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors", "preprocessing.json"]
    loaded = Forecaster.from_pretrained(tmp_path / "m")
    after = loaded.predict(6, future_covariates=future)
    for field in ("mean", "lower", "upper"):
        np.testing.assert_array_equal(getattr(before, field), getattr(after, field))
    assert list(before.time) == list(after.time) and before.names == after.names == ("a", "b")
    with pytest.raises(ValueError, match=r"pass future_covariates= with shape \(6, 1\)"):
        loaded.predict(6)


def test_fit_is_deterministic_and_seeded():
    a = Forecaster(small(epochs=3)).fit(SINE[:100]).predict(5).mean
    b = Forecaster(small(epochs=3)).fit(SINE[:100]).predict(5).mean
    c = Forecaster(small(epochs=3, seed=1)).fit(SINE[:100]).predict(5).mean
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_other_cells_and_past_covariates(cell):
    df = pd.DataFrame({"y": SINE[:80], "x": np.cos(T[:80])})
    frame = from_dataframe(df, None, "y", past_covariates=["x"])
    out = Forecaster(small(cell=cell, epochs=2)).fit(frame).predict(10)
    assert out.mean.shape == (10, 1) and np.isfinite(out.mean).all()
    with pytest.raises(ValueError, match="autoregressive strategy cannot roll out"):
        Forecaster(small(strategy="autoregressive")).fit(frame)


def test_history_argument_moves_the_origin(sine_model):
    out = sine_model.predict(10, history=SINE[:150])
    np.testing.assert_allclose(out.mean[:, 0], SINE[150:160], atol=0.05)
    with pytest.raises(ValueError, match="fewer than the model's input_length 20"):
        sine_model.predict(5, history=SINE[:10])


def test_bad_input_errors(sine_model):
    with pytest.raises(ValueError, match="horizon must be a positive number of steps, got 0"):
        sine_model.predict(0)
    with pytest.raises(TypeError, match="horizon must be an int"):
        sine_model.predict(2.5)
    with pytest.raises(ValueError, match=r"series has 25 points, shorter than one window of input_length \+ horizon = 20 \+ 10 = 30"):
        Forecaster(small()).fit(SINE[:25])
    with pytest.raises(ValueError, match="series has 20 points, too short to train a horizon of 10"):
        Forecaster(small(input_length=0)).fit(SINE[:20])
    with pytest.raises(ValueError, match="not fitted"):
        Forecaster().predict(3)
    with pytest.raises(ValueError, match=r"cell must be one of \['lstm', 'gru', 'rnn'\], got 'transformer'"):
        ForecasterConfig(cell="transformer")
    with pytest.raises(ValueError, match="level must be a number"):
        ForecasterConfig(level=1.5)
    with pytest.raises(FileNotFoundError, match="not a saved Forecaster"):
        Forecaster.from_pretrained("/nonexistent/dir")


def test_scheduled_sampling_helpers():
    assert teacher_forcing_probability(0, 11, 0.5) == 1.0
    assert teacher_forcing_probability(10, 11, 0.5) == pytest.approx(0.5)
    truth, pred = torch.zeros(1000, 1), torch.ones(1000, 1)
    torch.manual_seed(0)
    mixed = mix_inputs(truth, pred, 0.7)
    assert 0.25 < mixed.mean().item() < 0.35  # ~30% own predictions
    assert mix_inputs(truth, pred, 1.0) is truth


def test_from_array_frame_names_flow_through(sine_model):
    frame = from_array(np.stack([SINE[:100], SINE[:100] ** 2], 1), names=["s", "s2"])
    out = Forecaster(small(epochs=2)).fit(frame).predict(3)
    assert out.names == ("s", "s2") and out.mean.shape == (3, 2)

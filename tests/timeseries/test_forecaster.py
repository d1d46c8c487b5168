import numpy as np
import pytest
import torch

pd = pytest.importorskip("pandas")

from rnnkit.models.scheduled_sampling import mix_inputs  # noqa: E402
from rnnkit.timeseries.autoregressive import teacher_forcing_probability  # noqa: E402
from rnnkit.timeseries.forecaster import Forecaster, ForecasterConfig  # noqa: E402
from rnnkit.timeseries.frame import from_array, from_dataframe  # noqa: E402

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


@pytest.mark.slow
def test_noiseless_sine_autoregressive_rollout():
    fc = Forecaster(small(strategy="autoregressive", epochs=60, lr=3e-3, teacher_forcing_min=0.5)).fit(SINE[:200])
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
    df = pd.DataFrame(
        {
            "t": idx,
            "a": 10 + SINE[:120] + 0.05 * T[:120],
            "b": np.cos(T[:120] / 3.0),
            "promo": (T[:120] % 4 == 0).astype(float),
        }
    )
    frame = from_dataframe(df, "t", ["a", "b"], future_covariates=["promo"])
    fc = Forecaster(small(calendar=True, epochs=3, head="quantile")).fit(frame)
    future = (np.arange(120, 126) % 4 == 0).astype(float)[:, None]
    before = fc.predict(6, future_covariates=future)
    fc.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
        "preprocessing.json",
    ]
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
    with pytest.raises(
        ValueError, match=r"series has 25 points, shorter than one window of input_length \+ horizon = 20 \+ 10 = 30"
    ):
        Forecaster(small()).fit(SINE[:25])
    with pytest.raises(ValueError, match="series has 20 points, too short to train a horizon of 10"):
        Forecaster(small(input_length=0)).fit(SINE[:20])
    with pytest.raises(ValueError, match="not fitted"):
        Forecaster().predict(3)
    with pytest.raises(
        ValueError, match=r"cell must be one of \['lstm', 'gru', 'rnn', .*'minlstm'\], got 'transformer'"
    ):
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


def test_ridge_highway_is_the_closed_form_ridge_forecast_and_rnn_starts_at_zero():
    cfg = small(epochs=1, head_warmup=0, highway_ridge=0.5, window_scale=False)
    fc = Forecaster(cfg)
    fc.config = ForecasterConfig(**{**cfg.__dict__, "epochs": 1})
    series = SINE[:120] + 0.01 * T[:120] + 0.2 * np.random.default_rng(0).standard_normal(120)
    # reference: numpy ridge on the same centred windows of the standardised series
    z = (series - series.mean()) / series.std()
    L, H = 20, 10
    win = np.stack([z[i : i + L + H] for i in range(len(z) - L - H + 1)])
    x, y = win[:, :L], win[:, L:]
    loc = x.mean(1, keepdims=True)
    xa = np.hstack([x - loc, np.ones((len(x), 1))])
    pen = np.diag([0.5] * L + [0.0])
    coef = np.linalg.solve(xa.T @ xa + pen, xa.T @ (y - loc))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        from rnnkit.timeseries.network import build_network

        fc.meta, fc.scalers = {}, {}
        fc.net = build_network(cfg.network(), L, 1, 0, 0)
        fc.net.solve_highway(torch.from_numpy(win[:, :, None]).float(), cfg.highway_ridge, cfg.highway_train)
    np.testing.assert_allclose(fc.net.highway.weight.detach().numpy(), coef[:L].T, atol=1e-4)
    np.testing.assert_allclose(fc.net.highway.bias.detach().numpy(), coef[L], atol=1e-4)
    assert fc.net.out.weight.abs().sum() == 0  # the RNN's outputs start as constants
    bias = fc.net.out.bias.detach().view(H, 1, fc.net.K)
    assert bias[..., 0].abs().sum() == 0  # location: the ridge forecast stands
    resid = (y - loc) - xa @ coef  # spread: the ridge residuals' RMS per step (Gaussian MLE)
    sigma = torch.nn.functional.softplus(bias[:, 0, 1]).numpy() + 1e-3
    np.testing.assert_allclose(sigma, np.sqrt((resid**2).mean(0)), rtol=1e-3, atol=1e-5)
    assert not fc.net.highway.weight.requires_grad  # frozen by default: the RNN learns the residual


def test_head_warmup_trains_only_the_spread_rows():
    from rnnkit.timeseries.fitting import warm_up_head
    from rnnkit.timeseries.network import build_network

    cfg = small(lr=1e-2, batch_size=16)
    torch.manual_seed(0)
    net = build_network(cfg.network(), 20, 1, 0, 0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    win = torch.from_numpy(np.stack([SINE[i : i + 30] for i in range(50)])[:, :, None]).float()
    warm_up_head(net, range(50), lambda idx: win[torch.as_tensor(idx)], cfg.fitting(), epochs=3)
    after = net.state_dict()
    rows = torch.arange(net.out.out_features) % net.K == 0
    assert torch.equal(after["out.weight"][rows], before["out.weight"][rows])
    assert not torch.equal(after["out.weight"][~rows], before["out.weight"][~rows])
    for k in before:
        if not k.startswith("out."):
            assert torch.equal(after[k], before[k]), k


def test_interrupted_fit_resumed_from_an_epoch_state_equals_an_uninterrupted_fit(tmp_path):
    cfg = small(epochs=12, val_fraction=0.2, patience=100)
    series = SINE[:160] + 0.05 * np.random.default_rng(0).standard_normal(160)
    whole = Forecaster(cfg).fit(series)

    class Stop(Exception):
        pass

    def stop(trainer):  # five epochs done and their resume point written; the sixth under way
        if trainer.epoch == 5:
            raise Stop

    with pytest.raises(Stop):
        Forecaster(cfg).fit(series, checkpoint_dir=tmp_path, callbacks=[stop])
    resumed = Forecaster(cfg).fit(series, checkpoint_dir=tmp_path, resume=True)
    assert resumed.resumed_from == 5
    for k, v in whole.net.state_dict().items():
        assert torch.equal(v, resumed.net.state_dict()[k]), k
    assert [e["val_loss"] for e in whole.log] == [e["val_loss"] for e in resumed.log]


def test_early_stopping_keeps_the_starting_point_when_training_only_hurts_validation():
    # lr so large the RNN's first epoch wrecks the ridge start: the start must be kept
    cfg = small(epochs=3, val_fraction=0.2, patience=1, lr=5.0, clip=100.0, head_warmup=0)
    fc = Forecaster(cfg).fit(TREND[:150])
    out = fc.predict(10, history=TREND[:160])
    np.testing.assert_allclose(out.mean[:, 0], TREND[160:170], atol=0.5)


@pytest.mark.slow
def test_the_rnn_residual_learns_what_the_linear_start_cannot():
    # the logistic map x' = 3.8 x (1 - x) is nonlinear: no linear forecast of it is good, an RNN's is
    x = [0.3]
    for _ in range(499):
        x.append(3.8 * x[-1] * (1 - x[-1]))
    cfg = small(horizon=1, input_length=6, hidden_size=32, epochs=60, patience=60, val_fraction=0.2, lr=3e-3)
    fc = Forecaster(cfg).fit(np.array(x))
    start = fc.log[0]
    assert start["epoch"] == -1  # the ridge start, scored before any RNN update
    best = min(e["val_loss"] for e in fc.log[1:])
    assert best < 0.2 * start["val_loss"], (best, start)


@pytest.mark.parametrize("head", ["gaussian", "quantile"])
def test_default_intervals_cover_about_the_nominal_share(head):
    rng = np.random.default_rng(5)
    n = 420
    y = 10 + 3 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 1.0, n)  # noise sd 1
    fc = Forecaster(ForecasterConfig(horizon=6, head=head)).fit(y[:300])
    inside, widths = [], []
    for origin in range(300, n - 6, 6):
        out = fc.predict(6, history=y[:origin])
        actual = y[origin : origin + 6]
        inside += list((out.lower[:, 0] <= actual) & (actual <= out.upper[:, 0]))
        widths += list(out.upper[:, 0] - out.lower[:, 0])
    assert 0.8 <= np.mean(inside) <= 0.97, np.mean(inside)  # nominal 0.9
    assert np.mean(widths) < 2 * 1.645 * 1.4, np.mean(widths)  # ~ 2 z sigma with sigma ~ 1


def test_a_history_of_other_targets_or_frequency_is_refused():
    t = pd.date_range("2000-01-01", periods=120, freq="MS")
    y = 5 + np.sin(np.arange(120) * 2 * np.pi / 12)
    fc = Forecaster(small(input_length=12, horizon=3, epochs=2, calendar=True)).fit(
        from_dataframe(pd.DataFrame({"t": t, "sales": y}), "t", "sales")
    )
    weekly = pd.DataFrame({"t": pd.date_range("2000-01-02", periods=60, freq="W-SUN"), "sales": y[:60]})
    with pytest.raises(ValueError, match="frequency 'W-SUN', the model was trained at 'MS'"):
        fc.predict(3, history=from_dataframe(weekly, "t", "sales"))
    other = pd.DataFrame({"t": t, "visits": y})
    with pytest.raises(ValueError, match=r"history has targets \['visits'\], the model was trained on \['sales'\]"):
        fc.predict(3, history=from_dataframe(other, "t", "visits"))
    plain = Forecaster(small(input_length=12, horizon=3, epochs=2)).fit(
        from_dataframe(pd.DataFrame({"t": np.arange(120), "sales": y}), "t", "sales")
    )
    assert plain.predict(3, history=y[:50]).mean.shape == (3, 1)  # a plain array is taken as the same target


def test_top_level_names():
    import rnnkit
    from rnnkit.timeseries.anomaly import AnomalyDetector

    assert rnnkit.Forecaster is Forecaster and rnnkit.ForecasterConfig is ForecasterConfig
    assert rnnkit.AnomalyDetector is AnomalyDetector
    with pytest.raises(AttributeError, match="no attribute 'Forcaster'"):
        getattr(rnnkit, "Forcaster")  # noqa: B009 -- the misspelt name is the point


def test_a_version_1_model_loads_with_the_settings_it_was_trained_with(tmp_path):
    import json

    fc = Forecaster(
        small(epochs=2, window_scale=True, highway_init="random", select="nll", head_warmup=0, highway_train=True)
    ).fit(SINE[:120])
    fc.save_pretrained(tmp_path)
    before = fc.predict(5).mean
    saved = json.loads((tmp_path / "config.json").read_text())  # format version 3
    doc = {"format": "rnnkit.forecaster", "version": 1, "config": saved["config"], "meta": saved["meta"]}
    for name in (
        "window_scale",
        "highway_init",
        "highway_ridge",
        "highway_train",
        "select",
        "head_warmup",
        "teacher_forcing_epochs",
    ):
        del doc["config"][name]  # what a version-1 file holds
    (tmp_path / "config.json").write_text(json.dumps(doc))
    old = Forecaster.from_pretrained(tmp_path)
    assert old.config.window_scale is True and old.config.highway_init == "random" and old.config.select == "nll"
    np.testing.assert_array_equal(old.predict(5).mean, before)
    doc["version"] = 7
    (tmp_path / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="version 7"):
        Forecaster.from_pretrained(tmp_path)

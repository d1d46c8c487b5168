"""`rnnkit train forecast --resume`: a run that crashed after a resume point continues exactly."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

pd = pytest.importorskip("pandas")

from rnnkit.tasks import forecasting  # noqa: E402
from rnnkit.tasks.forecasting import SeriesSpec, train_forecaster  # noqa: E402
from rnnkit.timeseries.forecaster import Forecaster  # noqa: E402


@pytest.fixture
def series_csv(tmp_path):
    t = pd.date_range("2000-01-01", periods=96, freq="MS")
    rng = np.random.default_rng(1)
    y = 10 + np.sin(np.arange(96) * 2 * np.pi / 12) + 0.2 * rng.standard_normal(96)
    path = tmp_path / "s.csv"
    pd.DataFrame({"month": t, "y": y}).to_csv(path, index=False)
    return SeriesSpec(csv=str(path), time_column="month", targets=["y"])


def weights(folder):
    return Forecaster.from_pretrained(folder).net.state_dict()


def crash_after_resume_points(monkeypatch, n):
    """Make the Trainer's n-th write of a resume point (last/) the process's last act."""
    from rnnkit.training import trainer

    original, saved = trainer.save_checkpoint, {"n": 0}

    def save(folder, *args, **kwargs):
        original(folder, *args, **kwargs)
        if Path(folder).name == "last":
            saved["n"] += 1
            if saved["n"] == n:
                raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_checkpoint", save)
    return lambda: monkeypatch.setattr(trainer, "save_checkpoint", original)


def test_crash_after_a_checkpoint_then_resume_equals_an_uninterrupted_run(tmp_path, series_csv, monkeypatch):
    kw = dict(horizon=6, input_length=12, max_epochs=14, seed=3)
    train_forecaster(series_csv, str(tmp_path / "whole"), **kw)

    restore = crash_after_resume_points(monkeypatch, 2)  # epoch 10 written, then the process "dies"
    with pytest.raises(KeyboardInterrupt):
        train_forecaster(series_csv, str(tmp_path / "cut"), **kw)
    restore()
    assert (tmp_path / "cut" / forecasting.CHECKPOINT_DIR).is_dir()
    assert not (tmp_path / "cut" / "model.safetensors").exists()

    info = train_forecaster(series_csv, str(tmp_path / "cut"), resume=True, **kw)
    assert info["resumed_from"] == 10
    assert not (tmp_path / "cut" / forecasting.CHECKPOINT_DIR).exists()  # removed once the model is saved
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "cut")
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_refuses_other_settings_and_says_when_there_is_no_checkpoint(tmp_path, series_csv, monkeypatch):
    restore = crash_after_resume_points(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        train_forecaster(series_csv, str(tmp_path / "m"), horizon=6, input_length=12, max_epochs=14)
    restore()
    with pytest.raises(ValueError, match=r"--horizon 4 \(the run was started with 6\)"):
        train_forecaster(series_csv, str(tmp_path / "m"), horizon=4, input_length=12, max_epochs=14, resume=True)
    # the series' reading options are settings too: a --freq given now but not then is refused
    with pytest.raises(ValueError, match=r"--freq 'MS' \(the run was started with unset\)"):
        train_forecaster(
            replace(series_csv, freq="MS"), str(tmp_path / "m"), horizon=6, input_length=12, max_epochs=14, resume=True
        )
    said = []
    train_forecaster(
        series_csv, str(tmp_path / "fresh"), horizon=6, input_length=12, max_epochs=3, resume=True, log=said.append
    )
    assert any("nothing to resume" in line for line in said)

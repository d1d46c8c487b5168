"""The progress bar: shown when asked, off when stderr is not a terminal, with loss, lr, rate."""

import sys

import torch

from rnnkit.training import TrainConfig, Trainer
from rnnkit.training.logging import ProgressBar


def _fit(progress, capsys, **extra):
    model = torch.nn.Linear(3, 1)
    data = torch.utils.data.TensorDataset(torch.randn(32, 3), torch.randn(32, 1))
    step = lambda m, b: ((m(b[0]) - b[1]) ** 2).mean()  # noqa: E731
    Trainer(model, TrainConfig(max_steps=8, batch_size=8, log_every=2, progress=progress, **extra), step_fn=step).fit(
        data
    )
    return capsys.readouterr().err


def test_bar_shows_loss_lr_and_throughput(capsys):
    err = _fit(True, capsys)
    assert "loss=" in err and "lr=" in err and "samples/s=" in err and "8/8" in err


def test_bar_with_a_time_budget_shows_time_left(capsys):
    err = _fit(True, capsys, time_budget=60.0)
    assert "left=" in err and "/100" not in err


def test_bar_off_when_not_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert ProgressBar(10, 0, None, "samples").bar is None
    assert _fit(None, capsys) == ""

"""Averaged gradient flow, the last/first ratio, the monitor over training and the two pictures."""

import pytest
import torch

import rnnkit
from rnnkit._checks import InvalidValueError
from rnnkit.diagnostics.gradient_flow import average_gradient_flow, record_gradient_flow
from rnnkit.diagnostics.gradient_plots import (
    GradientFlowHistory,
    GradientFlowMonitor,
    plot_gradient_flow,
    plot_gradient_flow_history,
)
from rnnkit.training import TrainConfig, Trainer
from tests.training.training_helpers import Regressor, SeqDataset, mse_step


def _loss(model, batch):
    return mse_step(model, batch)


def test_average_is_the_mean_of_single_records_and_ratio_is_last_over_first():
    torch.manual_seed(0)
    model = Regressor()
    a, b = SeqDataset(n=4, seed=1), SeqDataset(n=4, seed=2)
    batches = [(a.x, a.y), (b.x, b.y)]
    mean = average_gradient_flow(model, _loss, batches)
    ones = [record_gradient_flow(model, lambda m, batch=batch: _loss(m, batch)) for batch in batches]
    torch.testing.assert_close(mean["rnn"], (ones[0]["rnn"] + ones[1]["rnn"]) / 2)
    assert mean.loss == pytest.approx((ones[0].loss + ones[1].loss) / 2)
    torch.testing.assert_close(mean.ratio(), mean["rnn"][:, -1] / mean["rnn"][:, 0])
    with pytest.raises(InvalidValueError, match="one sequence length"):
        c = SeqDataset(n=4, t=9)
        average_gradient_flow(model, _loss, [batches[0], (c.x, c.y)])
    with pytest.raises(InvalidValueError, match="empty"):
        average_gradient_flow(model, _loss, [])


def test_monitor_records_every_n_updates_and_pictures_render(tmp_path):
    torch.manual_seed(0)
    model = Regressor()
    data = SeqDataset(n=8)
    monitor = GradientFlowMonitor(lambda m: _loss(m, (data.x, data.y)), every=2)
    monitor.record(model, 0)
    cfg = TrainConfig(max_steps=6, batch_size=4, progress=False)
    Trainer(model, cfg, step_fn=mse_step, callbacks=[monitor]).fit(data)
    history = monitor.history
    assert history.layer == "rnn" and history.steps == [0, 2, 4, 6]
    assert all(n.shape == (1, 6) for n in history.norms)
    history.save(tmp_path / "h.json")
    again = GradientFlowHistory.from_json((tmp_path / "h.json").read_text())
    assert again.steps == history.steps and torch.allclose(again.norms[-1], history.norms[-1])
    plot_gradient_flow_history(history, tmp_path / "h.png")
    flow = record_gradient_flow(model, lambda m: _loss(m, (data.x, data.y)))
    plot_gradient_flow({"trained": flow}, tmp_path / "f.png")
    assert (tmp_path / "h.png").stat().st_size > 1000 and (tmp_path / "f.png").stat().st_size > 1000
    layer = rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    two = record_gradient_flow(layer, lambda m: m(torch.randn(2, 5, 3))[0].sum())
    plot_gradient_flow(two, tmp_path / "two.png", directions=2)  # four labelled rows
    with pytest.raises(InvalidValueError, match="empty"):
        plot_gradient_flow_history(GradientFlowHistory("rnn"))

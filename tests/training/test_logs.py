"""Train logs: every step's pre-clip gradient norm reaches a row; a run always ends with a row; TensorBoard."""

import csv
import importlib.util
import time

import pytest
import torch

from rnnkit.training import TrainConfig, Trainer
from tests.training.training_helpers import Regressor, SeqDataset, mse_step


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _fit(tmp_path, step_fn=mse_step, val=None, eval_fn=None, **cfg):
    norms = {}
    cfg = {"batch_size": 4, "out_dir": str(tmp_path), "progress": False, **cfg}
    trainer = Trainer(
        Regressor(),
        TrainConfig(**cfg),
        step_fn=step_fn,
        eval_fn=eval_fn,
        callbacks=[lambda t: norms.__setitem__(t.step, t.last_grad_norm)],
    )
    trainer.fit(SeqDataset(), val)
    return trainer, norms, _rows(tmp_path / "train_log.csv")


def test_a_gradient_spike_between_log_rows_reaches_the_log(tmp_path):
    def spiky(m, batch):
        loss = mse_step(m, batch)
        return loss * 1e4 if trainer.step == 2 else loss  # the 3rd update only (step counts completed ones)

    norms = {}
    trainer = Trainer(
        Regressor(),
        TrainConfig(max_steps=10, batch_size=4, log_every=5, out_dir=str(tmp_path), clip_norm=1.0),
        step_fn=spiky,
        callbacks=[lambda t: norms.__setitem__(t.step, t.last_grad_norm)],
    )
    trainer.fit(SeqDataset())
    rows = _rows(tmp_path / "train_log.csv")
    assert [int(r["step"]) for r in rows] == [5, 10]
    first = rows[0]
    spike = norms[3]
    assert spike > 100 * max(norms[s] for s in (1, 2, 4, 5))  # the spike is on a step that has no row
    assert float(first["grad_norm_max"]) == pytest.approx(spike, rel=1e-5)
    assert float(first["grad_norm_mean"]) == pytest.approx(sum(norms[s] for s in range(1, 6)) / 5, rel=1e-5)
    assert float(first["grad_norm"]) == pytest.approx(norms[5], rel=1e-5)  # the row's own step
    second = rows[1]
    assert float(second["grad_norm_max"]) == pytest.approx(max(norms[s] for s in range(6, 11)), rel=1e-5)


def test_time_budget_run_shorter_than_log_every_still_writes_a_row(tmp_path):
    def slow(m, batch):
        time.sleep(0.03)
        return mse_step(m, batch)

    trainer, norms, rows = _fit(tmp_path, step_fn=slow, max_steps=10**6, time_budget=0.15, log_every=1000)
    assert 0 < trainer.step < 1000
    assert len(rows) == 1 and int(rows[0]["step"]) == trainer.step
    assert float(rows[0]["grad_norm_max"]) == pytest.approx(max(norms.values()), rel=1e-5)


def test_a_run_ending_between_log_steps_writes_a_final_row(tmp_path):
    # 24 samples / batch 4 = 6 updates per epoch; max_epochs=1 stops at step 6, log_every=4
    trainer, norms, rows = _fit(tmp_path, max_steps=100, max_epochs=1, log_every=4)
    assert trainer.step == 6
    assert [int(r["step"]) for r in rows] == [4, 6]
    assert float(rows[1]["grad_norm_mean"]) == pytest.approx((norms[5] + norms[6]) / 2, rel=1e-5)
    assert float(rows[1]["loss"]) > 0


def test_early_stopping_before_the_first_log_step_still_writes_a_row(tmp_path):
    # a constant metric never improves after the first validation: patience 1 stops the run at step 2
    trainer, _, rows = _fit(
        tmp_path,
        val=SeqDataset(n=4, seed=1),
        eval_fn=lambda m, b: {"loss": torch.tensor(1.0)},
        max_steps=100,
        log_every=50,
        val_every=1,
        early_stopping_patience=1,
    )
    assert trainer.step == 2
    assert len(rows) == 1 and int(rows[0]["step"]) == 2


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_tensorboard_sink_writes_train_and_validation_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer, norms, rows = _fit(
        tmp_path, val=SeqDataset(n=8, seed=1), max_steps=6, log_every=3, val_every=3, tensorboard=True
    )
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {
        "train/loss",
        "train/lr",
        "train/grad_norm",
        "train/grad_norm_max",
        "train/grad_norm_mean",
        "val/val_loss",
    } <= tags
    assert [e.step for e in acc.Scalars("train/loss")] == [3, 6]
    assert acc.Scalars("train/grad_norm_max")[0].value == pytest.approx(max(norms[s] for s in (1, 2, 3)), rel=1e-5)
    assert [e.step for e in acc.Scalars("val/val_loss")] == [3, 6]
    assert acc.Scalars("val/val_loss")[-1].value == pytest.approx(trainer.history[-1]["val_loss"], rel=1e-6)


def test_tensorboard_missing_gives_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tb(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tb)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        _fit(tmp_path, max_steps=1, tensorboard=True)


def test_validation_time_is_not_counted_as_training_throughput(tmp_path):
    """A validation between two log rows must not make the next row look slow (it fooled the
    slow-throughput warning: rows after a validation ran at half speed)."""

    def slow_step(m, batch):
        time.sleep(0.01)
        return mse_step(m, batch)

    def slow_eval(m, batch):
        time.sleep(0.1)
        return mse_step(m, batch)

    trainer, norms, rows = _fit(
        tmp_path,
        step_fn=slow_step,
        val=SeqDataset(n=16, seed=3),
        eval_fn=slow_eval,
        max_steps=12,
        log_every=2,
        val_every=4,
        checkpoint_every=4,
    )
    speeds = [float(r["throughput"]) for r in rows]
    after_validation = [speeds[i] for i, r in enumerate(rows) if int(r["step"]) in (6, 10)]
    others = [speeds[i] for i, r in enumerate(rows) if int(r["step"]) in (4, 8, 12)]
    # a row after a validation (4 batches x 100 ms) would otherwise take ~20x as long as its 2 updates;
    # the margin is wide because a busy machine makes the rows' speeds vary by 2x and more
    assert min(after_validation) > 0.25 * max(others)

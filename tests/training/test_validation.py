"""Validation through the Trainer: early stopping, best/ vs last/, plateau schedule, non-finite metrics,
the monitor name, missing validation data, anomaly detection, padded batches with lengths."""

import csv
import math

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from rnnkit.training import NonFiniteWarning, TrainConfig, Trainer, load_model_weights, load_training_state
from tests.training.training_helpers import Regressor, SeqDataset, mse_step


def _scripted(values):
    """An eval_fn whose metric follows ``values``, one per validation (each validation sees one batch)."""
    calls = []

    def eval_fn(model, batch):
        calls.append(1)
        return {"loss": torch.tensor(values[len(calls) - 1])}

    return eval_fn


def _fit(values, tmp_path=None, callbacks=(), **cfg):
    cfg = {
        "max_steps": 2 * len(values),
        "batch_size": 4,
        "val_every": 2,
        "log_every": 100,
        "progress": False,
        "out_dir": None if tmp_path is None else str(tmp_path),
        **cfg,
    }
    # validation data: one batch of 4 samples, so each validation calls eval_fn once
    trainer = Trainer(Regressor(), TrainConfig(**cfg), step_fn=mse_step, eval_fn=_scripted(values), callbacks=callbacks)
    return trainer.fit(SeqDataset(), SeqDataset(n=4, seed=1))


@pytest.mark.parametrize(
    "mode,values,stop_at",
    [
        ("min", [3.0, 2.0, 2.5, 2.1, 1.0, 0.5], 8),  # best at validation 2; 3 and 4 are worse: stop at step 8
        ("max", [1.0, 2.0, 1.5, 1.9, 3.0, 4.0], 8),
        ("min", [3.0, 2.0, 2.5, 1.0, 2.1, 0.5], 12),  # validations 4 and 6 improve: the count starts again
    ],
)
def test_early_stopping_after_patience_validations_without_improvement(mode, values, stop_at):
    t = _fit(values, monitor_mode=mode, early_stopping_patience=2)
    assert t.step == stop_at and t.should_stop == (stop_at < 2 * len(values))
    assert [r["step"] for r in t.history] == list(range(2, stop_at + 1, 2))  # no extra validation at the end
    assert t.best == (min if mode == "min" else max)(values[: stop_at // 2])


def test_no_early_stopping_without_patience():
    t = _fit([1.0, 2.0, 3.0, 4.0])
    assert t.step == 8 and not t.should_stop


def test_best_holds_the_best_validation_weights_and_last_the_final_ones(tmp_path):
    snapshots = {}
    t = _fit(
        [3.0, 1.0, 2.0, 2.5],
        tmp_path,
        callbacks=[lambda tr: snapshots.__setitem__(tr.step, {k: v.clone() for k, v in tr.model.state_dict().items()})],
    )
    assert load_training_state(tmp_path / "best")["step"] == 4
    assert load_training_state(tmp_path / "last")["step"] == 8
    best, last = Regressor(), Regressor()
    load_model_weights(tmp_path / "best", best)
    load_model_weights(tmp_path / "last", last)
    for k, v in best.state_dict().items():
        assert torch.equal(v, snapshots[4][k]), k
        assert torch.equal(last.state_dict()[k], snapshots[8][k]), k
    assert not torch.equal(best.state_dict()["head.weight"], last.state_dict()["head.weight"])
    assert t.best == 1.0


def test_reduce_on_plateau_through_the_trainer():
    lrs = {}
    # validations at steps 2, 4, ..., 12; the metric never improves after the first
    t = _fit(
        [1.0] * 6,
        schedule="plateau",
        plateau_patience=1,
        plateau_factor=0.5,
        optimizer="sgd",
        lr=0.1,
        callbacks=[lambda tr: lrs.__setitem__(tr.step, tr.optimizer.param_groups[0]["lr"])],
    )
    # patience 1: the lr drops at the 2nd validation without improvement (validations 3 and 5)
    assert lrs[5] == pytest.approx(0.1) and lrs[6] == pytest.approx(0.05)
    assert lrs[9] == pytest.approx(0.05) and lrs[10] == pytest.approx(0.025)
    assert t.step == 12


def test_reduce_on_plateau_follows_monitor_mode():
    lrs = {}
    _fit(
        [1.0, 2.0, 3.0, 4.0],
        schedule="plateau",
        plateau_patience=0,
        plateau_factor=0.5,
        optimizer="sgd",
        lr=0.1,
        monitor_mode="max",
        callbacks=[lambda tr: lrs.__setitem__(tr.step, tr.optimizer.param_groups[0]["lr"])],
    )
    assert lrs[8] == pytest.approx(0.1)  # rising metric under "max": always an improvement


@pytest.mark.parametrize("values,best_step", [([2.0, float("nan"), 3.0], 2), ([float("nan"), 2.0, 1.0], 6)])
def test_a_non_finite_validation_never_becomes_best(tmp_path, values, best_step):
    with pytest.warns(RuntimeWarning, match="val_loss = nan is not finite"):
        t = _fit(values, tmp_path, early_stopping_patience=5)
    assert math.isfinite(t.best)
    assert load_training_state(tmp_path / "best")["step"] == best_step
    with open(tmp_path / "val_log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["val_loss"] for r in rows].count("nan") == 1  # still logged


def test_a_non_finite_validation_counts_toward_early_stopping():
    with pytest.warns(RuntimeWarning, match="not finite"):
        t = _fit([1.0, float("nan"), float("nan"), 0.5], early_stopping_patience=2)
    assert t.step == 6 and t.best == 1.0


def test_monitor_typo_names_the_available_metrics_and_keeps_last(tmp_path):
    with pytest.raises(ValueError, match=r"monitor='val_los' is not among the validation metrics \['val_loss'\]"):
        _fit([1.0, 2.0], tmp_path, monitor="val_los")
    assert load_training_state(tmp_path / "last")["step"] == 2  # the updates so far are saved
    # fixed, the run resumes from there
    with pytest.warns(UserWarning, match="monitor changed from 'val_los'"):
        t = _fit([1.0, 2.0], tmp_path, resume=True)
    assert t.step == 4 and t.best == 1.0


@pytest.mark.parametrize("field,value", [("val_every", 5), ("early_stopping_patience", 2), ("schedule", "plateau")])
def test_validation_settings_without_validation_data_warn(field, value):
    cfg = TrainConfig(
        **{"max_steps": 2, "batch_size": 4, "log_every": 100, "progress": False, "val_every": None, field: value}
    )
    with pytest.warns(UserWarning, match=f"{field}=.* but no validation data"):
        Trainer(Regressor(), cfg, step_fn=mse_step).fit(SeqDataset())


def test_detect_anomaly_switch_finds_the_op_that_made_a_nan():
    seen = []

    def step(model, batch):
        seen.append(torch.is_anomaly_enabled())
        nan_grad = (model.head.bias * 0).sqrt().sum()  # 0 forward; 0 * inf = nan backward
        return mse_step(model, batch) + nan_grad

    cfg = dict(max_steps=2, batch_size=4, log_every=100, progress=False)
    with pytest.warns(NonFiniteWarning):  # off: the update is skipped
        Trainer(Regressor(), TrainConfig(**cfg), step_fn=step).fit(SeqDataset())
    assert seen == [False, False]
    with pytest.raises(RuntimeError, match="returned nan values"), pytest.warns(UserWarning, match="[Aa]nomaly"):
        Trainer(Regressor(), TrainConfig(**cfg, detect_anomaly=True), step_fn=step).fit(SeqDataset())
    assert seen[2] is True
    assert not torch.is_anomaly_enabled()  # switched off again after the run


class Ragged(torch.utils.data.Dataset):
    """Sequences of 2..7 steps of 3 features; the target is the sum of the real steps."""

    def __init__(self, n=24, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.xs = [torch.randn(int(t), 3, generator=g) for t in torch.randint(2, 8, (n,), generator=g)]

    def __len__(self):
        return len(self.xs)

    def __getitem__(self, i):
        return self.xs[i], self.xs[i].sum()


def pad_collate(samples, pad=0.0):
    """(x, y) samples -> padded x (B, T_max, 3), lengths (B,), y (B,): the collate docs/training.md shows."""
    xs, ys = zip(*samples)
    lengths = torch.tensor([len(x) for x in xs])
    return pad_sequence(list(xs), batch_first=True, padding_value=pad), lengths, torch.stack(ys)


def padded_step(model, batch):
    x, lengths, y = batch
    return torch.nn.functional.mse_loss(model(x, lengths=lengths), y)


def test_full_bptt_on_padded_batches_with_lengths_ignores_the_padding():
    def run(pad):
        torch.manual_seed(0)
        model = Regressor()
        cfg = TrainConfig(
            max_steps=8, batch_size=6, optimizer="adam", lr=1e-2, val_every=4, log_every=100, progress=False
        )
        trainer = Trainer(model, cfg, step_fn=padded_step, collate_fn=lambda s: pad_collate(s, pad))
        trainer.fit(Ragged(), Ragged(n=8, seed=1))
        return model, trainer

    a, ta = run(0.0)
    b, tb = run(1e3)  # garbage in the padding: it must not reach the loss or the gradients
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(v, w, rtol=1e-5, atol=1e-6, msg=k)
    assert ta.history[-1]["val_loss"] == pytest.approx(tb.history[-1]["val_loss"], rel=1e-5)
    assert ta.history[-1]["val_loss"] < ta.history[0]["val_loss"] * 1.5  # it trains, and validates on padded data
    torch.manual_seed(0)
    untouched = Regressor()
    assert not torch.equal(untouched.head.weight, a.head.weight)

"""Runs measured in epochs: validate each epoch, score the start, keep and restore the best weights,
min_delta, a frozen part left out of the optimizer, teacher forcing by epoch, exact resume of all that,
and the task's own settings checked on resume."""

import copy

import pytest
import torch

from rnnkit.models.scheduled_sampling import SamplingSchedule, TeacherForcing
from rnnkit.training import TrainConfig, Trainer
from rnnkit.training.resume import ResumeConflict
from tests.training.training_helpers import Regressor, SeqDataset, mse_step

TRAIN, VAL = SeqDataset(n=24), SeqDataset(n=8, seed=1)  # 24 samples, batch 8: 3 updates per epoch


def _cfg(**kw):
    base = dict(
        max_steps=10**6,
        max_epochs=6,
        batch_size=8,
        val_every_epochs=1,
        log_every=100,
        progress=False,
        optimizer="adam",
        lr=1e-2,
    )
    base.update(kw)
    return TrainConfig(**base)


def _scripted(values):
    """An eval_fn whose metric follows ``values``, one per validation (VAL is one batch)."""
    seen = []

    def eval_fn(model, batch):
        seen.append(1)
        return {"loss": torch.tensor(values[len(seen) - 1])}

    return eval_fn


def test_validation_once_per_epoch_and_at_the_start():
    torch.manual_seed(0)
    t = Trainer(Regressor(), _cfg(val_at_start=True), step_fn=mse_step).fit(TRAIN, VAL)
    assert [(r["step"], r["epoch"]) for r in t.history] == [(0, 0)] + [(3 * e, e) for e in range(1, 7)]
    assert t.epoch == 6 and t.step == 18


def test_restore_best_loads_the_weights_of_the_best_validation():
    snapshots = {}

    def keep(trainer):  # the weights after every update, by step
        snapshots[trainer.step] = copy.deepcopy(trainer.model.state_dict())

    torch.manual_seed(0)
    values = [5.0, 4.0, 1.0, 3.0, 2.0, 2.5, 2.2]  # start, then epochs 1..6: best after epoch 2 (step 6)
    t = Trainer(
        Regressor(),
        _cfg(val_at_start=True, restore_best=True),
        step_fn=mse_step,
        eval_fn=_scripted(values),
        callbacks=[keep],
    ).fit(TRAIN, VAL)
    assert t.best == 1.0 and t.step == 18
    for k, v in t.model.state_dict().items():
        assert torch.equal(v, snapshots[6][k]), k
    assert not torch.equal(t.model.state_dict()["head.weight"], snapshots[18]["head.weight"])


def test_the_scored_start_is_kept_when_training_never_beats_it():
    torch.manual_seed(0)
    model = Regressor()
    start = copy.deepcopy(model.state_dict())
    values = [1.0, 2.0, 3.0, 1.5, 1.2]
    t = Trainer(
        model,
        _cfg(val_at_start=True, restore_best=True, early_stopping_patience=3),
        step_fn=mse_step,
        eval_fn=_scripted(values),
    ).fit(TRAIN, VAL)
    assert t.should_stop and t.epoch == 3  # three epochs without beating the start
    for k, v in model.state_dict().items():
        assert torch.equal(v, start[k]), k


def test_an_improvement_smaller_than_min_delta_does_not_count():
    values = [1.0, 0.9999, 0.99995, 0.5]
    t = Trainer(
        Regressor(),
        _cfg(max_epochs=4, min_delta=1e-3, early_stopping_patience=3),
        step_fn=mse_step,
        eval_fn=_scripted(values),
    ).fit(TRAIN, VAL)
    assert t.best == 0.5 and t.epoch == 4
    t = Trainer(
        Regressor(),
        _cfg(max_epochs=4, min_delta=1e-3, early_stopping_patience=2),
        step_fn=mse_step,
        eval_fn=_scripted(values),
    ).fit(TRAIN, VAL)
    assert t.best == 1.0 and t.should_stop and t.epoch == 3  # 0.9999 and 0.99995 are no progress


def test_trainable_only_leaves_a_frozen_part_out_of_the_optimizer():
    torch.manual_seed(0)
    model = Regressor()
    model.head.requires_grad_(False)
    before = model.head.weight.detach().clone()
    cfg = _cfg(max_epochs=2, trainable_only=True, optimizer="adamw", weight_decay=0.5, val_every_epochs=None)
    t = Trainer(model, cfg, step_fn=mse_step).fit(TRAIN)
    params = [p for group in t.optimizer.param_groups for p in group["params"]]
    assert all(p is not model.head.weight and p is not model.head.bias for p in params)
    assert len(params) == len(list(model.rnn.parameters()))
    assert torch.equal(model.head.weight, before)
    model.rnn.requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        Trainer(model, _cfg(trainable_only=True), step_fn=mse_step).fit(TRAIN)


def test_teacher_forcing_follows_epochs_when_asked():
    seen = []
    tf = TeacherForcing(SamplingSchedule("linear", k=1.0, c=0.25, eps_min=0.0))

    def step(model, batch):
        seen.append((tf.step, tf.ratio))
        return mse_step(model, batch)

    Trainer(
        Regressor(),
        _cfg(max_epochs=3, teacher_forcing_unit="epoch", val_every_epochs=None),
        step_fn=step,
        teacher_forcing=tf,
    ).fit(TRAIN)
    assert seen == [(0, 1.0)] * 3 + [(1, 0.75)] * 3 + [(2, 0.5)] * 3


@pytest.mark.parametrize(
    "field,value",
    [
        ("val_every_epochs", 0),
        ("checkpoint_every_epochs", -1),
        ("min_delta", -0.1),
        ("teacher_forcing_unit", "batch"),
        ("restore_best", 1),
        ("val_at_start", "yes"),
        ("trainable_only", None),
    ],
)
def test_the_new_fields_are_validated(field, value):
    with pytest.raises((ValueError, TypeError)) as err:
        TrainConfig(**{field: value})
    assert field in str(err.value) and repr(value) in str(err.value)


def _resumable(tmp_path, **kw):
    torch.manual_seed(0)
    cfg = _cfg(
        **{
            "max_epochs": 8,
            "val_at_start": True,
            "restore_best": True,
            "early_stopping_patience": 50,
            "out_dir": str(tmp_path),
            "checkpoint_every_epochs": 2,
            **kw,
        }
    )
    return Trainer(Regressor(), cfg, step_fn=mse_step, settings={"rows": 24, "horizon": 6})


def test_an_interrupted_epoch_run_resumed_equals_an_uninterrupted_one(tmp_path):
    whole = _resumable(tmp_path / "whole").fit(TRAIN, VAL)

    class Crash(Exception):
        pass

    def crash(trainer):
        if trainer.epoch == 5:  # the checkpoint of epoch 4 is written; epoch 5 is half done
            raise Crash

    cut = _resumable(tmp_path / "cut")
    cut.callbacks.append(crash)
    with pytest.raises(Crash):
        cut.fit(TRAIN, VAL)
    resumed = _resumable(tmp_path / "cut", resume=True).fit(TRAIN, VAL)
    assert resumed.resumed_at == {"step": 12, "epoch": 4}
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in whole.history]
    assert resumed.best == whole.best
    for k, v in whole.model.state_dict().items():  # the restored best weights
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    for k, v in whole.best_weights.items():
        assert torch.equal(v, resumed.best_weights[k]), k


def test_resume_refuses_other_task_settings_naming_each(tmp_path):
    _resumable(tmp_path).fit(TRAIN, VAL)
    t = _resumable(tmp_path, resume=True, max_epochs=9)
    t.settings = {"rows": 30, "horizon": 6}
    with pytest.raises(ResumeConflict, match=r"rows 30 \(the run was started with 24\)"):
        t.fit(TRAIN, VAL)
    t.settings = {"rows": 24, "horizon": 6, "max_epochs": 9}  # how long it runs may change
    t.fit(TRAIN, VAL)
    assert t.epoch == 9
    with pytest.raises(TypeError, match="settings must be a mapping"):
        Trainer(Regressor(), _cfg(), step_fn=mse_step, settings=[("rows", 24)])

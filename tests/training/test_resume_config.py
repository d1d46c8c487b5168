"""Resume checks the saved configuration; a resume with no checkpoint says it starts fresh."""

import dataclasses
import warnings

import pytest
import torch

from rnnkit.training import TrainConfig, Trainer, load_training_state
from rnnkit.training.config import RESUME_MAY_CHANGE, resume_conflicts
from tests.training.training_helpers import Regressor, SeqDataset, mse_step

BASE = dict(max_steps=4, batch_size=4, checkpoint_every=2, log_every=100, progress=False, seed=1)


def _fit(tmp_path, val=None, **changes):
    torch.manual_seed(0)
    cfg = TrainConfig(**{**BASE, "out_dir": str(tmp_path), **changes})
    return Trainer(Regressor(), cfg, step_fn=mse_step).fit(SeqDataset(), val)


@pytest.mark.parametrize(
    "field,new",
    [
        ("batch_size", 8),
        ("seed", 2),
        ("shuffle", False),
        ("optimizer", "sgd"),
        ("lr", 0.5),
        ("schedule", "cosine"),
        ("drop_last", True),
    ],
)
def test_a_change_that_breaks_the_run_is_refused_naming_old_and_new(tmp_path, field, new):
    _fit(tmp_path)
    old = getattr(TrainConfig(**BASE), field)
    with pytest.raises(ValueError) as err:
        _fit(tmp_path, resume=True, max_steps=6, **{field: new})
    msg = str(err.value)
    assert f"{field}: {old!r} (saved) -> {new!r} (now)" in msg
    assert "max_steps" not in msg.split("may change")[0]  # the allowed change is not reported as a conflict
    assert load_training_state(tmp_path / "last")["step"] == 4  # nothing was overwritten


def test_every_conflicting_field_is_named_at_once(tmp_path):
    _fit(tmp_path)
    with pytest.raises(ValueError, match=r"(?s)batch_size: 4 \(saved\) -> 8 \(now\).*seed: 1 \(saved\) -> 7 \(now\)"):
        _fit(tmp_path, resume=True, batch_size=8, seed=7)


def test_tbptt_fields_are_compared():
    saved = TrainConfig(bptt=4, bptt_window=8).to_dict()
    assert [c[0] for c in resume_conflicts(saved, TrainConfig(bptt=4, bptt_window=12))] == ["bptt_window"]
    assert [c[0] for c in resume_conflicts(saved, TrainConfig(bptt=2, bptt_window=8))] == ["bptt"]
    assert resume_conflicts({**saved, "field_of_a_newer_version": 1}, TrainConfig(bptt=4, bptt_window=8)) == []


def test_safe_fields_may_change_on_resume(tmp_path):
    _fit(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a warning
        t = _fit(
            tmp_path,
            val=SeqDataset(n=4, seed=2),
            resume=True,
            max_steps=6,
            time_budget=600.0,
            log_every=1,
            checkpoint_every=3,
            val_every=5,
            clip_norm=0.5,
            progress=False,
        )
    assert t.step == 6 and t.config.clip_norm == 0.5
    assert {"max_steps", "time_budget", "log_every", "checkpoint_every", "val_every"} <= set(RESUME_MAY_CHANGE)


def test_every_field_is_classified():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(RESUME_MAY_CHANGE) <= fields
    # a field not listed must match; make sure a new field is a deliberate choice: this list is the rest
    must_match = fields - set(RESUME_MAY_CHANGE)
    assert {
        "batch_size",
        "shuffle",
        "drop_last",
        "bptt",
        "bptt_window",
        "state_batch_dim",
        "optimizer",
        "lr",
        "seed",
        "schedule",
        "devices",
        "precision",
    } <= must_match


def test_changing_the_monitor_on_resume_forgets_the_best_value(tmp_path):
    val = SeqDataset(n=8, seed=1)
    first = _fit(tmp_path, val=val, val_every=2)
    assert first.best is not None
    with pytest.warns(UserWarning, match="monitor changed from 'val_loss' \\(min\\) to 'val_loss' \\(max\\)"):
        t = _fit(tmp_path, val=val, resume=True, max_steps=6, val_every=2, monitor_mode="max")
    # the first validation after the resume (step 6) is the new best in the new direction
    assert t.best == t.history[-1]["val_loss"]


def test_resume_without_a_checkpoint_warns_and_starts_fresh(tmp_path):
    with pytest.warns(UserWarning, match="resume=True but .*last holds no checkpoint: starting a fresh run"):
        t = _fit(tmp_path / "new", resume=True)
    assert t.step == 4 and load_training_state(tmp_path / "new" / "last")["step"] == 4

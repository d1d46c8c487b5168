import pytest
import torch

from rnnkit.training import NonFiniteError, NonFiniteWarning, TrainConfig, Trainer
from tests.training.training_helpers import Regressor, SeqDataset, mse_step


class _InfGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g * float("inf")


def _run(bad_steps, max_steps=6, max_bad=3, where="loss"):
    model = Regressor()
    snapshots = {}
    trainer = None

    def step(m, batch):
        loss = mse_step(m, batch)
        if trainer.step in bad_steps:
            if where == "loss":
                return loss * float("nan")
            return _InfGrad.apply(loss)  # a finite loss whose gradient is inf
        return loss

    def snap(t):
        snapshots[t.step] = [p.detach().clone() for p in model.parameters()]

    trainer = Trainer(
        model,
        TrainConfig(max_steps=max_steps, batch_size=8, max_bad_steps=max_bad, log_every=100),
        step_fn=step,
        callbacks=[snap],
    )
    return trainer, snapshots


@pytest.mark.parametrize("where", ["loss", "grad"])
def test_nan_step_is_skipped_and_weights_unchanged(where):
    trainer, snaps = _run({2}, where=where)
    with pytest.warns(NonFiniteWarning, match="step 2"):
        trainer.fit(SeqDataset())
    # the update with index 2 ends as step 3: weights after it equal weights after step 2
    assert all(torch.equal(a, b) for a, b in zip(snaps[2], snaps[3]))
    assert not all(torch.equal(a, b) for a, b in zip(snaps[3], snaps[4]))
    assert trainer.guard.total == 1 and trainer.guard.consecutive == 0
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_many_bad_steps_in_a_row_stop_the_run_naming_the_step():
    trainer, snaps = _run({1, 2, 3, 4}, max_steps=10, max_bad=3)
    with pytest.warns(NonFiniteWarning), pytest.raises(NonFiniteError, match="stopping at step 3: 3 consecutive"):
        trainer.fit(SeqDataset())
    assert all(torch.equal(a, b) for a, b in zip(snaps[1], snaps[3]))

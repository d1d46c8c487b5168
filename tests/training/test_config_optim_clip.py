import math

import pytest
import torch
from torch import nn

from rnnkit.training import TrainConfig, build_optimizer, build_scheduler, clip_gradients, lr_factor


@pytest.mark.parametrize(
    "field,value",
    [
        ("max_steps", 0),
        ("lr", -1.0),
        ("lr", float("nan")),
        ("optimizer", "lamb"),
        ("schedule", "linear"),
        ("clip_norm", 0.0),
        ("bptt", 0),
        ("precision", "fp8"),
        ("betas", (0.9, 1.5)),
        ("max_bad_steps", 0),
    ],
)
def test_bad_config_values_raise_naming_the_value(field, value):
    with pytest.raises(ValueError) as err:
        TrainConfig(**{field: value})
    assert field in str(err.value) and repr(value) in str(err.value)


def test_bptt_window_must_be_a_multiple_of_bptt():
    with pytest.raises(ValueError, match="bptt_window"):
        TrainConfig(bptt=4, bptt_window=6)
    assert TrainConfig(bptt=4, bptt_window=8).bptt_window == 8


def test_config_json_round_trip():
    cfg = TrainConfig(lr=3e-3, betas=(0.8, 0.99), bptt=7, out_dir="x")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"nope": 1})


@pytest.mark.parametrize(
    "name,cls",
    [
        ("adam", torch.optim.Adam),
        ("adamw", torch.optim.AdamW),
        ("sgd", torch.optim.SGD),
        ("rmsprop", torch.optim.RMSprop),
        ("adagrad", torch.optim.Adagrad),
    ],
)
def test_optimizers(name, cls):
    opt = build_optimizer(nn.Linear(2, 2).parameters(), TrainConfig(optimizer=name, lr=0.01, momentum=0.5))
    assert isinstance(opt, cls) and opt.param_groups[0]["lr"] == 0.01
    if name == "sgd":
        assert opt.param_groups[0]["momentum"] == 0.5


def _lrs(cfg, n):
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=cfg.lr)
    sched = build_scheduler(opt, cfg)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_schedules_against_hand_computed_values():
    # warmup 3: (s+1)/4 for s < 3
    assert _lrs(TrainConfig(lr=1.0, warmup_steps=3), 5) == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert _lrs(TrainConfig(lr=2.0, schedule="step", step_size=2, gamma=0.5), 6) == pytest.approx(
        [2, 2, 1, 1, 0.5, 0.5]
    )
    cos = _lrs(TrainConfig(lr=1.0, schedule="cosine", warmup_steps=2, max_steps=6, min_lr_ratio=0.1), 7)
    want = [1 / 3, 2 / 3] + [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p / 4)) for p in range(5)]
    assert cos == pytest.approx(want)
    assert cos[-1] == pytest.approx(0.1)


def test_plateau_reduces_after_patience():
    cfg = TrainConfig(lr=1.0, schedule="plateau", plateau_patience=1, plateau_factor=0.5)
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = build_scheduler(opt, cfg)
    for metric in (1.0, 1.0, 1.0):
        sched.step(metric)
    assert opt.param_groups[0]["lr"] == 0.5
    assert lr_factor(TrainConfig(schedule="constant"))(100) == 1.0


def _params_with_grads(*grads):
    ps = []
    for g in grads:
        p = nn.Parameter(torch.zeros(len(g)))
        p.grad = torch.tensor(g, dtype=torch.float32)
        ps.append(p)
    return ps


def test_clip_by_norm_hand_computed():
    ps = _params_with_grads([3.0, 0.0], [0.0, 4.0])  # global norm 5
    norm = clip_gradients(ps, clip_norm=1.0)
    assert float(norm) == pytest.approx(5.0)  # the pre-clip norm is returned
    scale = 1.0 / (5.0 + 1e-6)
    assert torch.allclose(ps[0].grad, torch.tensor([3 * scale, 0.0]))
    assert torch.allclose(ps[1].grad, torch.tensor([0.0, 4 * scale]))
    small = _params_with_grads([0.3, 0.4])
    clip_gradients(small, clip_norm=1.0)  # below the threshold: untouched
    assert torch.equal(small[0].grad, torch.tensor([0.3, 0.4]))


def test_clip_by_value_then_norm():
    ps = _params_with_grads([3.0, -0.5], [-4.0])
    norm = clip_gradients(ps, clip_value=1.0)
    assert float(norm) == pytest.approx(math.sqrt(9 + 0.25 + 16))
    assert torch.equal(ps[0].grad, torch.tensor([1.0, -0.5])) and torch.equal(ps[1].grad, torch.tensor([-1.0]))
    ps = _params_with_grads([3.0, -0.5], [-4.0])
    clip_gradients(ps, clip_norm=1.0, clip_value=1.0)  # after value clipping the norm is 1.5
    assert torch.allclose(ps[0].grad, torch.tensor([1.0, -0.5]) / 1.5, atol=1e-6)
    with pytest.raises(ValueError, match="clip_norm"):
        clip_gradients(ps, clip_norm=-1.0)


def test_cosine_anneals_over_the_time_budget():
    """With a time budget, progress is max(step fraction, time fraction)."""
    import math

    cfg = TrainConfig(schedule="cosine", max_steps=1000, time_budget=100.0)
    now = {"t": 0.0}
    f = lr_factor(cfg, clock=lambda: now["t"])
    assert f(0) == 1.0
    now["t"] = 50.0  # half the time gone, 1% of the steps: the time decides
    assert math.isclose(f(10), 0.5 * (1 + math.cos(math.pi * 0.5)))
    now["t"] = 1.0  # 80% of the steps gone, little time: the steps decide
    assert math.isclose(f(800), 0.5 * (1 + math.cos(math.pi * 0.8)))
    now["t"] = 150.0
    assert f(10) == 0.0


def test_time_budget_stops_the_run_and_is_validated():
    import pytest
    import torch
    from torch import nn

    from rnnkit.training import Trainer

    with pytest.raises(ValueError, match=r"time_budget"):
        TrainConfig(time_budget=-1.0)
    model = nn.Linear(3, 1)
    data = torch.utils.data.TensorDataset(torch.randn(64, 3), torch.randn(64, 1))
    step = lambda m, b: ((m(b[0]) - b[1]) ** 2).mean()  # noqa: E731
    trainer = Trainer(model, TrainConfig(max_steps=10**9, time_budget=0.3, batch_size=8, progress=False), step_fn=step)
    trainer.fit(data)
    assert 0 < trainer.step < 10**9 and 0.3 <= trainer.train_seconds < 5.0


@pytest.mark.parametrize("value", [1.0, 1.5, -0.1])
def test_momentum_must_be_in_0_1(value):
    with pytest.raises(ValueError, match=rf"momentum must be in \[0, 1\), got {value!r}"):
        TrainConfig(momentum=value)
    assert TrainConfig(momentum=0.0).momentum == 0.0 and TrainConfig(momentum=0.99).momentum == 0.99


def test_warmup_must_fit_in_the_run():
    with pytest.raises(ValueError, match="warmup_steps=200 must be <= max_steps=100"):
        TrainConfig(warmup_steps=200, max_steps=100)
    assert TrainConfig(warmup_steps=100, max_steps=100).warmup_steps == 100


def test_the_schedule_follows_applied_updates_and_skips_with_the_optimizer():
    """A skipped (non-finite) update steps neither the optimizer nor the schedule."""
    from rnnkit.training import NonFiniteWarning, Trainer
    from tests.training.training_helpers import Regressor, SeqDataset, mse_step

    lrs = {}
    trainer = None

    def step(m, batch):
        loss = mse_step(m, batch)
        return loss * float("nan") if trainer.step == 1 else loss  # the 2nd update is skipped

    cfg = TrainConfig(
        max_steps=6, batch_size=4, lr=1.0, optimizer="sgd", momentum=0.0, warmup_steps=4, log_every=100, progress=False
    )
    trainer = Trainer(
        Regressor(), cfg, step_fn=step, callbacks=[lambda t: lrs.__setitem__(t.step, t.optimizer.param_groups[0]["lr"])]
    )
    with pytest.warns(NonFiniteWarning):
        trainer.fit(SeqDataset())
    # warmup (s + 1) / 5 over s = applied updates: 1, 1 (skipped), 2, 3, 4, 5
    assert [lrs[i] for i in range(1, 7)] == pytest.approx([0.4, 0.4, 0.6, 0.8, 1.0, 1.0])
    assert trainer.scheduler.last_epoch == trainer.step - trainer.guard.total == 5


def test_adam_and_adamw_take_torchs_fused_kernel_and_match_the_plain_update():
    import torch

    from rnnkit.training import TrainConfig
    from rnnkit.training.optim import build_optimizer

    for name, cls in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        torch.manual_seed(0)
        a = torch.nn.Linear(8, 4)
        b = torch.nn.Linear(8, 4)
        b.load_state_dict(a.state_dict())
        ours = build_optimizer(a.parameters(), TrainConfig(optimizer=name, lr=1e-2, weight_decay=0.1))
        assert ours.defaults["fused"] is True
        plain = cls(b.parameters(), lr=1e-2, weight_decay=0.1)
        for _ in range(5):
            x = torch.randn(16, 8)
            for m, opt in ((a, ours), (b, plain)):
                opt.zero_grad()
                m(x).pow(2).mean().backward()
                opt.step()
        for p, q in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)

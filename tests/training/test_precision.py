import copy
import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.training import StreamDataset, TrainConfig, Trainer
from tests.training.training_helpers import VOCAB, TinyLM, lm_chunk_step, token_stream


def _pattern_stream(rows: int = 4, length: int = 41) -> torch.Tensor:
    """Token rows that repeat a pattern (t * 3 + r mod VOCAB): something an LSTM learns in a few steps."""
    return torch.stack([(torch.arange(length) * 3 + r) % VOCAB for r in range(rows)])


def _bf16_loss(model, stream) -> float:
    x, y = stream[:, :-1], stream[:, 1:]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits, _ = model(x)
    return float(F.cross_entropy(logits.float().reshape(-1, VOCAB), y.reshape(-1)))


def test_bf16_autocast_on_cpu_trains_and_carries_fp32_state():
    """bf16 autocast on CPU trains (on a CPU whose oneDNN cannot build a bf16 LSTM, the fused engine
    steps aside for the loop), its carried state stays fp32, and it learns as the fp32 run does."""
    stream = _pattern_stream()
    base = TinyLM()
    start = _bf16_loss(base, stream)
    results = {}
    for precision in ("bf16", "fp32"):
        model = copy.deepcopy(base)
        t = Trainer(
            model, TrainConfig(max_steps=10, bptt=4, precision=precision, lr=3e-2, log_every=100), step_fn=lm_chunk_step
        )
        t.fit(StreamDataset(stream))
        assert math.isfinite(t.last_loss)
        assert all(s.dtype == torch.float32 for s in t.tbptt.start_state)
        results[precision] = _bf16_loss(model, stream)
    assert results["bf16"] < start - 0.5, (start, results)  # it learns (2.43 -> 1.46 nats here)
    assert abs(results["bf16"] - results["fp32"]) < 0.05, results  # as the fp32 run does
    assert results["bf16"] != results["fp32"]  # and bf16 really ran: its rounding differs


def test_fp16_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA present: the error path is for CPU-only machines")
    with pytest.raises(ValueError, match="fp16"):
        Trainer(TinyLM(), TrainConfig(max_steps=1, bptt=4, precision="fp16"), step_fn=lm_chunk_step).fit(
            StreamDataset(token_stream())
        )


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fp16_with_grad_scaler_on_cuda():
    t = Trainer(
        TinyLM(),
        TrainConfig(max_steps=3, bptt=4, precision="fp16", accelerator="cuda", log_every=100),
        step_fn=lm_chunk_step,
    )
    t.fit(StreamDataset(token_stream()))
    assert t.scaler is not None and t.last_loss == t.last_loss


class _StandInFabric:
    """What the Trainer uses of lightning.fabric.Fabric, in one process: backward (and barrier)."""

    device = torch.device("cpu")
    global_rank, world_size = 0, 1

    def __init__(self):
        self.losses = []  # what backward was called on

    def setup_module(self, module):
        return module

    def backward(self, loss):
        self.losses.append(float(loss.detach()))
        loss.backward()

    def barrier(self):
        pass


def _real_fabric():
    from rnnkit.training.distributed import fabric_available

    if not fabric_available():
        pytest.skip("lightning (the 'distributed' extra) is not installed")
    from lightning.fabric import Fabric

    return Fabric(accelerator="cpu", devices=1, precision="32-true")


@pytest.mark.parametrize("kind", ["stand-in", "lightning"])
def test_fp16_loss_scaling_under_fabric(kind):
    """Under Fabric the loss is scaled before fabric.backward, so unscale_ sees scaled gradients.

    fp16 needs CUDA; here a CPU GradScaler stands in for the CUDA one (same code path in the Trainer).
    """
    import copy

    from tests.training.training_helpers import Regressor, SeqDataset, mse_step

    torch.manual_seed(0)
    model = Regressor()
    reference = copy.deepcopy(model)
    cfg = TrainConfig(
        max_steps=1,
        batch_size=8,
        optimizer="sgd",
        momentum=0.0,
        lr=0.1,
        clip_norm=None,
        shuffle=False,
        log_every=100,
        progress=False,
    )
    trainer = Trainer(model, cfg, step_fn=mse_step)
    data = SeqDataset()
    trainer._setup(data)
    fabric = _StandInFabric() if kind == "stand-in" else _real_fabric()
    trainer.fabric = fabric
    trainer._train_model = fabric.setup_module(model)
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    trainer.source.begin_epoch()
    batch = next(trainer.source.iter_from(0))

    loss = trainer._update(batch)  # crashed in unscale_ when fabric.backward got the unscaled loss

    ref_loss = mse_step(reference, batch)
    ref_loss.backward()
    assert loss == pytest.approx(float(ref_loss.detach()), rel=1e-6)
    if kind == "stand-in":
        assert fabric.losses == [pytest.approx(float(ref_loss.detach()) * 2.0**10, rel=1e-6)]
    assert trainer.last_grad_norm == pytest.approx(
        float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in reference.parameters()]))), rel=1e-5
    )
    with torch.no_grad():
        for p, q in zip(model.parameters(), reference.parameters()):
            torch.testing.assert_close(p, q - 0.1 * q.grad, rtol=1e-5, atol=1e-6)
    assert trainer.scaler.get_scale() == 2.0**10  # no overflow: the scale is kept

import pytest
import torch

from rnnkit.training import StreamDataset, TrainConfig, Trainer
from training_helpers import TinyLM, lm_chunk_step, token_stream


def test_bf16_autocast_on_cpu_trains_and_carries_fp32_state():
    t = Trainer(TinyLM(), TrainConfig(max_steps=3, bptt=4, precision="bf16", log_every=100), step_fn=lm_chunk_step)
    t.fit(StreamDataset(token_stream()))
    assert t.last_loss == t.last_loss and all(s.dtype == torch.float32 for s in t.tbptt.start_state)


def test_fp16_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA present: the error path is for CPU-only machines")
    with pytest.raises(ValueError, match="fp16"):
        Trainer(TinyLM(), TrainConfig(max_steps=1, bptt=4, precision="fp16"), step_fn=lm_chunk_step).fit(
            StreamDataset(token_stream()))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fp16_with_grad_scaler_on_cuda():
    t = Trainer(TinyLM(), TrainConfig(max_steps=3, bptt=4, precision="fp16", accelerator="cuda", log_every=100),
                step_fn=lm_chunk_step)
    t.fit(StreamDataset(token_stream()))
    assert t.scaler is not None and t.last_loss == t.last_loss

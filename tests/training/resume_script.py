"""Run by test_resume.py in a subprocess: train (optionally SIGKILL itself at a step, or resume)."""

import os
import signal
import sys

import torch

from rnnkit.training import StreamDataset, TrainConfig, Trainer
from tests.training.training_helpers import TinyLM, lm_chunk_step


def main(out_dir: str, kill_at: int, resume: bool) -> None:
    torch.set_num_threads(1)  # the same float reductions in every process
    torch.manual_seed(0)
    model = TinyLM(dropout=0.3)
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(0, 11, (int(n),), generator=g) for n in torch.randint(3, 14, (9,), generator=g)]
    data = StreamDataset.from_sequences(seqs, batch_size=2, bptt=4, shuffle=True, seed=5)
    cfg = TrainConfig(
        max_steps=16,
        bptt=4,
        bptt_window=8,
        optimizer="adam",
        lr=1e-2,
        schedule="cosine",
        warmup_steps=2,
        checkpoint_every=5,
        out_dir=out_dir,
        resume=resume,
        seed=3,
        log_every=2,
    )

    def killer(trainer):
        if trainer.step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    Trainer(model, cfg, step_fn=lm_chunk_step, callbacks=[killer]).fit(data)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "resume")

"""Run by test_ddp.py: train on 2 CPU processes (gloo) through Lightning Fabric."""

import sys

import torch

from rnnkit.training import TrainConfig, Trainer
from tests.training.training_helpers import Regressor, SeqDataset, mse_step


def train(out_dir, devices: int, batch_size: int):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Regressor()
    cfg = TrainConfig(
        max_steps=5,
        batch_size=batch_size,
        devices=devices,
        accelerator="cpu",
        optimizer="adam",
        lr=1e-2,
        clip_norm=0.5,
        out_dir=out_dir,
        log_every=100,
        seed=4,
    )
    Trainer(model, cfg, step_fn=mse_step).fit(SeqDataset(n=40))
    return model


if __name__ == "__main__":
    train(sys.argv[1], devices=2, batch_size=4)

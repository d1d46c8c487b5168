"""Overhead of the Trainer's loop against a bare hand-written loop on the same model and data.

An rnnkit.LSTM character-level LM (embedding 64, LSTM 1x256, B=32, TBPTT 64, Adam, clip 1.0):
the bare loop is min-char-rnn's (carry the state, detach, forward, loss, backward, clip, step,
zero_grad); the Trainer runs the same updates through ``Trainer.fit`` (no out_dir, no progress bar,
log_every=50). Both are warmed up first, then interleaved in one process: ``--repeats`` rounds of
``--steps`` updates each, the order alternating from round to round (bare first, then Trainer first)
so drift in the machine's speed falls on both; the ratio of the medians is printed (target <= 1.05)
with the per-round ratios and the thread count.

    OMP_NUM_THREADS=2 python benchmarks/bench_trainer.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

import rnnkit
from rnnkit.training import StreamDataset, TrainConfig, Trainer, detach_state

V, E, H, B, K = 65, 64, 256, 32, 64


class CharLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, E)
        self.rnn = rnnkit.LSTM(E, H, batch_first=True)
        self.head = nn.Linear(H, V)

    def forward(self, x, state=None):
        h, state = self.rnn(self.embed(x), state)  # (B, K, H)
        return self.head(h), state


def step_fn(model, chunk, state):
    x, y, _ = chunk
    logits, state = model(x, state)
    return F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)), state


def bare(model, tokens, steps):
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    state = None
    x_all, y_all = tokens[:, :-1], tokens[:, 1:]
    t0 = time.perf_counter()
    for j in range(steps):
        x, y = x_all[:, j * K : (j + 1) * K], y_all[:, j * K : (j + 1) * K]
        state = detach_state(state)
        loss, state = step_fn(model, (x, y, None), state)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # a bare loop reads its loss too (to print it)
    return time.perf_counter() - t0


def trainer(model, tokens, steps):
    cfg = TrainConfig(
        max_steps=steps,
        bptt=K,
        optimizer="adam",
        lr=2e-3,
        clip_norm=1.0,
        log_every=50,
        progress=False,
        schedule="constant",
    )
    t = Trainer(model, cfg, step_fn=step_fn)
    data = StreamDataset(tokens)
    t0 = time.perf_counter()
    t.fit(data)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=5, help="updates of each loop before timing")
    args = ap.parse_args()
    tokens = torch.randint(0, V, (B, args.steps * K + 1), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    warm = CharLM()
    bare(warm, tokens, args.warmup)
    trainer(warm, tokens, args.warmup)
    times = {"bare": [], "trainer": []}
    runs = {"bare": bare, "trainer": trainer}
    for r in range(args.repeats):
        for name in ("bare", "trainer") if r % 2 == 0 else ("trainer", "bare"):
            torch.manual_seed(0)
            times[name].append(runs[name](CharLM(), tokens, args.steps))
    mb, mt = statistics.median(times["bare"]), statistics.median(times["trainer"])
    rounds = [t / b for b, t in zip(times["bare"], times["trainer"])]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.repeats} rounds of {args.steps} "
        f"updates (B={B}, k={K}, H={H})"
    )
    print(f"bare loop: median {mb * 1e3 / args.steps:.2f} ms/update; Trainer: {mt * 1e3 / args.steps:.2f} ms/update")
    print(f"per-round Trainer/bare: {' '.join(f'{x:.3f}' for x in rounds)}")
    print(f"Trainer / bare (ratio of medians) = {mt / mb:.3f}")


if __name__ == "__main__":
    main()

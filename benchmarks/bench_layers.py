"""rnnkit layers against torch.nn in one process, interleaved: forward and forward+backward.

Every contender runs once per round, in turn, so machine noise hits all of them alike; the
figure is the median over rounds, and the ratio is ours / torch.nn (lower is better, 1.00 = same).

    python benchmarks/bench_layers.py [--rounds 15] [--threads 2] [--size 256] [--batch 32] [--steps 128]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import rnnkit

KINDS = {
    "LSTM": (nn.LSTM, rnnkit.LSTM, {}),
    "GRU": (nn.GRU, rnnkit.GRU, {}),
    "RNN tanh": (nn.RNN, rnnkit.RNN, {}),
}


def _forward(layer, x):
    with torch.no_grad():
        layer(x)


def _forward_backward(layer, x):
    out, _ = layer(x)
    out.sum().backward()


def measure(fns: dict, rounds: int, warmup: int = 3) -> dict:
    times = {name: [] for name in fns}
    for r in range(warmup + rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            if r >= warmup:
                times[name].append(elapsed)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=256, help="input and hidden size")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    I = H = args.size
    print(f"torch {torch.__version__}, {args.threads} threads, I=H={H}, B={args.batch}, T={args.steps}, "
          f"median of {args.rounds} interleaved rounds; ratio = rnnkit / torch.nn")
    print(f"{'layer':10} {'pass':9} {'torch.nn ms':>11} {'auto ms':>8} {'auto ratio':>10} {'loop ms':>8} {'loop ratio':>10}")
    x = torch.randn(args.steps, args.batch, I)
    for kind, (torch_cls, ours_cls, kw) in KINDS.items():
        reference = torch_cls(I, H, **kw)
        auto = ours_cls(I, H, **kw)
        loop = ours_cls(I, H, engine="loop", **kw)
        auto.load_state_dict(reference.state_dict())
        loop.load_state_dict(reference.state_dict())
        for label, fn in (("forward", _forward), ("fwd+bwd", _forward_backward)):
            xx = x.clone().requires_grad_(label == "fwd+bwd")
            med = measure(
                {"torch": lambda: fn(reference, xx), "auto": lambda: fn(auto, xx), "loop": lambda: fn(loop, xx)},
                args.rounds,
            )
            t = med["torch"]
            print(f"{kind:10} {label:9} {t * 1e3:11.1f} {med['auto'] * 1e3:8.1f} {med['auto'] / t:10.3f} "
                  f"{med['loop'] * 1e3:8.1f} {med['loop'] / t:10.3f}")


if __name__ == "__main__":
    main()

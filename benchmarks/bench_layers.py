"""rnnkit layers against torch.nn in one process, interleaved: forward and forward+backward.

Every contender runs once per round, in turn, so machine noise hits all of them alike; the order
reverses every other round (torch.nn first, then last), so whatever running first or last costs
(caches, allocator, frequency) falls on each side equally. The times are medians over rounds; the
ratio is ours / torch.nn within each round, then the median over rounds (pairing runs of one round
cancels slow drifts in machine load, which a ratio of two medians does not); lower is better,
1.00 = same.

    python benchmarks/bench_layers.py [--rounds 16] [--threads 2] [--size 256] [--batch 32] [--steps 128]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import rnnkit


def kinds(size: int) -> dict:
    """Layer name -> (torch.nn class, rnnkit class, constructor arguments)."""
    return {
        "LSTM": (nn.LSTM, rnnkit.LSTM, {}),
        f"LSTM proj {size // 2}": (nn.LSTM, rnnkit.LSTM, {"proj_size": size // 2}),
        "GRU": (nn.GRU, rnnkit.GRU, {}),
        "RNN tanh": (nn.RNN, rnnkit.RNN, {"nonlinearity": "tanh"}),
        "RNN relu": (nn.RNN, rnnkit.RNN, {"nonlinearity": "relu"}),
    }


def _forward(layer, x):
    with torch.no_grad():
        layer(x)


def _forward_backward(layer, x):
    out, _ = layer(x)
    out.sum().backward()


def measure(fns: dict, rounds: int, warmup: int = 3) -> dict:
    """Seconds per call of each function in each measured round, run interleaved; the order
    reverses every round."""
    times = {name: [] for name in fns}
    order = list(fns)
    for r in range(warmup + rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            fn = fns[name]
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            if r >= warmup:
                times[name].append(elapsed)
    return times


def paired_ratio(ours: list, reference: list) -> float:
    """Median over rounds of ours / reference in the same round."""
    return statistics.median(a / b for a, b in zip(ours, reference))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=16, help="measured rounds (even: each order as often)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=256, help="input and hidden size")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    I = H = args.size
    print(
        f"torch {torch.__version__}, {args.threads} threads, I=H={H}, B={args.batch}, T={args.steps}, "
        f"median of {args.rounds} interleaved rounds, order alternating; ratio = median of per-round rnnkit / torch.nn"
    )
    print(
        f"{'layer':14} {'pass':9} {'torch.nn ms':>11} {'auto ms':>8} {'auto ratio':>10} "
        f"{'loop ms':>8} {'loop ratio':>10}"
    )
    x = torch.randn(args.steps, args.batch, I)
    for kind, (torch_cls, ours_cls, kw) in kinds(H).items():
        reference = torch_cls(I, H, **kw)
        auto = ours_cls(I, H, **kw)
        loop = ours_cls(I, H, engine="loop", **kw)
        auto.load_state_dict(reference.state_dict())
        loop.load_state_dict(reference.state_dict())
        for label, fn in (("forward", _forward), ("fwd+bwd", _forward_backward)):
            xx = x.clone().requires_grad_(label == "fwd+bwd")
            times = measure(
                {
                    name: (lambda fn=fn, layer=layer, xx=xx: fn(layer, xx))
                    for name, layer in (("torch", reference), ("auto", auto), ("loop", loop))
                },
                args.rounds,
            )
            ms = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
            print(
                f"{kind:14} {label:9} {ms['torch']:11.1f} {ms['auto']:8.1f} "
                f"{paired_ratio(times['auto'], times['torch']):10.3f} {ms['loop']:8.1f} "
                f"{paired_ratio(times['loop'], times['torch']):10.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""The long-range memory tasks of Bai, Kolter & Koltun 2018 (locuslab/TCN's generators), seeded.

**Adding problem** (Hochreiter & Schmidhuber 1997; TCN ``adding_problem/utils.py``). A sequence of
``T`` steps with two channels: channel 0 holds values uniform in [0, 1], channel 1 is a mask that is
1 at exactly two positions (drawn without replacement, anywhere in the sequence) and 0 elsewhere.
The target is the sum of the two marked values::

    x: (N, T, 2)   x[n, t] = (u_t, m_t),  u_t ~ U[0, 1],  sum_t m_t = 2
    y: (N,)        y[n] = sum_t u_t * m_t

Answering 1 always (the mean of the sum) scores MSE = Var(U1 + U2) = 2/12 = 1/6 ~ 0.167: the
trivial baseline. (TCN lays x out channels-first, ``(N, 2, T)``; rnnkit's sequence models read
batch-first ``(N, T, C)``: the same numbers transposed.)

**Copy memory** (TCN ``copy_memory/utils.py``). With ``blank`` = T and ``memory`` = 10 the input
has ``T + 2*memory`` steps::

    x = [d_1 .. d_10,  0 x (T - 1),  9 x 11]      d_i uniform in 1..8; the first 9 is the delimiter
    y = [0 x 10,       0 x T,        d_1 .. d_10]  the model must output the digits at the end

so ``x`` and ``y`` are ``(N, T + 20)`` integer symbols in 0..9. The loss is the cross-entropy over
every one of the ``T + 20`` steps; predicting 0 everywhere but the last 10 steps, and a uniform
guess over 1..8 there, scores ``10 ln 8 / (T + 20)``: the trivial baseline (0.0204 at T = 1000,
where Bai et al.'s LSTM scored 0.0204: it learned nothing).

The generators draw from ``numpy.random.default_rng(seed)``, so a seed gives the same data on every
machine (TCN draws from the global torch/numpy generators instead).
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from .._checks import InvalidValueError, non_negative_int, positive_int

__all__ = [
    "adding_problem",
    "copy_memory",
    "ADDING_BASELINE_MSE",
    "copy_baseline_loss",
    "MEMORY_TASKS",
]

ADDING_BASELINE_MSE = 1.0 / 6.0  # always answer 1: Var(U1 + U2) = 2/12
MEMORY_TASKS = ("adding", "copy")


def _seed(seed: object) -> int:
    return non_negative_int("seed", seed)


def adding_problem(n: int, length: int, seed: int = 0) -> Tuple[Tensor, Tensor]:
    """``n`` adding-problem sequences of ``length`` steps: ``x`` ``(n, length, 2)`` float32, ``y`` ``(n,)``."""
    n, length, seed = positive_int("n", n), positive_int("length", length), _seed(seed)
    if length < 2:
        raise InvalidValueError(f"length must be >= 2 (two positions are marked), got {length}")
    rng = np.random.default_rng(seed)
    values = rng.random((n, length), dtype=np.float32)  # U[0, 1)
    # two distinct positions per row: the first two of a random permutation of 0..length-1
    positions = np.argsort(rng.random((n, length)), axis=1)[:, :2]  # (n, 2)
    mask = np.zeros((n, length), dtype=np.float32)
    np.put_along_axis(mask, positions, 1.0, axis=1)
    x = np.stack([values, mask], axis=-1)  # (n, length, 2)
    y = (values * mask).sum(axis=1)  # (n,)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))


def copy_memory(n: int, blank: int, seed: int = 0, memory: int = 10) -> Tuple[Tensor, Tensor]:
    """``n`` copy-memory sequences with ``blank`` = T: ``x`` and ``y`` ``(n, T + 2*memory)`` int64 symbols 0..9."""
    n, blank, memory, seed = (
        positive_int("n", n),
        positive_int("blank", blank),
        positive_int("memory", memory),
        _seed(seed),
    )
    rng = np.random.default_rng(seed)
    digits = rng.integers(1, 9, size=(n, memory))  # 1..8
    x = np.concatenate(
        [digits, np.zeros((n, blank - 1), dtype=np.int64), np.full((n, memory + 1), 9, dtype=np.int64)], axis=1
    )
    y = np.concatenate([np.zeros((n, memory + blank), dtype=np.int64), digits], axis=1)
    return torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.int64))


def copy_baseline_loss(blank: int, memory: int = 10) -> float:
    """The cross-entropy per step of the memoryless strategy: ``memory * ln 8 / (blank + 2 * memory)``."""
    blank, memory = positive_int("blank", blank), positive_int("memory", memory)
    return memory * math.log(8) / (blank + 2 * memory)

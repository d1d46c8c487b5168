"""Tiny models, data and step functions shared by the training tests (and their subprocess scripts)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import rnnkit

VOCAB = 11


class TinyLM(nn.Module):
    """Embedding -> rnnkit.LSTM (batch_first) -> dropout -> linear: next-token logits."""

    def __init__(self, vocab: int = VOCAB, hidden: int = 12, layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.rnn = rnnkit.LSTM(8, hidden, num_layers=layers, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        h, state = self.rnn(self.embed(x), state)  # (B, T, H)
        return self.head(self.drop(h)), state  # (B, T, V)


def lm_chunk_step(model, chunk, state):
    """TBPTT step: (x, y, reset) chunk, carried state -> (mean cross-entropy, new state)."""
    x, y, _ = chunk
    logits, state = model(x, state)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100), state


class Regressor(nn.Module):
    """rnnkit.GRU many-to-one regressor over (B, T, 3) inputs, with lengths."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.rnn = rnnkit.GRU(3, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, lengths=None):
        _, h = self.rnn(x, lengths=lengths)
        return self.head(h[-1]).squeeze(-1)


class SeqDataset(torch.utils.data.Dataset):
    def __init__(self, n: int = 24, t: int = 6, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, t, 3, generator=g)
        self.y = self.x.sum(dim=(1, 2))

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def mse_step(model, batch):
    x, y = batch
    return F.mse_loss(model(x), y)


def token_stream(rows: int = 4, length: int = 41, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (rows, length), generator=g)

"""Data sources the Trainer can resume exactly: a shuffled batcher and a TBPTT stream.

A *source* yields the items of one epoch in an order fixed by its own ``torch.Generator``:

* ``begin_epoch()`` snapshots the generator, then draws this epoch's order from it;
* ``iter_from(start)`` yields the items from position ``start`` (positions before it are skipped
  without loading them);
* ``state_dict()`` is the snapshot taken at the epoch's start; ``load_state_dict`` puts it back, so
  the next ``begin_epoch()`` draws the same order again. With the cursor (items consumed) saved by the
  Trainer, that is an exact restart in the middle of an epoch.
* ``shard(rank, world_size)``: under data parallel training each process takes its slice.

``ShuffledBatches`` serves full BPTT: a map-style dataset of independent samples, reshuffled each
epoch, collated into batches (pad and return lengths in your ``collate_fn``).

``StreamDataset`` serves truncated BPTT: ``B`` parallel streams cut into chunks of ``k`` steps that
are yielded *in order* (the order is what makes carrying the state meaningful), each as
``(x, y, reset)``: ``x`` ``(B, k, ...)``, ``y`` ``(B, k, ...)``, ``reset`` ``(B,)`` bool, True where a
row starts an unrelated sequence (every row at the epoch's first chunk).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, List, Optional, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset, default_collate

from .._checks import InvalidTypeError, InvalidValueError, describe

__all__ = ["ShuffledBatches", "StreamDataset", "to_device"]


class _Source:
    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidValueError(f"seed must be an int >= 0, got {seed!r}")
        self.generator = torch.Generator().manual_seed(seed)
        self._epoch_start = self.generator.get_state()
        self.rank, self.world_size = 0, 1

    def shard(self, rank: int, world_size: int) -> None:
        if not (0 <= rank < world_size):
            raise InvalidValueError(f"rank must be in [0, world_size={world_size}), got {rank!r}")
        self.rank, self.world_size = rank, world_size

    def state_dict(self) -> dict:
        return {"generator": self._epoch_start.clone()}

    def load_state_dict(self, state: dict) -> None:
        g = state.get("generator") if isinstance(state, dict) else None
        if not isinstance(g, Tensor) or g.dtype != torch.uint8:
            raise InvalidValueError(f"a data source state must hold a uint8 'generator' tensor, got {state!r:.200}")
        self.generator.set_state(g.clone())
        self._epoch_start = g.clone()

    def begin_epoch(self) -> None:
        self._epoch_start = self.generator.get_state()
        self._draw()

    def _draw(self) -> None:
        raise NotImplementedError("abstract: a data source subclass draws its epoch order")


class ShuffledBatches(_Source):
    """Batches of a map-style dataset, in a fresh seeded order each epoch.

    Under data parallel training (``shard``), every process draws the same permutation and each
    global batch of ``batch_size * world_size`` samples is cut into ``world_size`` equal slices, one per
    process; an incomplete last global batch is dropped so the shards stay equal. With one process
    and ``batch_size * world_size`` samples per batch, the global batch is the same.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        shuffle: bool = True,
        collate_fn: Optional[Callable[[List[Any]], Any]] = None,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(seed)
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise InvalidTypeError(f"dataset must be map-style (__len__ and __getitem__), got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if len(dataset) == 0:
            raise InvalidValueError("dataset is empty: it has no samples to train on")
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, bool(shuffle)
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        self.drop_last = bool(drop_last)
        self._order: Optional[Tensor] = None

    def _draw(self) -> None:
        n = len(self.dataset)
        self._order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)

    def __len__(self) -> int:
        per_step = self.batch_size * self.world_size
        n = len(self.dataset)
        drop = self.drop_last or self.world_size > 1
        return n // per_step if drop else math.ceil(n / per_step)

    def iter_from(self, start: int = 0) -> Iterator[Any]:
        if self._order is None:
            self.begin_epoch()
        per_step = self.batch_size * self.world_size
        for b in range(start, len(self)):
            chunk = self._order[b * per_step : (b + 1) * per_step]
            mine = chunk[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
            yield self.collate_fn([self.dataset[int(i)] for i in mine])


class StreamDataset(_Source):
    """``B`` parallel streams cut into TBPTT chunks ``(x, y, reset)``, yielded in order.

    Build it from a laid-out stream, or from separate sequences with :meth:`from_sequences`.

    Args:
        inputs: ``(B, T, ...)``: ``B`` contiguous streams (e.g. a token stream reshaped to ``B`` rows,
            as ``tokens[: B * (N // B)].view(B, -1)``).
        targets: ``(B, T, ...)`` aligned with ``inputs``; if None, next-step targets: ``x = inputs[:, :-1]``,
            ``y = inputs[:, 1:]`` (language modelling).
        bptt: k, the steps per chunk; if None the Trainer sets it from ``TrainConfig.bptt``.
        reset: optional ``(B, T)`` bool, True where a new unrelated sequence starts in a row. The
            carried state can only be zeroed between chunks, so a True must sit at a chunk's first
            step (``from_sequences`` aligns sequences that way).

    Every row is reset at the first chunk of each epoch. The last chunk may be shorter than k.
    """

    def __init__(
        self,
        inputs: Tensor,
        targets: Optional[Tensor] = None,
        bptt: Optional[int] = None,
        reset: Optional[Tensor] = None,
    ) -> None:
        super().__init__(0)
        if not isinstance(inputs, Tensor) or inputs.dim() < 2:
            raise InvalidValueError(f"inputs must be a tensor (B, T, ...), got {describe(inputs)}")
        if targets is None:
            if inputs.shape[1] < 2:
                raise InvalidValueError(
                    f"next-step targets need T >= 2 steps, got inputs of shape {tuple(inputs.shape)}"
                )
            x, y = inputs[:, :-1], inputs[:, 1:]
            reset = None if reset is None else reset[:, :-1]
        else:
            if not isinstance(targets, Tensor) or targets.shape[:2] != inputs.shape[:2]:
                raise InvalidValueError(
                    f"targets must be a tensor whose first two dims match inputs {tuple(inputs.shape[:2])}, "
                    f"got {describe(targets)}"
                )
            x, y = inputs, targets
        if reset is not None and (
            not isinstance(reset, Tensor) or reset.dtype != torch.bool or tuple(reset.shape) != tuple(x.shape[:2])
        ):
            raise InvalidValueError(f"reset must be a bool tensor of shape {tuple(x.shape[:2])}, got {describe(reset)}")
        self.x, self.y, self.reset = x, y, reset
        self._layout: Optional[Callable[[torch.Generator], tuple]] = None
        self.bptt: Optional[int] = None
        if bptt is not None:
            self.set_bptt(bptt)

    @classmethod
    def from_sequences(
        cls,
        sequences: Sequence[Tensor],
        batch_size: int,
        bptt: int,
        targets: Optional[Sequence[Tensor]] = None,
        shuffle: bool = True,
        seed: int = 0,
        pad_value: float = 0,
        target_pad_value: float = -100,
    ) -> "StreamDataset":
        """Lay independent sequences into ``batch_size`` rows, a fresh seeded order each epoch.

        Each sequence starts at a chunk boundary (it is padded to a multiple of ``bptt``: inputs with
        ``pad_value``, targets with ``target_pad_value``, e.g. the ``ignore_index`` of a cross-entropy)
        and its row is reset there, so no state is carried from one sequence into another. Sequences
        go, in the epoch's order, to the currently shortest row. Without ``targets``, each sequence
        of length ``n`` gives ``n - 1`` next-step pairs.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if isinstance(bptt, bool) or not isinstance(bptt, int) or bptt < 1:
            raise InvalidValueError(f"bptt must be a positive int, got {bptt!r}")
        seqs = list(sequences)
        if not seqs or not all(isinstance(s, Tensor) and s.dim() >= 1 for s in seqs):
            raise InvalidValueError("sequences must be a non-empty list of tensors (T_i, ...)")
        if targets is None:
            if any(s.shape[0] < 2 for s in seqs):
                raise InvalidValueError("without targets every sequence needs at least 2 steps")
            pairs = [(s[:-1], s[1:]) for s in seqs]
        else:
            tgts = list(targets)
            if len(tgts) != len(seqs) or any(t.shape[0] != s.shape[0] for s, t in zip(seqs, tgts)):
                raise InvalidValueError("targets must be a list of tensors with the same lengths as sequences")
            pairs = list(zip(seqs, tgts))
        if len(pairs) < batch_size:
            raise InvalidValueError(
                f"need at least batch_size={batch_size} sequences to fill the rows, got {len(pairs)}"
            )
        self = cls(
            pairs[0][0].new_zeros((1, 1) + pairs[0][0].shape[1:]), pairs[0][1].new_zeros((1, 1) + pairs[0][1].shape[1:])
        )
        self.generator.manual_seed(seed)
        self._epoch_start = self.generator.get_state()
        self.set_bptt(bptt)

        def layout(gen: torch.Generator):
            order = torch.randperm(len(pairs), generator=gen).tolist() if shuffle else range(len(pairs))
            rows: List[List[int]] = [[] for _ in range(batch_size)]
            fill = [0] * batch_size
            for i in order:
                r = min(range(batch_size), key=lambda j: (fill[j], j))
                rows[r].append(i)
                fill[r] += math.ceil(pairs[i][0].shape[0] / bptt) * bptt
            total = max(fill)
            x0, y0 = pairs[0]
            x = x0.new_full((batch_size, total) + x0.shape[1:], pad_value)
            y = y0.new_full((batch_size, total) + y0.shape[1:], target_pad_value)
            reset = torch.zeros(batch_size, total, dtype=torch.bool)
            for r, ids in enumerate(rows):
                t = 0
                for i in ids:
                    xi, yi = pairs[i]
                    x[r, t : t + xi.shape[0]] = xi
                    y[r, t : t + yi.shape[0]] = yi
                    reset[r, t] = True
                    t += math.ceil(xi.shape[0] / bptt) * bptt
                if t < total:
                    reset[r, t] = True  # padding after the row's last sequence: unrelated
            return x, y, reset

        self._layout = layout
        self._draw_peek()
        return self

    def set_bptt(self, bptt: int) -> None:
        if isinstance(bptt, bool) or not isinstance(bptt, int) or bptt < 1:
            raise InvalidValueError(f"bptt must be a positive int, got {bptt!r}")
        if self.bptt is not None and self.bptt != bptt:
            raise InvalidValueError(f"this stream is already cut into chunks of bptt={self.bptt}, got bptt={bptt}")
        self.bptt = bptt

    def _draw(self) -> None:
        if self._layout is not None:
            self.x, self.y, self.reset = self._layout(self.generator)
        if self.reset is not None and self.bptt is not None:
            off_boundary = self.reset.clone()
            off_boundary[:, :: self.bptt] = False
            if bool(off_boundary.any()):
                raise InvalidValueError(
                    f"reset marks a sequence start inside a chunk (bptt={self.bptt}); the state can only be "
                    "reset between chunks: align sequences to multiples of bptt (see from_sequences)"
                )

    @property
    def batch_size(self) -> int:
        return self.x.shape[0]

    def __len__(self) -> int:
        if self.bptt is None:
            raise InvalidValueError("set bptt (TrainConfig.bptt or StreamDataset(bptt=...)) before using the stream")
        return math.ceil(self.x.shape[1] / self.bptt)

    def _draw_peek(self) -> None:
        # a layout before the first epoch (for len()), drawn from a copy of the generator
        g = torch.Generator()
        g.set_state(self.generator.get_state())
        self.x, self.y, self.reset = self._layout(g)

    def iter_from(self, start: int = 0) -> Iterator[Any]:
        if self.bptt is None:
            raise InvalidValueError(
                "set bptt (TrainConfig.bptt or StreamDataset(bptt=...)) before iterating the stream"
            )
        k, B, W = self.bptt, self.batch_size, self.world_size
        if B % W:
            raise InvalidValueError(f"the stream's {B} rows cannot be split evenly over {W} processes")
        rows = slice(self.rank * (B // W), (self.rank + 1) * (B // W))
        for j in range(start, len(self)):
            x = self.x[rows, j * k : (j + 1) * k]
            y = self.y[rows, j * k : (j + 1) * k]
            if self.reset is None:
                reset = torch.full((B // W,), j == 0, dtype=torch.bool)
            else:
                reset = self.reset[rows, j * k].clone()
                if j == 0:
                    reset[:] = True
            yield x, y, reset


def to_device(item, device):
    """``item`` (a tensor, or tuples, lists and dicts of them) moved to ``device``; unchanged on CPU."""
    if device is None or device.type == "cpu":
        return item
    if isinstance(item, Tensor):
        return item.to(device, non_blocking=True)
    if isinstance(item, (tuple, list)):
        return type(item)(to_device(v, device) for v in item)
    if isinstance(item, dict):
        return {k: to_device(v, device) for k, v in item.items()}
    return item

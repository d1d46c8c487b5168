"""Batches of similar lengths, so that padded positions stay few, and the padding they cost.

A batch of variable-length sequences is padded to its longest member: a batch of lengths
``l_1..l_B`` computes ``B * max(l)`` positions of which ``sum(l)`` are real. Drawn at random from a
skewed length distribution (a few long reviews among many short ones), most positions can be
padding. :class:`BucketBatchSampler` draws batches of similar lengths instead, keeping the
randomness that SGD needs (the "bucket iterator" of torchtext and AllenNLP):

1. shuffle all indices (with ``generator``: reproducibly);
2. cut them into pools of ``batch_size * bucket_size_multiplier``;
3. sort each pool by length and cut it into batches of ``batch_size`` (the last one of a pool may
   be smaller);
4. shuffle the order of all batches.

Every index appears exactly once per epoch. With ``shuffle=False`` the indices are sorted by
length (stably: equal lengths keep their order) and cut into batches in that order: the least
padding, the same batches every time (for evaluation and prediction).

:func:`pad_batch` turns a batch of sequences into a ``(B, T)`` tensor and its lengths;
:func:`padding_fraction` measures the share of padded positions over a set of batches:

    padding_fraction = sum_b (|b| * max_{i in b} l_i - sum_{i in b} l_i) / sum_b |b| * max_{i in b} l_i
"""

from __future__ import annotations

from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

import torch
from torch.utils.data import Sampler

from .._checks import InvalidTypeError, InvalidValueError, boolean, describe, is_int, positive_int

__all__ = ["BucketBatchSampler", "pad_batch", "padding_fraction"]


def _lengths(lengths: object) -> List[int]:
    if isinstance(lengths, torch.Tensor):
        if lengths.dim() != 1 or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise InvalidTypeError(f"lengths must be a 1-D integer tensor or a list of ints, got {describe(lengths)}")
        lengths = lengths.tolist()
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence):
        raise InvalidTypeError(f"lengths must be a list of ints (one per sequence), got {describe(lengths)}")
    out = []
    for i, n in enumerate(lengths):
        if not is_int(n) or n < 0:
            raise InvalidValueError(f"lengths[{i}] must be an int >= 0, got {n!r}")
        out.append(int(n))
    return out


class BucketBatchSampler(Sampler[List[int]]):
    """Yields lists of indices whose sequences have similar lengths (see the module docstring).

    Pass it to a ``DataLoader`` as ``batch_sampler=``.

    Args:
        lengths: the length of each sequence of the dataset (a list of ints or a 1-D integer tensor).
        batch_size: indices per batch (the last batch of each pool may hold fewer).
        shuffle: draw pools and batch order at random (training) or sort by length (evaluation).
        generator: a ``torch.Generator`` for the shuffles; successive epochs draw from it in turn,
            so a generator seeded the same gives the same epochs. None draws a fresh seed each epoch.
        bucket_size_multiplier: a pool is ``batch_size * bucket_size_multiplier`` indices: larger pools
            give batches of closer lengths, smaller ones batches closer to random.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        generator: Optional[torch.Generator] = None,
        bucket_size_multiplier: int = 50,
    ) -> None:
        self.lengths = _lengths(lengths)
        if not self.lengths:
            raise InvalidValueError("lengths is empty: there is nothing to batch")
        self.batch_size = positive_int("batch_size", batch_size)
        self.shuffle = boolean("shuffle", shuffle)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise InvalidTypeError(f"generator must be None or a torch.Generator, got {describe(generator)}")
        self.generator = generator
        self.bucket_size_multiplier = positive_int("bucket_size_multiplier", bucket_size_multiplier)

    def __len__(self) -> int:
        """Batches per epoch: each pool of ``P`` indices gives ``ceil(P / batch_size)``."""
        n, pool = len(self.lengths), self.batch_size * self.bucket_size_multiplier
        if not self.shuffle:
            return -(-n // self.batch_size)
        full, rest = divmod(n, pool)
        return full * -(-pool // self.batch_size) + -(-rest // self.batch_size)

    def __iter__(self) -> Iterator[List[int]]:
        lengths = torch.tensor(self.lengths)
        if not self.shuffle:
            order = torch.sort(lengths, stable=True).indices.tolist()
            yield from (order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size))
            return
        generator = self.generator
        if generator is None:
            generator = torch.Generator()
            generator.manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
        perm = torch.randperm(len(self.lengths), generator=generator)
        pool = self.batch_size * self.bucket_size_multiplier
        batches: List[List[int]] = []
        for start in range(0, len(perm), pool):
            chunk = perm[start : start + pool]
            chunk = chunk[torch.sort(lengths[chunk], stable=True).indices].tolist()
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        for b in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[b]


def pad_batch(sequences: Sequence, pad_value: float = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Stack sequences of different lengths into one padded tensor.

    Args:
        sequences: ``B`` sequences, each a 1-D tensor or list ``(L_i,)`` (token ids, values) or a
            tensor ``(L_i, *)`` with the same trailing shape (feature vectors per step).
        pad_value: the value of padded positions (the padding id, 0.0 for series).

    Returns:
        ``(padded, lengths)``: ``padded`` is ``(B, T, *)`` with ``T = max(L_i)`` (batch first) and
        ``padded[i, L_i:] == pad_value``; ``lengths`` is the int64 ``(B,)`` tensor of the ``L_i``.
    """
    if isinstance(sequences, (str, bytes, torch.Tensor)) or not isinstance(sequences, Sequence) or not sequences:
        raise InvalidTypeError(f"sequences must be a non-empty list of sequences, got {describe(sequences)}")
    tensors = []
    for i, seq in enumerate(sequences):
        t = seq if isinstance(seq, torch.Tensor) else None
        if t is None:
            try:
                t = torch.as_tensor(seq)
            except (TypeError, ValueError, RuntimeError) as err:
                raise InvalidTypeError(f"sequences[{i}] is not a sequence of numbers: {err}") from None
        if t.dim() == 0:
            raise InvalidValueError(f"sequences[{i}] must have a time dimension, got a scalar {describe(seq)}")
        tensors.append(t)
    shape, dtype = tensors[0].shape[1:], tensors[0].dtype
    for i, t in enumerate(tensors):
        if t.shape[1:] != shape:
            raise InvalidValueError(
                f"sequences[{i}] has shape {tuple(t.shape)}; every sequence must be (L, *{tuple(shape)}) "
                f"like sequences[0]"
            )
        dtype = torch.promote_types(dtype, t.dtype)
    if isinstance(pad_value, bool) or not isinstance(pad_value, (int, float)):
        raise InvalidTypeError(f"pad_value must be a number, got {describe(pad_value)}")
    if not (dtype.is_floating_point or dtype.is_complex) and not float(pad_value).is_integer():
        raise InvalidValueError(f"pad_value {pad_value!r} cannot pad integer sequences ({dtype}); use an integer id")
    lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.int64)
    padded = torch.full((len(tensors), int(lengths.max()), *shape), pad_value, dtype=dtype)
    for i, t in enumerate(tensors):
        padded[i, : t.shape[0]] = t
    return padded, lengths


def padding_fraction(lengths: Sequence[int], batches: Iterable[Sequence[int]]) -> float:
    """The share of padded positions when each batch (a list of indices into ``lengths``) is padded
    to its longest sequence (formula in the module docstring); 0.0 if there are no positions."""
    lengths = _lengths(lengths)
    total = real = 0
    for b, batch in enumerate(batches):
        if not batch:
            continue
        if not all(is_int(i) and 0 <= i < len(lengths) for i in batch):
            raise InvalidValueError(f"batch {b} holds an index outside 0..{len(lengths) - 1}: {list(batch)[:10]}")
        sizes = [lengths[i] for i in batch]
        total += len(sizes) * max(sizes)
        real += sum(sizes)
    return (total - real) / total if total else 0.0

"""Variable-length batches: checking lengths, masks, per-sequence reversal, packing.

A batch of sequences of different lengths is a padded tensor plus ``lengths`` (B,). Position ``t``
of sequence ``b`` is real when ``t < lengths[b]``. Engines get lengths as a CPU int64 tensor, or
``None`` when every sequence fills the whole padded length (then no masking is needed at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from .._checks import InvalidTypeError, InvalidValueError, positive_int

LengthsLike = Union[Tensor, np.ndarray, Sequence[int]]


@dataclass
class SequenceBatch:
    """What a layer hands an engine.

    ``data`` is padded, ``(T, B, F)`` time-major or ``(B, T, F)`` when ``batch_first``.
    ``lengths`` is ``None`` when every sequence has length T. ``packed`` is the caller's
    PackedSequence when the input came packed (an engine may run on it directly).
    """

    data: Tensor
    batch_first: bool
    lengths: Optional[Tensor]
    packed: Optional[PackedSequence] = None

    @property
    def time_major(self) -> Tensor:  # (T, B, F)
        return self.data.transpose(0, 1) if self.batch_first else self.data


def check_lengths(lengths: LengthsLike, batch_size: int, max_length: int) -> Optional[Tensor]:
    """Validate ``lengths`` for a padded batch of ``batch_size`` sequences of ``max_length`` steps.

    ``lengths`` may be a 1-D integer tensor (any device), a 1-D integer NumPy array, or a sequence
    of Python or NumPy integers. Returns a CPU int64 tensor, or ``None`` when every length equals
    ``max_length``.
    """
    batch_size, max_length = positive_int("batch_size", batch_size), positive_int("max_length", max_length)
    if isinstance(lengths, (Tensor, np.ndarray)):
        if lengths.ndim != 1:
            raise InvalidValueError(f"lengths must be 1-D (one length per sequence), got shape {tuple(lengths.shape)}")
        if isinstance(lengths, np.ndarray):
            if lengths.dtype.kind not in "iu":  # signed or unsigned integers; not bool, float, object
                raise InvalidTypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
            values = torch.from_numpy(lengths.astype(np.int64))  # a copy: any strides, any int width
        else:
            if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
                raise InvalidTypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
            values = lengths.detach().to("cpu", torch.int64)
    else:
        try:
            items = list(lengths)
        except TypeError:
            raise InvalidTypeError(
                f"lengths must be a list of ints or a 1-D integer tensor, got {type(lengths).__name__}"
            ) from None
        for v in items:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                shown = v.item() if isinstance(v, np.generic) else v
                raise InvalidTypeError(f"lengths must hold ints, got {shown!r} of type {type(v).__name__} in {items!r}")
        values = torch.tensor([int(v) for v in items], dtype=torch.int64)
    if values.numel() == 0:
        raise InvalidValueError("lengths is empty: expected one length per sequence")
    if values.numel() != batch_size:
        raise InvalidValueError(f"lengths has {values.numel()} entries but the batch has {batch_size} sequences")
    if bool((values < 1).any()):
        raise InvalidValueError(f"lengths must be positive, got {values.tolist()}")
    if bool((values > max_length).any()):
        raise InvalidValueError(
            f"lengths must not exceed the padded sequence length {max_length}, got {values.tolist()}"
        )
    if bool((values == max_length).all()):
        return None
    return values


def step_mask(lengths: Tensor, max_length: int, device: torch.device) -> Tensor:
    """``(T, B, 1)`` bool: True where step ``t`` is inside sequence ``b``."""
    steps = torch.arange(max_length).unsqueeze(1)  # (T, 1)
    return (steps < lengths.unsqueeze(0)).unsqueeze(-1).to(device)


def reverse_padded(x: Tensor, lengths: Optional[Tensor]) -> Tensor:
    """Reverse each sequence of a time-major ``(T, B, F)`` batch within its own length.

    Padding stays where it is, so the reverse direction of a bidirectional layer starts at each
    sequence's true last element. The map is its own inverse.
    """
    if lengths is None:
        return x.flip(0)
    T, B = x.shape[0], x.shape[1]
    t = torch.arange(T).unsqueeze(1)  # (T, 1)
    n = lengths.unsqueeze(0)  # (1, B)
    index = torch.where(t < n, n - 1 - t, t)  # (T, B)
    index = index.to(x.device).unsqueeze(-1).expand(T, B, x.shape[2])
    return x.gather(0, index)


def repack_like(output: Tensor, template: PackedSequence) -> PackedSequence:
    """Pack a time-major padded ``output`` with exactly the batch order of ``template``."""
    if template.sorted_indices is not None:
        output = output.index_select(1, template.sorted_indices)
    lengths = _lengths_of(template.batch_sizes)
    data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
    return PackedSequence(data, template.batch_sizes, template.sorted_indices, template.unsorted_indices)


def _lengths_of(batch_sizes: Tensor) -> Tensor:
    """Sorted (descending) lengths from a PackedSequence's batch_sizes."""
    b = int(batch_sizes[0])
    steps = torch.arange(b).unsqueeze(0) < batch_sizes.unsqueeze(1)  # (T, b)
    return steps.sum(0)

"""Text streams for truncated BPTT: one id sequence laid out as B parallel contiguous streams.

The corpus ``ids`` (length N) is cut into ``B = batch_size`` equal pieces, one per row::

    data = ids[: B * L].view(B, L)        # (B, L), L = N // B; the last N - B*L ids are dropped

Row b holds ``ids[b*L : (b+1)*L]``, so each row reads on from where the previous chunk stopped and a
model can carry its hidden state from one chunk to the next (char-rnn, and ``batchify`` in
PyTorch's word_language_model). Chunk ``i`` of length ``k = seq_len`` is::

    x = data[:, i*k     : i*k + k]        # (B, k) inputs
    y = data[:, i*k + 1 : i*k + k + 1]    # (B, k) targets: the next token of each input

The last chunk may be shorter (whatever remains). Every id but the first of each row is a
target exactly once per pass. Iteration can resume from any chunk index.
"""

from __future__ import annotations

from typing import Iterator, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .._checks import InvalidTypeError, InvalidValueError, positive_int

IdsLike = Union[Tensor, Sequence[int]]


def as_id_tensor(ids: IdsLike, vocab_size: Optional[int] = None, name: str = "ids") -> Tensor:
    """``ids`` as a 1-D int64 tensor, checked: integers, >= 0 and (if given) < ``vocab_size``."""
    if not isinstance(ids, Tensor):
        try:
            ids = torch.as_tensor(ids) if len(ids) else torch.empty(0, dtype=torch.long)  # [] would be float
        except (TypeError, ValueError, RuntimeError):
            raise InvalidTypeError(
                f"{name} must be a 1-D tensor or sequence of ints, got {type(ids).__name__}"
            ) from None
    if ids.dim() != 1:
        raise InvalidValueError(f"{name} must be 1-D, got shape {tuple(ids.shape)}")
    if ids.dtype == torch.bool or ids.is_floating_point() or ids.is_complex():
        raise InvalidTypeError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
    ids = ids.long()
    if ids.numel():
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0:
            raise InvalidValueError(f"{name} must be >= 0, got the id {lo}")
        if vocab_size is not None and hi >= vocab_size:
            raise InvalidValueError(f"{name} must be < vocab_size={vocab_size}, got the id {hi}")
    return ids


class TextStream:
    """B parallel contiguous streams of token ids, served as TBPTT chunks ``(x, y)`` in order.

    Args:
        ids: the corpus as token ids (a 1-D integer tensor or a list of ints).
        batch_size: B, the number of parallel streams (rows).
        seq_len: k, the steps per chunk (the truncation length of truncated BPTT).
        vocab_size: if given, every id is checked to be < vocab_size.
        device: where ``data`` (and so every chunk) lives.

    Attributes:
        data: the laid-out streams, ``(B, L)`` int64.

    Raises :class:`~rnnkit._checks.InvalidValueError` when the corpus is too short for one full chunk: it needs at least
    ``batch_size * (seq_len + 1)`` ids.

    Example::

        stream = TextStream(ids, batch_size=32, seq_len=128)
        state = None
        for x, y in stream:                      # (B, k), (B, k)
            logits, state = model(x, state)
            state = detach(state)                # truncate the gradient, keep the values
    """

    def __init__(
        self,
        ids: IdsLike,
        batch_size: int,
        seq_len: int,
        *,
        vocab_size: Optional[int] = None,
        device: Optional[Union[str, torch.device]] = None,
    ) -> None:
        batch_size = positive_int("batch_size", batch_size)
        seq_len = positive_int("seq_len", seq_len)
        ids = as_id_tensor(ids, vocab_size)
        need = batch_size * (seq_len + 1)
        if ids.numel() < need:
            raise InvalidValueError(
                f"the corpus is too short for one training window: {ids.numel()} tokens, but "
                f"batch_size={batch_size} streams of seq_len={seq_len} inputs plus 1 target need at least "
                f"{need} tokens; use a longer text or a smaller batch_size / seq_len"
            )
        self.batch_size = batch_size
        self.seq_len = seq_len
        length = ids.numel() // batch_size
        self.data = ids[: batch_size * length].view(batch_size, length).to(device)  # (B, L)

    @property
    def stream_length(self) -> int:
        """L: ids per stream."""
        return self.data.shape[1]

    @property
    def num_targets(self) -> int:
        """Targets per pass over all chunks: ``B * (L - 1)``."""
        return self.batch_size * (self.stream_length - 1)

    def __len__(self) -> int:
        """Chunks per pass: ``ceil((L - 1) / seq_len)``."""
        return -(-(self.stream_length - 1) // self.seq_len)

    def chunk(self, index: int) -> Tuple[Tensor, Tensor]:
        """Chunk ``index`` (0-based, negative counts from the end): ``(x, y)``, each ``(B, k')`` with
        ``k' = seq_len`` except possibly for the last chunk. Views into :attr:`data`."""
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, int):
            raise InvalidTypeError(f"chunk index must be an int, got {index!r}")
        if not -n <= index < n:
            raise IndexError(f"chunk index {index} is out of range for {n} chunks")
        index %= n
        start = index * self.seq_len
        stop = min(start + self.seq_len, self.stream_length - 1)
        return self.data[:, start:stop], self.data[:, start + 1 : stop + 1]  # (B, k'), (B, k')

    def chunks(self, start: int = 0) -> Iterator[Tuple[Tensor, Tensor]]:
        """Iterate chunks ``start, start + 1, ..., len(self) - 1`` (resume a pass from ``start``)."""
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= len(self):
            raise InvalidValueError(f"start must be an int chunk index in [0, {len(self)}], got {start!r}")
        for i in range(start, len(self)):
            yield self.chunk(i)

    def __iter__(self) -> Iterator[Tuple[Tensor, Tensor]]:
        return self.chunks(0)

    def __getitem__(self, index: int) -> Tuple[Tensor, Tensor]:
        return self.chunk(index)

    def __repr__(self) -> str:
        return (
            f"TextStream(batch_size={self.batch_size}, seq_len={self.seq_len}, "
            f"stream_length={self.stream_length}, chunks={len(self)})"
        )

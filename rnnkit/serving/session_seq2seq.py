"""The step adapter of an encoder-decoder: the decoder, stepped one target token at a time, after
its encoder has read each stream's whole source.

::

    session = rnnkit.stream(model, batch_size=B, source=src (B, S), source_lengths=lengths (B,))
    y = session.step(prev)          # prev: (B,) the previous target token (BOS first) -> (B, V) log-probs
    session.add(n, source=src2)     # new streams with their own sources (padded to one length inside)

A stream's state is the decoder's (per layer ``h`` or ``(h, c)``, and Luong's input-feeding vector)
plus what its encoder produced: the memory ``(S, Hm)``, its mask and the attention's precomputed
keys, constant while it decodes. Rows with sources of different lengths are padded to the longest
(the mask keeps padding out of attention, so a row's outputs do not change). ``reset`` takes a row
back to its start: the decoder's first state for its source. Stepping ``<s> y_1 .. y_{T-1}`` gives
exactly the teacher-forced ``model(src, lengths, tgt_in)``.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import InvalidTypeError, InvalidValueError, describe
from ..models.seq2seq.model import BOS, DecoderState, Encoded, Seq2Seq
from .adapter import StateDict, StepAdapter, register_adapter
from .session_models import check_token_step, example_tokens

_CONSTANT = ("enc.memory", "enc.mask", "enc.keys")  # per row, fixed while the row decodes


class Seq2SeqStep(StepAdapter):
    """A :class:`~rnnkit.models.seq2seq.Seq2Seq` decoder: previous target ids ``(B,)`` -> log-probs ``(B, V)``."""

    kind = "seq2seq"

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__(model)
        c = model.config
        self.input_description = f"previous target ids (B,) -> next-token log-probabilities (B, {c.target_vocab_size})"
        self._tuple = c.cell == "lstm"

    @property
    def tokenizer(self):
        """The target vocabulary (what ``step`` reads and writes)."""
        return self.model.target_vocab

    def start(self, n: int, source: Optional[Tensor] = None, source_lengths: Optional[Tensor] = None) -> StateDict:
        if source is None:
            raise InvalidValueError(
                "a seq2seq stream starts from its source: stream(model, batch_size=B, source=ids (B, S)) "
                "or session.add(n, source=ids (n, S))"
            )
        if not isinstance(source, Tensor) or source.dim() != 2 or source.shape[0] != n:
            raise InvalidValueError(
                f"source must be token ids of shape ({n}, S), one row per new stream, got {describe(source)}"
            )
        enc = self.model.encode(source, source_lengths)
        dec = self.model.start(enc)
        state: StateDict = {"enc.memory": enc.memory, "enc.mask": enc.mask}
        if enc.keys is not None:
            state["enc.keys"] = enc.keys
        state.update(self._decoder_rows(dec))
        return state

    def _decoder_rows(self, dec: DecoderState) -> StateDict:
        rows: StateDict = {}
        for k, s in enumerate(dec.layers):
            parts = s if isinstance(s, tuple) else (s,)
            for i, t in enumerate(parts):
                rows[f"dec.{k}.{i}"] = t
        if dec.feed is not None:
            rows["dec.feed"] = dec.feed
        return rows

    def check_input(self, x: object, n: int) -> Tensor:
        return check_token_step(x, n, self.model.config.target_vocab_size)

    def example_input(self, n: int, generator=None) -> Tensor:
        if generator is None:
            return torch.full((n,), BOS, dtype=torch.long)
        return example_tokens(n, self.model.config.target_vocab_size, generator)

    def step(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        enc = Encoded(state["enc.memory"], state["enc.mask"], state.get("enc.keys"), None)
        layers = []
        for k in range(self.model.config.num_layers):
            parts = tuple(state[f"dec.{k}.{i}"] for i in range(2 if self._tuple else 1))
            layers.append(parts if self._tuple else parts[0])
        log_probs, new, _ = self.model.step(x.unsqueeze(1), DecoderState(layers, state.get("dec.feed")), enc)
        return log_probs[:, 0], self._decoder_rows(new)

    def merge(self, a: StateDict, b: StateDict) -> StateDict:
        """Rows of ``a`` then ``b``; the per-row source parts padded to the longer source."""
        out = {}
        for key in a:
            x, y = a[key], b[key]
            if key in _CONSTANT and x.shape[1] != y.shape[1]:
                S = max(x.shape[1], y.shape[1])
                x, y = (F.pad(t, (0, 0) * (t.dim() - 2) + (0, S - t.shape[1])) for t in (x, y))
            out[key] = torch.cat([x, y], 0)
        return out

    def check_state(self, state: object, n: Optional[int], source: str) -> StateDict:
        if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
            raise InvalidTypeError(f"{source} must be a dict of tensors, got {describe(state)}")
        c = self.model.config
        parts = 2 if self._tuple else 1
        want = {f"dec.{k}.{i}" for k in range(c.num_layers) for i in range(parts)} | {"enc.memory", "enc.mask"}
        if c.input_feeding:
            want.add("dec.feed")
        if self.model.attention is not None and "enc.keys" in state:
            want.add("enc.keys")
        if set(state) != want:
            raise InvalidValueError(f"{source} must have the keys {sorted(want)}, got {sorted(state)}")
        rows = n if n is not None else state["enc.memory"].shape[0]
        S = state["enc.memory"].shape[1] if state["enc.memory"].dim() == 3 else -1
        shapes = {"enc.memory": (rows, S, c.memory_size), "enc.mask": (rows, S)}
        for key, value in state.items():
            shape = shapes.get(key, (rows, value.shape[-1]) if key == "enc.keys" else (rows, c.hidden_size))
            if key == "enc.keys":
                shape = (rows, S, value.shape[-1])
            if tuple(value.shape) != shape:
                raise InvalidValueError(f"{source}[{key!r}] must have shape {shape}, got {tuple(value.shape)}")
        return dict(state)


register_adapter(Seq2Seq, Seq2SeqStep)

"""Step adapters for the model kinds below ``serving``: a recurrent layer, a language model, a
unidirectional classifier and tagger. Importing this module registers them (see :mod:`.adapter`).

Each step runs the model's own public parts on a one-element sequence with the state carried, so
every cell and engine a layer can run streams the same way::

    layer:            y_t, s_t = layer(x_t[:, None], s_{t-1})                   y_t: (B, D*H_out)
    language model:   logits_t, s_t = model(x_t[:, None], s_{t-1})              (B, V)
    classifier:       h_t, s_t = encoder.rnn(embed(x_t)[:, None], s_{t-1})
                      z_t = pool_t(h_1..h_t) (running; below),  p_t = softmax(W z_t + b)   (B, K)
    tagger:           scores_t = W h_t + b                                       (B, K)

Running pools equal the pooling of the prefix ``h_1..h_t``: ``last`` is ``h_t``; ``mean`` keeps
``sum_t h_t`` and ``t``; ``max`` keeps the running maximum; ``attention`` is an online softmax
(Milakov & Gimelshein 2018): with ``e_t = v^T tanh(W h_t + b)``, keep ``m = max e``,
``s = sum exp(e - m)`` and ``a = sum exp(e - m) h``, rescaled by ``exp(m_old - m_new)`` when
``m`` grows; ``pooled = a / s``.

A CRF tagger's Viterbi decode needs the whole sentence (a later tag can change an earlier best
one), so its session returns the per-step emission scores, which equal the full run's; decode the
finished sentence with ``model.decode``. Models with convolution blocks are refused: their centred
kernels read ``conv_kernel // 2`` future elements.
"""

from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

from .._checks import InvalidTypeError, InvalidValueError, describe
from ..layers.recurrent import Recurrent
from ..models.classifier import SequenceClassifier
from ..models.elman import ElmanRNN
from ..models.language_model import LanguageModel
from ..models.tagger import SequenceTagger
from .adapter import (
    StateDict,
    StepAdapter,
    layer_state_to_rows,
    refuse_bidirectional,
    register_adapter,
    rows_to_layer_state,
)


def check_token_step(x: object, n: int, vocab_size: int) -> Tensor:
    """``x`` as ``n`` token ids (long ``(n,)``), each in ``[0, vocab_size)``."""
    if isinstance(x, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in x):
        x = torch.tensor(x, dtype=torch.long)
    if not isinstance(x, Tensor) or x.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise InvalidTypeError(
            f"a step's input must be {n} token ids (an integer tensor of shape ({n},)), got {describe(x)}"
        )
    if tuple(x.shape) != (n,):
        raise InvalidValueError(
            f"a step's input must be {n} token ids, shape ({n},) (one per row), got shape {tuple(x.shape)}"
        )
    bad = (x < 0) | (x >= vocab_size)
    if bool(bad.any()):
        raise InvalidValueError(
            f"token id {int(x[bad][0])} is outside the vocabulary: expected 0 <= id < vocab_size={vocab_size}"
        )
    return x.long()


def check_value_step(x: object, n: int, features: int, dtype: torch.dtype) -> Tensor:
    """``x`` as ``n`` rows of ``features`` real values, ``(n, features)``."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise InvalidTypeError(
            f"a step's input must be a floating-point tensor of shape ({n}, {features}), got {describe(x)}"
        )
    if tuple(x.shape) != (n, features):
        raise InvalidValueError(
            f"a step's input must have shape ({n}, {features}) (one row per stream), got {tuple(x.shape)}"
        )
    return x.to(dtype)


def example_tokens(n: int, vocab_size: int, generator) -> Tensor:
    """``n`` token ids: random in ``[1, vocab_size)`` with a generator (0 is often padding), else 1."""
    if generator is None:
        return torch.ones(n, dtype=torch.long)
    return torch.randint(1, max(vocab_size, 2), (n,), generator=generator)


def example_values(n: int, width: int, dtype: torch.dtype, generator) -> Tensor:
    """``n`` rows of ``width`` values: standard normal with a generator, else zeros."""
    if generator is None:
        return torch.zeros(n, width, dtype=dtype)
    return torch.randn(n, width, generator=generator, dtype=dtype)


def _dtype_device(module) -> Tuple[torch.dtype, torch.device]:
    p = next(module.parameters())
    return p.dtype, p.device


class RecurrentStep(StepAdapter):
    """Any :class:`~rnnkit.layers.Recurrent` layer (stock or custom cell, any engine):
    ``x (B, H_in) -> output (B, H_out)``."""

    kind = "recurrent_layer"

    def __init__(self, layer: Recurrent) -> None:
        super().__init__(layer)
        refuse_bidirectional("layer", layer)
        self.input_description = f"(B, {layer.input_size}) values -> (B, {layer.output_size}) outputs"
        self._tuple = layer.cell_grid()[0][0].state_is_tuple

    def start(self, n: int) -> StateDict:
        return layer_state_to_rows(self.model.init_state(n), "rnn")

    def check_input(self, x: object, n: int) -> Tensor:
        return check_value_step(x, n, self.model.input_size, _dtype_device(self.model)[0])

    def example_input(self, n: int, generator=None) -> Tensor:
        return example_values(n, self.model.input_size, _dtype_device(self.model)[0], generator)

    def step(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        layer = self.model
        seq = x.unsqueeze(1) if layer.batch_first else x.unsqueeze(0)
        out, new = layer(seq, rows_to_layer_state(state, "rnn", self._tuple))
        return (out[:, 0] if layer.batch_first else out[0]), layer_state_to_rows(new, "rnn")


class ElmanRNNStep(StepAdapter):
    """The textbook :class:`~rnnkit.models.ElmanRNN`: ``x (B, I) -> y (B, O)``."""

    kind = "elman_rnn"

    def __init__(self, model: ElmanRNN) -> None:
        super().__init__(model)
        self.input_description = f"(B, {model.rnn.input_size}) values -> (B, {model.out.out_features}) outputs"

    def start(self, n: int) -> StateDict:
        return layer_state_to_rows(self.model.rnn.init_state(n), "rnn")

    def check_input(self, x: object, n: int) -> Tensor:
        return check_value_step(x, n, self.model.rnn.input_size, _dtype_device(self.model)[0])

    def example_input(self, n: int, generator=None) -> Tensor:
        return example_values(n, self.model.rnn.input_size, _dtype_device(self.model)[0], generator)

    def step(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        m = self.model
        seq = x.unsqueeze(1) if m.rnn.batch_first else x.unsqueeze(0)
        y, h = m(seq, rows_to_layer_state(state, "rnn", False))
        return (y[:, 0] if m.rnn.batch_first else y[0]), layer_state_to_rows(h, "rnn")


class LanguageModelStep(StepAdapter):
    """A :class:`~rnnkit.models.LanguageModel`: token ids ``(B,)`` -> next-token logits ``(B, V)``.

    A conditioned model starts each stream from its condition: ``stream(model, condition=c)``,
    ``session.add(n, condition=c)`` with ``c`` of shape ``(n, condition_size)``.
    """

    kind = "language_model"

    def __init__(self, model: LanguageModel) -> None:
        super().__init__(model)
        v = model.config.vocab_size
        self.input_description = f"token ids (B,) -> next-token logits (B, {v})"
        self._tuple = model.config.cell == "lstm" or model.rnn.cell_grid()[0][0].state_is_tuple

    @property
    def tokenizer(self):
        """The model's vocabulary (``encode``/``decode`` text), or None when it has none."""
        return self.model.vocab

    def start(self, n: int, condition: Tensor = None) -> StateDict:
        if condition is not None and self.model.condition_to_state is not None:
            return layer_state_to_rows(self.model.init_state(n, condition), "rnn")
        if self.model.condition_to_state is not None:
            return layer_state_to_rows(self.model.init_state(n, None), "rnn")  # raises, saying what is needed
        if condition is not None:
            raise InvalidValueError("this language model has condition_size=0: it takes no condition")
        return layer_state_to_rows(self.model.rnn.init_state(n), "rnn")

    def check_input(self, x: object, n: int) -> Tensor:
        return check_token_step(x, n, self.model.config.vocab_size)

    def example_input(self, n: int, generator=None) -> Tensor:
        return example_tokens(n, self.model.config.vocab_size, generator)

    def step(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        logits, new = self.model(x.unsqueeze(1), rows_to_layer_state(state, "rnn", self._tuple))
        return logits[:, 0], layer_state_to_rows(new, "rnn")


class EncoderStep(StepAdapter):
    """The reading half shared by classifier and tagger: one element -> the top layer's ``h_t``."""

    def __init__(self, model, what: str) -> None:
        super().__init__(model)
        c = model.config
        refuse_bidirectional(what, model.encoder.rnn)
        if c.conv_layers:
            raise InvalidValueError(
                f"cannot stream this {what}: its {c.conv_layers} convolution block(s) use centred kernels of width "
                f"{c.conv_kernel}, which read {c.conv_kernel // 2} future elements; train it with conv_layers=0"
            )
        self._tuple = model.encoder.rnn.cell_grid()[0][0].state_is_tuple
        self._input = "token ids (B,)" if c.tokens else f"values (B, {c.input_size})"

    def check_input(self, x: object, n: int) -> Tensor:
        c = self.model.config
        if c.tokens:
            return check_token_step(x, n, c.vocab_size)
        return check_value_step(x, n, c.input_size, _dtype_device(self.model)[0])

    def example_input(self, n: int, generator=None) -> Tensor:
        c = self.model.config
        if c.tokens:
            return example_tokens(n, c.vocab_size, generator)
        return example_values(n, c.input_size, _dtype_device(self.model)[0], generator)

    def _recur(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        enc = self.model.encoder
        e = enc.dropout(enc.embed(x.unsqueeze(1)))  # (B, 1, E)
        h, new = enc.rnn(e, rows_to_layer_state(state, "rnn", self._tuple))
        return enc.dropout(h[:, 0]), layer_state_to_rows(new, "rnn")

    def _rnn_start(self, n: int) -> StateDict:
        return layer_state_to_rows(self.model.encoder.rnn.init_state(n), "rnn")


class ClassifierStep(EncoderStep):
    """A unidirectional :class:`~rnnkit.models.SequenceClassifier`: the running prediction,
    ``p_t`` = the class probabilities of the prefix ``x_1..x_t`` (softmax, or each label's sigmoid)."""

    kind = "sequence_classifier"

    def __init__(self, model: SequenceClassifier) -> None:
        super().__init__(model, "classifier")
        self.pooling = model.config.pooling
        self.input_description = f"{self._input} -> running class probabilities (B, {model.config.num_classes})"

    def start(self, n: int) -> StateDict:
        state = self._rnn_start(n)
        ref = state["rnn.0"]
        d = self.model.config.output_size
        if self.pooling in ("mean", "attention"):
            state["pool.sum"] = ref.new_zeros(n, d)
            state["pool.norm"] = ref.new_zeros(n, 1)  # steps (mean) or sum of exp(e - m) (attention)
        if self.pooling == "max":
            state["pool.max"] = ref.new_full((n, d), float("-inf"))
        if self.pooling == "attention":
            state["pool.m"] = ref.new_full((n, 1), float("-inf"))
        return state

    def step(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        h, new = self._recur(x, state)  # (B, D)
        if self.pooling == "last":
            pooled = h
        elif self.pooling == "mean":
            new["pool.sum"] = state["pool.sum"] + h
            new["pool.norm"] = state["pool.norm"] + 1
            pooled = new["pool.sum"] / new["pool.norm"]
        elif self.pooling == "max":
            new["pool.max"] = pooled = torch.maximum(state["pool.max"], h)
        else:
            pool = self.model.pool
            e = pool.score(torch.tanh(pool.project(h)))  # (B, 1)
            m = torch.maximum(state["pool.m"], e)
            scale = torch.exp(state["pool.m"] - m)  # exp(-inf) = 0 on a row's first step
            w = torch.exp(e - m)
            new["pool.sum"] = state["pool.sum"] * scale + w * h
            new["pool.norm"] = state["pool.norm"] * scale + w
            new["pool.m"] = m
            pooled = new["pool.sum"] / new["pool.norm"]
        logits = self.model.head(pooled)
        probs = torch.sigmoid(logits) if self.model.config.multi_label else torch.softmax(logits, -1)
        return probs, new


class TaggerStep(EncoderStep):
    """A unidirectional :class:`~rnnkit.models.SequenceTagger`: tag scores (emissions) ``(B, K)`` per
    step. With a CRF these are the CRF's emissions; its Viterbi needs the finished sentence."""

    kind = "sequence_tagger"

    def __init__(self, model: SequenceTagger) -> None:
        super().__init__(model, "tagger")
        self.input_description = f"{self._input} -> tag scores (B, {model.config.num_tags})"

    def start(self, n: int) -> StateDict:
        return self._rnn_start(n)

    def step(self, x: Tensor, state: StateDict) -> Tuple[Tensor, StateDict]:
        h, new = self._recur(x, state)
        return self.model.emit(h), new


register_adapter(Recurrent, RecurrentStep)
register_adapter(ElmanRNN, ElmanRNNStep)
register_adapter(LanguageModel, LanguageModelStep)
register_adapter(SequenceClassifier, ClassifierStep)
register_adapter(SequenceTagger, TaggerStep)

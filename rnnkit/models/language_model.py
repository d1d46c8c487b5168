"""A recurrent language model: embedding -> stacked RNN / LSTM / GRU -> output layer.

    e_t = E[x_t]                                   # (B, T, E)  embedding of token x_t
    h_t, state = rnn(e_t, state)                   # (B, T, H)  any rnnkit layer, stacked, dropout
    logits_t = W_out h_t + b_out                   # (B, T, V)  scores of the next token x_{t+1}

The loss is the mean cross-entropy of the next token in nats; ``bits per token = loss / ln 2``
(bits per character for a character model) and ``perplexity = exp(loss)``.

Weight tying (Press & Wolf 2017, Inan et al. 2017) shares ``W_out`` with the embedding ``E``; when
``hidden_size != embedding_size`` a linear projection ``H -> E`` (no bias) is inserted before the
output layer so the shapes agree.

Conditioning (the one-to-many mapping of the seeds: a class or an image embedding -> a sequence):
with ``condition_size = C > 0`` the model takes a vector ``c`` (B, C) and starts from

    h_0 = tanh(W_c c + b_c)            for every layer (and, for an LSTM, c_0 = W_c' c + b_c')

instead of zeros. The condition is used only where a sequence starts (``state=None``); once a state
is carried (the next TBPTT chunk, the next generated token) it already holds the condition.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import (
    FileFormatError,
    InvalidTypeError,
    InvalidValueError,
    boolean,
    choice,
    describe,
    in_range,
    non_negative_int,
    positive_int,
)
from ..cells.base import State
from ..data.corpus import PathLike
from ..data.vocab import Vocabulary
from ..layers import CELL_NAMES, recurrent_layer
from ..layers.regularizers import check_regularizers
from .format import ModelFolder, read_model, save_model

CELLS = CELL_NAMES  # the cell names a LanguageModelConfig takes
MODEL_TYPE = "language_model"  # in config.json; read by rnnkit.load (models/format.py)
VOCAB_NAME = "vocab.json"


def bits_per_token(loss_nats: float) -> float:
    """Bits per token (per character for a char model): ``loss / ln 2``."""
    return float(loss_nats) / math.log(2)


def perplexity(loss_nats: float) -> float:
    """Perplexity: ``exp(loss)``, the effective number of equally likely next tokens."""
    return math.exp(float(loss_nats))


@dataclass
class LanguageModelConfig:
    """Everything needed to rebuild a :class:`LanguageModel` (saved in ``config.json``)."""

    vocab_size: int  # ids the model reads and scores; must equal the vocabulary's size
    cell: str = "lstm"  # any of CELLS (docs/cells.md); LSTM is the strong default and runs on oneDNN's fused kernel
    embedding_size: int = 256  # width of a token's learned vector; char vocabularies need little, words more
    hidden_size: int = 256  # width of the recurrent state: the model's memory and most of its compute
    num_layers: int = 2  # stacked layers; 2 is char-rnn's usual depth, more rarely helps a small corpus
    dropout: float = 0.0  # on embeddings, between layers and before the output: the regulariser once it overfits
    tie_weights: bool = False  # share embedding and output matrices: fewer parameters, often better perplexity
    condition_size: int = 0  # width of an optional conditioning vector that sets the initial state (0 = none)
    # recurrent regularisers (rnnkit.layers.regularizers); 0 = off, so folders saved before them load unchanged
    weight_drop: float = 0.0  # DropConnect on W_hh (AWD-LSTM): regularises the recurrence, keeps the fused kernel
    recurrent_dropout: float = 0.0  # variational dropout on h_{t-1}, one mask per sequence (runs the time loop)
    zoneout: float = 0.0  # each state unit keeps its previous value with this probability (runs the time loop)

    def __post_init__(self) -> None:
        positive_int("vocab_size", self.vocab_size)
        choice("cell", self.cell, CELLS)
        positive_int("embedding_size", self.embedding_size)
        positive_int("hidden_size", self.hidden_size)
        positive_int("num_layers", self.num_layers)
        in_range("dropout", self.dropout, 0, 1, high_open=True)
        boolean("tie_weights", self.tie_weights)
        non_negative_int("condition_size", self.condition_size)
        check_regularizers(
            self.cell, weight_drop=self.weight_drop, recurrent_dropout=self.recurrent_dropout, zoneout=self.zoneout
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LanguageModelConfig":
        if not isinstance(d, dict):
            raise InvalidTypeError(f"a config is a dict, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InvalidValueError(f"unknown config fields {unknown}; expected some of {sorted(known)}")
        missing = sorted(f.name for f in fields(cls) if f.default is MISSING and f.name not in d)
        if missing:
            raise InvalidValueError(f"the config lacks the fields {missing}")
        return cls(**d)


class LanguageModel(nn.Module):
    """Next-token model: ``forward(tokens (B, T), state=None, condition=None) -> (logits (B, T, V), state)``.

    ``state`` is the rnnkit layer's state: a tensor ``(num_layers, B, H)`` for GRU, RNN and the
    cells with one state tensor, a tuple ``(h, c)`` of them for the LSTM family. Pass the returned
    state back in to continue the text (truncated BPTT across chunks, or generation one token at a time).

    Attributes:
        config: the :class:`LanguageModelConfig`.
        vocab: an optional :class:`~rnnkit.data.Vocabulary` kept with the model and saved by
            :meth:`save_pretrained` (set by :meth:`from_pretrained` when ``vocab.json`` exists).
    """

    def __init__(self, config: LanguageModelConfig, vocab: Optional[Vocabulary] = None) -> None:
        super().__init__()
        if not isinstance(config, LanguageModelConfig):
            raise InvalidTypeError(f"config must be a LanguageModelConfig, got {type(config).__name__}")
        self.config = config
        self.vocab = self._checked_vocab(vocab)
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_size)
        self.drop = nn.Dropout(c.dropout)
        self.rnn = recurrent_layer(
            c.cell,
            c.embedding_size,
            c.hidden_size,
            c.num_layers,
            c.dropout,
            weight_drop=c.weight_drop,
            recurrent_dropout=c.recurrent_dropout,
            zoneout=c.zoneout,
        )
        out_features = c.hidden_size
        self.project: Optional[nn.Linear] = None
        if c.tie_weights and c.embedding_size != c.hidden_size:
            self.project = nn.Linear(c.hidden_size, c.embedding_size, bias=False)
            out_features = c.embedding_size
        self.decoder = nn.Linear(out_features, c.vocab_size)
        if c.tie_weights:
            self.decoder.weight = self.embedding.weight
        self._state_parts = len(self.rnn.cell_grid()[0][0].state_sizes)  # 2 for (h, c), else 1
        self.condition_to_state: Optional[nn.Linear] = None
        if c.condition_size:
            self.condition_to_state = nn.Linear(c.condition_size, self._state_parts * c.num_layers * c.hidden_size)

    # ---- state -------------------------------------------------------------------------------
    def init_state(self, batch_size: int, condition: Optional[Tensor] = None) -> State:
        """The state a sequence starts from: zeros, or the conditioned state for ``condition`` (B, C)."""
        positive_int("batch_size", batch_size)
        if self.condition_to_state is None:
            if condition is not None:
                raise InvalidValueError("this model has condition_size=0: it takes no condition")
            return self.rnn.init_state(batch_size)
        if condition is None:
            raise InvalidValueError(
                f"this model is conditioned (condition_size={self.config.condition_size}): pass condition "
                f"of shape (B, {self.config.condition_size}) or an explicit state"
            )
        self._check_condition(condition, batch_size)
        c = self.config
        flat = self.condition_to_state(condition)  # (B, P * L * H)
        parts = flat.view(batch_size, self._state_parts, c.num_layers, c.hidden_size)  # (B, P, L, H)
        parts = parts.permute(1, 2, 0, 3)  # (P, L, B, H)
        h = torch.tanh(parts[0]).contiguous()  # (L, B, H): in the range of a recurrent output
        if self._state_parts == 1:
            return h
        return (h, parts[1].contiguous())  # LSTM cell state: unbounded, like c_t itself

    def _check_condition(self, condition: object, batch_size: int) -> None:
        want = (batch_size, self.config.condition_size)
        if not isinstance(condition, Tensor) or tuple(condition.shape) != want:
            raise InvalidValueError(
                f"condition must be a tensor of shape {want} (B, condition_size), got {describe(condition)}"
            )
        if not condition.is_floating_point():
            raise InvalidTypeError(f"condition must be a floating-point tensor, got dtype {condition.dtype}")

    # ---- forward -----------------------------------------------------------------------------
    def forward(
        self,
        tokens: Tensor,
        state: Optional[State] = None,
        condition: Optional[Tensor] = None,
    ) -> Tuple[Tensor, State]:
        """Logits of the next token at every position, and the final state.

        Args:
            tokens: ``(B, T)`` integer token ids in ``[0, vocab_size)``.
            state: the state to continue from; ``None`` starts a sequence (zeros, or the
                conditioned state).
            condition: ``(B, condition_size)``; used only when ``state`` is None.
        Returns:
            ``(logits (B, T, V), state)``.
        """
        self._check_tokens(tokens)
        if state is None and (condition is not None or self.condition_to_state is not None):
            state = self.init_state(tokens.shape[0], condition)
        x = self.drop(self.embedding(tokens))  # (B, T, E)
        h, state = self.rnn(x, state)  # (B, T, H)
        h = self.drop(h)
        if self.project is not None:
            h = self.project(h)  # (B, T, E)
        return self.decoder(h), state  # (B, T, V)

    def _check_tokens(self, tokens: object) -> None:
        if not isinstance(tokens, Tensor):
            raise InvalidTypeError(f"tokens must be a torch.Tensor of ids, got {type(tokens).__name__}")
        if tokens.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            raise InvalidTypeError(f"tokens must be an integer tensor (torch.long), got dtype {tokens.dtype}")
        if tokens.dim() != 2 or tokens.shape[1] == 0 or tokens.shape[0] == 0:
            raise InvalidValueError(f"tokens must be 2-D (B, T) with B, T >= 1, got shape {tuple(tokens.shape)}")
        v = self.config.vocab_size
        bad = (tokens < 0) | (tokens >= v)
        if bool(bad.any()):
            value = int(tokens[bad][0])
            raise InvalidValueError(f"token id {value} is outside the vocabulary: expected 0 <= id < vocab_size={v}")

    @staticmethod
    def loss(logits: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy of ``targets`` (B, T) under ``logits`` (B, T, V), in nats per token."""
        if not isinstance(logits, Tensor) or logits.dim() != 3:
            raise InvalidValueError(f"logits must be a 3-D tensor (B, T, V), got {describe(logits)}")
        if not isinstance(targets, Tensor) or tuple(targets.shape) != tuple(logits.shape[:2]):
            raise InvalidValueError(
                f"targets must have shape {tuple(logits.shape[:2])} (B, T), got {describe(targets)}"
            )
        if targets.dtype != torch.long:
            raise InvalidTypeError(f"targets must be torch.long ids, got dtype {targets.dtype}")
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    # ---- vocabulary --------------------------------------------------------------------------
    def _checked_vocab(self, vocab: Optional[Vocabulary]) -> Optional[Vocabulary]:
        if vocab is None:
            return None
        if not isinstance(vocab, Vocabulary):
            raise InvalidTypeError(f"vocab must be a rnnkit Vocabulary, got {type(vocab).__name__}")
        if len(vocab) != self.config.vocab_size:
            raise InvalidValueError(
                f"the vocabulary has {len(vocab)} tokens but the model's vocab_size is {self.config.vocab_size}"
            )
        return vocab

    # ---- save / load -------------------------------------------------------------------------
    def save_pretrained(self, directory: PathLike, vocab: Optional[Vocabulary] = None) -> None:
        """Write the model folder (``models/format.py``, format version 3): ``config.json``
        (``model_type`` "language_model", the :class:`LanguageModelConfig` under ``"config"``),
        ``model.safetensors`` and, with a vocabulary (given here or held in :attr:`vocab`),
        ``vocab.json``. The files are saved as one atomic set over any model saved there before
        (a kill at any moment leaves the old model or this one, never a mixture), and the folder's
        other files are left alone. ``rnnkit.load(directory)`` reads it back."""
        vocab = self._checked_vocab(vocab) if vocab is not None else self.vocab
        tensors = self.state_dict()
        if self.config.tie_weights:
            tensors = {k: v for k, v in tensors.items() if k != "decoder.weight"}  # embedding.weight, stored once
        files = {VOCAB_NAME: vocab.to_json()} if vocab is not None else None
        save_model(directory, MODEL_TYPE, self.config.to_dict(), tensors, files=files)

    @classmethod
    def from_pretrained(cls, directory: PathLike, map_location: Union[str, torch.device] = "cpu") -> "LanguageModel":
        """Rebuild a model saved by :meth:`save_pretrained` (no pickle is read), in eval mode, with
        :attr:`vocab` set when the folder holds ``vocab.json``. Folders of the first layout (before
        format version 3) load too. Errors: see :meth:`from_folder`; a folder holding another kind of
        model raises :class:`~rnnkit._checks.FileFormatError` saying what it holds."""
        return cls.from_folder(read_model(directory, expected=MODEL_TYPE), map_location=map_location)

    @classmethod
    def from_folder(cls, folder: ModelFolder, map_location: Union[str, torch.device] = "cpu") -> "LanguageModel":
        """The model in ``folder`` (read by :func:`~rnnkit.models.format.read_model`, any format
        version). A missing file raises :class:`~rnnkit._checks.MissingFileError`; a file that cannot
        be read as what it should be (a config with bad values, an unreadable ``vocab.json``, a
        truncated or corrupt ``model.safetensors``, weights that do not fit the config) raises
        :class:`~rnnkit._checks.FileFormatError` naming the file. Nothing is allocated before the
        config is known to fit the weights (:meth:`~rnnkit.models.format.ModelFolder.build`)."""
        folder.expect(MODEL_TYPE)
        try:
            config = LanguageModelConfig.from_dict(folder.config)  # the same fields in every version
        except (InvalidTypeError, InvalidValueError) as err:  # a bad file, not a bad call
            raise folder.bad_config(str(err)) from None
        vocab = None
        if folder.has(VOCAB_NAME):
            vocab_path = folder.file(VOCAB_NAME)
            vocab = Vocabulary.load(vocab_path)
            if len(vocab) != config.vocab_size:
                raise FileFormatError(
                    f"{str(vocab_path)!r} and {str(folder.config_path)!r} do not fit together: the vocabulary "
                    f"has {len(vocab)} tokens but the config's vocab_size is {config.vocab_size}"
                )
        tensors = folder.tensors()
        if config.tie_weights:  # one shared matrix, stored under either name
            shared = tensors.get("embedding.weight", tensors.get("decoder.weight"))
            if shared is not None:
                tensors["embedding.weight"] = tensors["decoder.weight"] = shared
        folder.check_count("num_layers", config.num_layers, tensors)
        model = folder.build(lambda: cls(config, vocab), tensors)
        return model.to(map_location).eval()

    def num_parameters(self) -> int:
        """Trainable parameters (a tied matrix counted once)."""
        return sum(p.numel() for p in self.parameters())

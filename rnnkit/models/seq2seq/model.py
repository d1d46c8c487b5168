"""Encoder-decoder with attention: a whole source sequence is read before the target is written.

Encoder (any stock layer, bidirectional allowed)::

    e_s = E_src[x_s]                                    (B, S, E)
    m, (h_n[, c_n]) = rnn_enc(e, lengths)               m: (B, S, D*H) the memory; h_n: (L*D, B, H)

Bridge (the decoder's initial state, per layer l)::

    projection:  s_0^l = tanh(W_b [h_n^l fwd; h_n^l bwd] + b_b)     (and c_0^l = W_c [...] for an LSTM)
    zeros:       s_0^l = 0

Decoder, one step t (any stock cell, ``num_layers`` stacked), attention after the cell step as
in Luong et al. (2015)::

    x_t = [E_tgt[y_{t-1}] ; h~_{t-1}]                   input feeding (Luong) adds h~_{t-1}; else E_tgt[y_{t-1}]
    s_t = cell(x_t, s_{t-1})                             (N, H), the top layer's output
    c_t, a_t = attention(s_t, m, mask)                   a_t: (N, S), exactly 0 at padded source positions
    h~_t = tanh(W_c [c_t ; s_t])                         (N, H)  (without attention: h~_t = s_t)
    p(y_t | y_<t, x) = softmax(W_out h~_t + b_out)       (N, V)

``attention="bahdanau"`` uses the additive score ``v^T tanh(W h_s + U s_t)`` of Bahdanau et al.
(2015) in this Luong ordering (the query is the current state ``s_t``, not ``s_{t-1}``), as
OpenNMT's "mlp" attention does; ``"dot"`` and ``"general"`` are Luong's scores.

Training feeds the ground truth ``y_{t-1}`` (teacher forcing) or, with a
:class:`~rnnkit.models.scheduled_sampling.TeacherForcing`, the model's own previous prediction with
probability ``1 - eps_i``, one coin per token (scheduled sampling, Bengio et al. 2015). Decoding
(greedy, beam search) is in :mod:`.decoding` and uses :meth:`Seq2Seq.encode`, :meth:`start`,
:meth:`expand_state`, :meth:`step` and :meth:`reorder_state`: the encoder runs once and its output
is shared by all the hypotheses of a source row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..._checks import FileFormatError, InvalidTypeError, InvalidValueError, boolean, choice, in_range, positive_int
from ...data.corpus import PathLike
from ...data.vocab import Vocabulary
from ...layers import CELL_NAMES, CELL_TYPES, recurrent_layer
from ...layers.attention import Attention
from ...layers.pooling import step_mask
from ..encoder import config_from_dict
from ..format import ModelFolder, read_model, save_model

MODEL_TYPE = "seq2seq"
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")  # ids 0..3 on both sides
PAD, UNK, BOS, EOS = 0, 1, 2, 3
ATTENTIONS = ("bahdanau", "dot", "general", "none")
BRIDGES = ("projection", "zeros")
CELLS = CELL_TYPES  # the decoder's cell class by name (the encoder is the layer of the same cell)
SOURCE_VOCAB, TARGET_VOCAB = "source_vocab.json", "target_vocab.json"


@dataclass
class Seq2SeqConfig:
    """Everything needed to rebuild a :class:`Seq2Seq` (saved in ``config.json``)."""

    source_vocab_size: int
    target_vocab_size: int
    embedding_size: int = 64
    hidden_size: int = 128  # the decoder's width; each encoder direction's too
    num_layers: int = 1  # encoder and decoder layers
    cell: str = "lstm"  # any of rnnkit.layers.CELL_NAMES, for both encoder and decoder
    bidirectional_encoder: bool = True
    attention: str = "bahdanau"  # bahdanau | dot | general | none
    input_feeding: bool = False  # Luong's input feeding: h~_{t-1} joins the next input
    bridge: str = "projection"  # projection | zeros
    dropout: float = 0.1
    share_embeddings: bool = False  # one embedding for both sides (needs one vocabulary)
    tie_output: bool = False  # the output layer shares the target embedding (needs embedding_size == hidden_size)
    max_target_length: int = 100  # the longest output decoding writes

    def __post_init__(self) -> None:
        positive_int("source_vocab_size", self.source_vocab_size)
        positive_int("target_vocab_size", self.target_vocab_size)
        for name in ("embedding_size", "hidden_size", "num_layers", "max_target_length"):
            positive_int(name, getattr(self, name))
        choice("cell", self.cell, CELL_NAMES)
        boolean("bidirectional_encoder", self.bidirectional_encoder)
        choice("attention", self.attention, ATTENTIONS)
        boolean("input_feeding", self.input_feeding)
        choice("bridge", self.bridge, BRIDGES)
        in_range("dropout", self.dropout, 0, 1, high_open=True)
        boolean("share_embeddings", self.share_embeddings)
        boolean("tie_output", self.tie_output)
        if self.share_embeddings and self.source_vocab_size != self.target_vocab_size:
            raise InvalidValueError(
                f"share_embeddings needs one vocabulary for both sides, got sizes {self.source_vocab_size} "
                f"and {self.target_vocab_size}"
            )
        if self.tie_output and self.embedding_size != self.hidden_size:
            raise InvalidValueError(
                f"tie_output needs embedding_size == hidden_size, got {self.embedding_size} and {self.hidden_size}"
            )
        if self.input_feeding and self.attention == "none":
            raise InvalidValueError("input_feeding feeds the attentional state: it needs attention")
        if self.attention == "dot" and self.memory_size != self.hidden_size:
            raise InvalidValueError(
                f"dot attention needs the memory ({self.memory_size}: hidden_size x directions) as wide as the "
                f"decoder ({self.hidden_size}); use 'general' or a unidirectional encoder"
            )

    @property
    def memory_size(self) -> int:
        return self.hidden_size * (2 if self.bidirectional_encoder else 1)


@dataclass
class Encoded:
    """The encoder's output, shared by every hypothesis of a source row."""

    memory: Tensor  # (B, S, Hm)
    mask: Tensor  # (B, S) bool, True at real source positions
    keys: Optional[Tensor]  # the attention's precomputed keys (B, S, A), or None
    final: object  # the encoder's final state (h_n, or (h_n, c_n)): (L*D, B, H)


@dataclass
class DecoderState:
    """Per row (dim 0 of every tensor): each layer's cell state, and the last attentional state."""

    layers: List[object]  # per layer: h (N, H), or (h, c) for an LSTM
    feed: Optional[Tensor]  # h~_{t-1} (N, H) for input feeding, else None

    def map(self, fn) -> "DecoderState":
        layers = [tuple(fn(t) for t in s) if isinstance(s, tuple) else fn(s) for s in self.layers]
        return DecoderState(layers, None if self.feed is None else fn(self.feed))


class Seq2Seq(nn.Module):
    """``forward(src, src_lengths, tgt_in, teacher=None) -> logits (B, T, V)``; see the module docstring."""

    def __init__(
        self,
        config: Seq2SeqConfig,
        source_vocab: Optional[Vocabulary] = None,
        target_vocab: Optional[Vocabulary] = None,
    ) -> None:
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise InvalidTypeError(f"config must be a Seq2SeqConfig, got {type(config).__name__}")
        for name, vocab, size in (
            ("source", source_vocab, config.source_vocab_size),
            ("target", target_vocab, config.target_vocab_size),
        ):
            if vocab is not None and len(vocab) != size:
                raise InvalidValueError(f"the {name} vocabulary has {len(vocab)} tokens but the config says {size}")
        self.config = c = config
        self.source_vocab, self.target_vocab = source_vocab, target_vocab
        self.pad_id, self.bos_id, self.eos_id = PAD, BOS, EOS
        self.source_embedding = nn.Embedding(c.source_vocab_size, c.embedding_size, padding_idx=PAD)
        self.target_embedding = (
            self.source_embedding
            if c.share_embeddings
            else nn.Embedding(c.target_vocab_size, c.embedding_size, padding_idx=PAD)
        )
        self.encoder = recurrent_layer(
            c.cell,
            c.embedding_size,
            c.hidden_size,
            c.num_layers,
            dropout=c.dropout,
            bidirectional=c.bidirectional_encoder,
        )
        directions = 2 if c.bidirectional_encoder else 1
        cell = CELLS[c.cell]
        self._cell_state = cell(1, 1, device="meta").state_is_tuple  # (h, c) for the LSTM family, else h
        if c.bridge == "projection":
            self.bridge_h = nn.Linear(directions * c.hidden_size, c.hidden_size)
            self.bridge_c = nn.Linear(directions * c.hidden_size, c.hidden_size) if self._cell_state else None
        feed = c.hidden_size if c.input_feeding else 0
        self.cells = nn.ModuleList(
            [cell(c.embedding_size + feed if i == 0 else c.hidden_size, c.hidden_size) for i in range(c.num_layers)]
        )
        self.attention = None
        if c.attention != "none":
            self.attention = Attention(c.attention, c.hidden_size, c.memory_size)
            self.combine = nn.Linear(c.memory_size + c.hidden_size, c.hidden_size, bias=False)  # W_c
        self.dropout = nn.Dropout(c.dropout)
        self.output = nn.Linear(c.hidden_size, c.target_vocab_size)
        if c.tie_output:
            self.output.weight = self.target_embedding.weight

    # ---- the decoding interface ----------------------------------------------------------------

    def encode(self, src: Tensor, src_lengths: Optional[Tensor] = None) -> Encoded:
        if not isinstance(src, Tensor) or src.dim() != 2 or src.dtype != torch.long:
            raise InvalidValueError(f"src must be token ids of shape (batch, steps), got {_shape(src)}")
        B, S = src.shape
        lengths = torch.full((B,), S, dtype=torch.long) if src_lengths is None else torch.as_tensor(src_lengths).long()
        if lengths.shape != (B,) or bool((lengths < 1).any()) or bool((lengths > S).any()):
            raise InvalidValueError(f"src_lengths must be {B} values in [1, {S}], got {lengths.tolist()}")
        mask = step_mask(lengths.cpu(), S).to(src.device)
        memory, final = self.encoder(self.dropout(self.source_embedding(src)), lengths=lengths.cpu())
        keys = self.attention.precompute(memory) if self.attention is not None else None
        return Encoded(memory, mask, keys, final)

    def start(self, enc: Encoded) -> DecoderState:
        """The decoder's state for the B source rows (the bridge of the encoder's final state)."""
        c = self.config
        h_n = enc.final[0] if isinstance(enc.final, tuple) else enc.final  # (L*D, B, H)
        B = h_n.shape[1]
        layers: List[object] = []
        for l in range(c.num_layers):
            if c.bridge == "zeros":
                h = h_n.new_zeros(B, c.hidden_size)
                layers.append((h, h.clone()) if self._cell_state else h)
                continue
            h = self._last_layer_state(h_n, l)  # (B, D*H)
            h0 = torch.tanh(self.bridge_h(h))
            if self._cell_state:
                layers.append((h0, self.bridge_c(self._last_layer_state(enc.final[1], l))))
            else:
                layers.append(h0)
        feed = h_n.new_zeros(B, c.hidden_size) if c.input_feeding else None
        return DecoderState(layers, feed)

    def _last_layer_state(self, states: Tensor, layer: int) -> Tensor:
        """``(B, D*H)``: the encoder's final state of ``layer``, directions concatenated."""
        D = 2 if self.config.bidirectional_encoder else 1
        return torch.cat([states[layer * D + d] for d in range(D)], dim=-1)

    @staticmethod
    def expand_state(state: DecoderState, k: int) -> DecoderState:
        """``k`` copies of each row, ordered ``b * k + j``."""
        return state.map(lambda t: t.repeat_interleave(k, dim=0))

    @staticmethod
    def reorder_state(state: DecoderState, index: Tensor) -> DecoderState:
        return state.map(lambda t: t.index_select(0, index))

    def step(self, prev: Tensor, state: DecoderState, enc: Encoded) -> Tuple[Tensor, DecoderState, Optional[Tensor]]:
        """One decoder step for ``K`` hypotheses per source row: ``prev`` (B, K) the previous tokens.

        Returns ``(log_probs (B, K, V), state, attention weights (B, K, S) or None)``.
        """
        B, K = prev.shape
        x = self.dropout(self.target_embedding(prev.reshape(B * K)))  # (N, E)
        if state.feed is not None:
            x = torch.cat([x, state.feed], dim=-1)
        layers = []
        for cell, s in zip(self.cells, state.layers):
            h, s = cell(x, s)
            layers.append(s)
            x = self.dropout(h)
        top = h  # (N, H)
        weights = None
        if self.attention is not None:
            context, weights = self.attention(top.view(B, K, -1), enc.memory, enc.mask, keys=enc.keys)
            out = torch.tanh(self.combine(torch.cat([context.reshape(B * K, -1), top], dim=-1)))  # h~_t
        else:
            out = top
        logits = self.output(self.dropout(out)).view(B, K, -1)
        feed = out if state.feed is not None else None
        return F.log_softmax(logits, dim=-1), DecoderState(layers, feed), weights

    # ---- training ------------------------------------------------------------------------------

    def forward(self, src: Tensor, src_lengths: Optional[Tensor], tgt_in: Tensor, teacher=None) -> Tensor:
        """Log-probabilities ``(B, T, V)`` of each next target token given ``tgt_in`` = ``<s> y_1 .. y_{T-1}``.

        ``teacher``: a :class:`~rnnkit.models.scheduled_sampling.TeacherForcing`; each step's input is
        then the ground truth with probability ``eps_i`` and the model's previous prediction
        otherwise, one coin per token. None: plain teacher forcing.
        """
        if not isinstance(tgt_in, Tensor) or tgt_in.dim() != 2 or tgt_in.dtype != torch.long:
            raise InvalidValueError(f"tgt_in must be token ids of shape (batch, steps), got {_shape(tgt_in)}")
        enc = self.encode(src, src_lengths)
        state = self.start(enc)
        prev = tgt_in[:, :1]
        out = []
        for t in range(tgt_in.shape[1]):
            log_probs, state, _ = self.step(prev, state, enc)
            out.append(log_probs[:, 0])
            if t + 1 < tgt_in.shape[1]:
                truth = tgt_in[:, t + 1]
                prev = (truth if teacher is None else teacher.mix(truth, log_probs[:, 0].argmax(-1))).unsqueeze(1)
        return torch.stack(out, dim=1)

    def loss(self, log_probs: Tensor, tgt_out: Tensor, label_smoothing: float = 0.0) -> Tensor:
        """Mean cross-entropy per target token (padding ignored), with optional label smoothing
        (``log_softmax`` of log-probabilities is themselves, so they go in as logits)."""
        V = log_probs.shape[-1]
        return F.cross_entropy(
            log_probs.reshape(-1, V), tgt_out.reshape(-1), ignore_index=PAD, label_smoothing=label_smoothing
        )

    # ---- the one model format ------------------------------------------------------------------

    def save_pretrained(self, directory: PathLike) -> None:
        files = {}
        if self.source_vocab is not None:
            files[SOURCE_VOCAB] = self.source_vocab.to_json()
        if self.target_vocab is not None:
            files[TARGET_VOCAB] = self.target_vocab.to_json()
        tensors = self.state_dict()
        if self.config.share_embeddings:
            tensors = {k: v for k, v in tensors.items() if not k.startswith("target_embedding.")}
        if self.config.tie_output:
            tensors = {k: v for k, v in tensors.items() if k != "output.weight"}
        save_model(directory, MODEL_TYPE, asdict(self.config), tensors, files=files or None)

    @classmethod
    def from_pretrained(cls, directory: PathLike) -> "Seq2Seq":
        return cls.from_folder(read_model(directory, expected=MODEL_TYPE))

    @classmethod
    def from_folder(cls, folder: ModelFolder) -> "Seq2Seq":
        folder.expect(MODEL_TYPE)
        try:
            config = config_from_dict(Seq2SeqConfig, folder.config)
        except (InvalidTypeError, InvalidValueError) as err:
            raise folder.bad_config(str(err)) from None
        source = Vocabulary.load(folder.file(SOURCE_VOCAB)) if folder.has(SOURCE_VOCAB) else None
        target = Vocabulary.load(folder.file(TARGET_VOCAB)) if folder.has(TARGET_VOCAB) else None
        try:
            model = cls(config, source, target)
        except InvalidValueError as err:
            raise FileFormatError(f"the files in {str(folder.path)!r} do not fit together: {err}") from None
        tensors = folder.tensors()
        if config.share_embeddings and "source_embedding.weight" in tensors:
            tensors["target_embedding.weight"] = tensors["source_embedding.weight"]
        if config.tie_output and "target_embedding.weight" in tensors:
            tensors["output.weight"] = tensors["target_embedding.weight"]
        folder.load_state_dict(model, tensors)
        return model.eval()


def _shape(x: object) -> str:
    return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__

"""Many-to-many, synchronous: one tag for every input step (parts of speech, named entities).

::

    h, L = encoder(x, lengths)          # (B, T, D*H)   embedding -> (conv) -> bidirectional RNN layers
    s_t = W h_t + b                     # (B, T, K)     a score per tag per step ("emissions")

    softmax:  p(y_t | x) = softmax(s_t)               loss = mean cross-entropy over real steps
    crf:      p(y | x) = exp(score(x, y)) / Z(x)      loss = mean negative log-likelihood per sentence
              score(x, y) = start[y_1] + sum_t s_t[y_t] + sum_t A[y_{t-1}, y_t] + end[y_L]

With a CRF (:class:`~rnnkit.layers.crf.LinearChainCRF`) the tags are decoded jointly by Viterbi,
and with ``scheme="bio"``/``"bioes"`` transitions the scheme forbids (``I-PER`` after ``O``) are
never output. Saves and loads through the one model format (``rnnkit.load``), with its vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import InvalidValueError, boolean, choice
from ..data.corpus import PathLike
from ..data.vocab import Vocabulary
from ..layers.crf import LinearChainCRF, bio_constraints, bioes_constraints
from ..layers.pooling import step_mask
from .classifier import check_labels
from .encoder import EncoderConfig, SequenceEncoder, check_encoder_args, load_encoder_model, save_encoder_model
from .format import ModelFolder, read_model

MODEL_TYPE = "sequence_tagger"
VOCAB_NAME = "vocab.json"
SCHEMES = ("none", "bio", "bioes")
CONSTRAINTS = {"bio": bio_constraints, "bioes": bioes_constraints}


@dataclass
class TaggerConfig(EncoderConfig):
    """A :class:`SequenceTagger`: the encoder's settings, the tag names, softmax or CRF."""

    tags: List[str] = field(default_factory=list)  # the tag names, in the order of the scores
    crf: bool = True  # decode jointly with a linear-chain CRF (else an independent softmax per step)
    scheme: str = "none"  # none | bio | bioes: with a CRF, forbid the transitions the scheme forbids

    def __post_init__(self) -> None:
        super().__post_init__()
        self.tags = check_labels(self.tags, 2)
        boolean("crf", self.crf)
        choice("scheme", self.scheme, SCHEMES)

    @property
    def num_tags(self) -> int:
        return len(self.tags)


class SequenceTagger(nn.Module):
    """``forward(x, lengths=None) -> emissions (B, T, K)``; :meth:`loss`, :meth:`decode`."""

    def __init__(self, config: TaggerConfig, vocab: Optional[Vocabulary] = None) -> None:
        super().__init__()
        check_encoder_args(config, TaggerConfig, vocab)
        self.config = config
        self.vocab = vocab
        self.encoder = SequenceEncoder(config)
        self.emit = nn.Linear(config.output_size, config.num_tags)
        self.crf = None
        if config.crf:
            constraints = CONSTRAINTS[config.scheme](config.tags) if config.scheme != "none" else None
            self.crf = LinearChainCRF(config.num_tags, batch_first=True, constraints=constraints)

    def forward(self, x: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
        outputs, _ = self.encoder(x, lengths)
        return self.emit(outputs)  # (B, T, K)

    def _mask(self, x: Tensor, lengths: Optional[Tensor]) -> Tensor:
        B, T = x.shape[0], x.shape[1]
        lengths = torch.full((B,), T, dtype=torch.long) if lengths is None else torch.as_tensor(lengths).long()
        return step_mask(lengths.cpu(), T).to(x.device)

    def loss(self, x: Tensor, tags: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
        """Mean negative log-likelihood of the gold ``tags`` (B, T) per sentence (CRF) or per token
        (softmax); padded steps never count (their tag values are ignored)."""
        emissions = self(x, lengths)
        mask = self._mask(x, lengths)
        if tags.shape != mask.shape:
            raise InvalidValueError(f"tags must have shape {tuple(mask.shape)} like x, got {tuple(tags.shape)}")
        if self.crf is not None:
            return self.crf(emissions, tags.masked_fill(~mask, 0), mask=mask, reduction="mean")
        return F.cross_entropy(emissions[mask], tags[mask])

    @torch.no_grad()
    def decode(self, x: Tensor, lengths: Optional[Tensor] = None) -> List[List[int]]:
        """The best tag ids of each sequence (its real steps only): Viterbi with a CRF, else argmax."""
        emissions = self(x, lengths)
        mask = self._mask(x, lengths)
        if self.crf is not None:
            return self.crf.decode(emissions, mask=mask)
        best = emissions.argmax(-1)
        return [row[m].tolist() for row, m in zip(best, mask)]

    # ---- the one model format ----------------------------------------------------------------

    def save_pretrained(self, directory: PathLike) -> None:
        """Write the model folder (``config.json``, ``model.safetensors``, ``vocab.json``)."""
        save_encoder_model(self, MODEL_TYPE, directory)

    @classmethod
    def from_pretrained(cls, directory: PathLike) -> "SequenceTagger":
        return cls.from_folder(read_model(directory, expected=MODEL_TYPE))

    @classmethod
    def from_folder(cls, folder: ModelFolder) -> "SequenceTagger":
        """The tagger in ``folder``, in eval mode; every problem is an error naming the file."""
        return load_encoder_model(cls, TaggerConfig, MODEL_TYPE, folder)

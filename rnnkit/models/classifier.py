"""Many-to-one: a sequence (of tokens or of real values) to a class, or to a set of labels.

::

    h, L = encoder(x, lengths)          # (B, T, D*H)   embedding/projection -> (conv) -> RNN layers
    z, a = pool(h, L)                   # (B, D*H)      last | mean | max | attention (a: (B, T))
    logits = W z + b                    # (B, K)
    p = softmax(logits)                 # one class   (multi_label=False): loss = cross-entropy
    p = sigmoid(logits)                 # label set   (multi_label=True):  loss = binary cross-entropy

Padding never changes a prediction (the encoder and the pooling honour ``lengths``). A
classifier saves and loads through the one model format (``rnnkit.load``), with its vocabulary
(``vocab.json``) when it reads tokens; its class names are in its config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import InvalidTypeError, InvalidValueError, boolean, choice, non_negative_int
from ..data.corpus import PathLike
from ..data.vocab import Vocabulary
from ..layers.pooling import POOLINGS, TimePooling
from .encoder import EncoderConfig, SequenceEncoder, check_encoder_args, load_encoder_model, save_encoder_model
from .format import ModelFolder, read_model

MODEL_TYPE = "sequence_classifier"
VOCAB_NAME = "vocab.json"


def check_labels(labels: object, least: int) -> List[str]:
    """``labels`` if it is a list of at least ``least`` distinct strings."""
    if not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) for x in labels):
        raise InvalidTypeError(f"labels must be a list of class names (strings), got {labels!r:.80}")
    if len(set(labels)) != len(labels):
        raise InvalidValueError(f"labels must be distinct, got {list(labels)!r:.120}")
    if len(labels) < least:
        raise InvalidValueError(f"a model needs at least {least} labels, got {list(labels)!r}")
    return list(labels)


@dataclass
class ClassifierConfig(EncoderConfig):
    """A :class:`SequenceClassifier`: the encoder's settings, the class names and the pooling."""

    labels: List[str] = field(default_factory=list)  # the class names, in the order of the logits
    pooling: str = "attention"  # last | mean | max | attention
    attention_size: int = 0  # width of the attention scorer (0: the encoder's output size)
    multi_label: bool = False  # a set of labels per sequence (sigmoid) instead of one class (softmax)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.labels = check_labels(self.labels, 1 if self.multi_label else 2)
        choice("pooling", self.pooling, POOLINGS)
        non_negative_int("attention_size", self.attention_size)
        boolean("multi_label", self.multi_label)

    @property
    def num_classes(self) -> int:
        return len(self.labels)


class SequenceClassifier(nn.Module):
    """``forward(x, lengths=None) -> logits (B, K)``; :meth:`predict_proba`, :meth:`loss`, :meth:`attention`."""

    def __init__(self, config: ClassifierConfig, vocab: Optional[Vocabulary] = None) -> None:
        super().__init__()
        check_encoder_args(config, ClassifierConfig, vocab)
        self.config = config
        self.vocab = vocab
        self.encoder = SequenceEncoder(config)
        self.pool = TimePooling(config.pooling, config.output_size, config.bidirectional, config.attention_size)
        self.head = nn.Linear(config.output_size, config.num_classes)

    def features(self, x: Tensor, lengths: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor]]:
        """``(pooled (B, D*H), attention weights (B, T) or None)``."""
        outputs, lengths = self.encoder(x, lengths)
        return self.pool(outputs, lengths)

    def forward(self, x: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
        pooled, _ = self.features(x, lengths)
        return self.head(pooled)

    def predict_proba(self, x: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
        """``(B, K)``: class probabilities (softmax), or each label's probability (multi-label)."""
        logits = self(x, lengths)
        return torch.sigmoid(logits) if self.config.multi_label else torch.softmax(logits, -1)

    def attention(self, x: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
        """``(B, T)``: the attention pooling's weight of each step (zero at padding)."""
        if self.config.pooling != "attention":
            raise InvalidValueError(f"the model pools by {self.config.pooling!r}, not by attention")
        return self.features(x, lengths)[1]

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy (targets: class ids (B,)) or binary cross-entropy (targets: (B, K) 0/1)."""
        if self.config.multi_label:
            return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))
        return F.cross_entropy(logits, targets)

    # ---- the one model format ----------------------------------------------------------------

    def save_pretrained(self, directory: PathLike) -> None:
        """Write the model folder (``config.json``, ``model.safetensors``, ``vocab.json`` for tokens)."""
        save_encoder_model(self, MODEL_TYPE, directory)

    @classmethod
    def from_pretrained(cls, directory: PathLike) -> "SequenceClassifier":
        return cls.from_folder(read_model(directory, expected=MODEL_TYPE))

    @classmethod
    def from_folder(cls, folder: ModelFolder) -> "SequenceClassifier":
        """The classifier in ``folder``, in eval mode; every problem is an error naming the file."""
        return load_encoder_model(cls, ClassifierConfig, MODEL_TYPE, folder)

"""The reading half shared by the classifier and the tagger: input -> (conv) -> recurrent layers.

::

    e_t = E[x_t]            tokens (B, T) long        -> (B, T, E)   an embedding, id 0 = padding
    e_t = W_in x_t + b_in   real values (B, T, C)      -> (B, T, E)   a linear input projection
    c = conv blocks(e)      optional, (B, T, F): ``conv_layers`` x [Conv1d(kernel, "same") -> ReLU],
                            padding positions zeroed before every block (the CNN->RNN hybrid of the
                            seeds; LSTM-FCN / Karim et al. 2017 put convolutions beside an LSTM on
                            series, here they feed it)
    h, state = rnn(c, lengths=L)   any stock layer, stacked, uni- or bidirectional -> (B, T, D*H)

Padding never changes a result: the recurrent layer honours ``lengths`` (outputs past a length are
zero, the reverse direction starts at each sequence's last real step) and the convolutions see
zeros at padded steps, exactly as if the sequence had ended there.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .._checks import InvalidTypeError, InvalidValueError, boolean, choice, in_range, non_negative_int, positive_int
from ..layers import CELL_NAMES, recurrent_layer
from ..layers.pooling import step_mask


@dataclass
class EncoderConfig:
    """What the reading half is: exactly one of ``vocab_size`` (tokens) or ``input_size`` (values)."""

    vocab_size: int = 0  # > 0: the input is token ids (0 is padding)
    input_size: int = 0  # > 0: the input is real values with this many channels
    embedding_size: int = 64  # width of a token's vector, or of the projected values
    cell: str = "lstm"  # any of rnnkit.layers.CELL_NAMES
    hidden_size: int = 128  # per direction
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.1  # on the inputs, between layers and on the outputs
    conv_layers: int = 0  # Conv1d blocks before the recurrent layers (0: none)
    conv_channels: int = 64
    conv_kernel: int = 5

    def __post_init__(self) -> None:
        non_negative_int("vocab_size", self.vocab_size)
        non_negative_int("input_size", self.input_size)
        if (self.vocab_size > 0) == (self.input_size > 0):
            raise InvalidValueError(
                "give exactly one of vocab_size (token input) or input_size (real-valued input), got "
                f"vocab_size={self.vocab_size}, input_size={self.input_size}"
            )
        positive_int("embedding_size", self.embedding_size)
        choice("cell", self.cell, CELL_NAMES)
        positive_int("hidden_size", self.hidden_size)
        positive_int("num_layers", self.num_layers)
        boolean("bidirectional", self.bidirectional)
        in_range("dropout", self.dropout, 0, 1, high_open=True)
        non_negative_int("conv_layers", self.conv_layers)
        positive_int("conv_channels", self.conv_channels)
        positive_int("conv_kernel", self.conv_kernel)
        if self.conv_kernel % 2 == 0:
            raise InvalidValueError(f"conv_kernel must be odd (centred 'same' padding), got {self.conv_kernel}")

    @property
    def output_size(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)

    @property
    def tokens(self) -> bool:
        return self.vocab_size > 0


class SequenceEncoder(nn.Module):
    """``forward(x, lengths=None) -> (outputs (B, T, D*H), lengths (B,))``; see the module docstring."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        if config.tokens:
            self.embed = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=0)
        else:
            self.embed = nn.Linear(config.input_size, config.embedding_size)
        convs = []
        width = config.embedding_size
        for _ in range(config.conv_layers):
            convs.append(nn.Conv1d(width, config.conv_channels, config.conv_kernel, padding=config.conv_kernel // 2))
            width = config.conv_channels
        self.convs = nn.ModuleList(convs)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = recurrent_layer(
            config.cell,
            width,
            config.hidden_size,
            config.num_layers,
            dropout=config.dropout,
            bidirectional=config.bidirectional,
        )

    def check_input(self, x: Tensor) -> None:
        c = self.config
        if not isinstance(x, Tensor):
            raise InvalidTypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if c.tokens and (x.dim() != 2 or x.dtype != torch.long):
            raise InvalidValueError(
                f"x must be token ids of shape (batch, steps) and dtype torch.long, got shape {tuple(x.shape)} "
                f"and dtype {x.dtype}"
            )
        if not c.tokens and (x.dim() != 3 or x.shape[-1] != c.input_size or not x.is_floating_point()):
            raise InvalidValueError(
                f"x must be real values of shape (batch, steps, {c.input_size}), got shape {tuple(x.shape)} "
                f"and dtype {x.dtype}"
            )
        if x.shape[1] == 0:
            raise InvalidValueError(f"x has no steps: shape {tuple(x.shape)}")

    def forward(self, x: Tensor, lengths: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        self.check_input(x)
        B, T = x.shape[0], x.shape[1]
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long)
        lengths = torch.as_tensor(lengths, dtype=torch.long).cpu()
        if lengths.shape != (B,) or bool((lengths < 1).any()) or bool((lengths > T).any()):
            raise InvalidValueError(f"lengths must be {B} values in [1, {T}], got {lengths.tolist()}")
        mask = step_mask(lengths, T).to(x.device).unsqueeze(-1)  # (B, T, 1)
        e = self.dropout(self.embed(x)) * mask  # (B, T, E), zero at padding
        for conv in self.convs:
            e = torch.relu(conv(e.transpose(1, 2))).transpose(1, 2) * mask  # (B, T, F)
        outputs, _ = self.rnn(e, lengths=lengths)  # (B, T, D*H)
        return self.dropout(outputs), lengths


# ---- the one model format, for models built on this encoder ------------------------------------

VOCAB_NAME = "vocab.json"


def config_from_dict(cls, d: object):
    """``cls(**d)`` for a config dataclass, with unknown and missing fields named."""
    if not isinstance(d, dict):
        raise InvalidTypeError(f"a config is a dict, got {type(d).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InvalidValueError(f"unknown config fields {unknown}; expected some of {sorted(known)}")
    missing = sorted(
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING and f.name not in d
    )
    if missing:
        raise InvalidValueError(f"the config lacks the fields {missing}")
    return cls(**d)


def check_encoder_args(config: object, config_class: type, vocab) -> None:
    """Refuse a config of another class, or a vocabulary whose size is not the config's ``vocab_size``."""
    if not isinstance(config, config_class):
        raise InvalidTypeError(f"config must be a {config_class.__name__}, got {type(config).__name__}")
    if vocab is not None and (not config.tokens or len(vocab) != config.vocab_size):
        raise InvalidValueError(
            f"the vocabulary has {len(vocab)} tokens but the config's vocab_size is {config.vocab_size}"
        )


def save_encoder_model(model: nn.Module, model_type: str, directory) -> None:
    """Write ``model`` (with ``.config`` and an optional ``.vocab``) as a model folder."""
    from dataclasses import asdict

    from .format import save_model

    files = {VOCAB_NAME: model.vocab.to_json()} if model.vocab is not None else None
    save_model(directory, model_type, asdict(model.config), model.state_dict(), files=files)


def load_encoder_model(cls, config_class, model_type: str, folder):
    """``cls(config, vocab)`` from a model folder, in eval mode; every problem names the file."""
    from .._checks import FileFormatError
    from ..data.vocab import Vocabulary

    folder.expect(model_type)
    try:
        config = config_from_dict(config_class, folder.config)
    except (InvalidTypeError, InvalidValueError) as err:
        raise folder.bad_config(str(err)) from None
    vocab = Vocabulary.load(folder.file(VOCAB_NAME)) if config.tokens else None
    try:
        model = cls(config, vocab)
    except InvalidValueError as err:
        raise FileFormatError(f"the files in {str(folder.path)!r} do not fit together: {err}") from None
    folder.load_state_dict(model)
    return model.eval()

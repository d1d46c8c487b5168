"""``RNN``, ``LSTM``, ``GRU``: drop-in replacements for ``torch.nn.RNN/LSTM/GRU``.

Same constructor arguments, order and defaults as torch.nn, the same parameter names and layouts
(so ``load_state_dict`` works both ways, strict), plus ``lengths=`` in ``forward``, a choice of
``engine`` and the recurrent regularisers of :mod:`rnnkit.layers.regularizers` (keyword-only, off by
default). The default engine runs torch.nn's own fused kernels on these parameters.
"""

from __future__ import annotations

from functools import partial
from typing import Dict, Tuple, Type

from .._checks import InvalidValueError, choice
from ..cells import (
    ElmanCell,
    GRUCell,
    IndRNNCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    MinGRUCell,
    MinLSTMCell,
    PeepholeLSTMCell,
    RecurrentCell,
)
from .recurrent import Recurrent


def _regs(input_dropout: float, recurrent_dropout: float, weight_drop: float, zoneout: float) -> dict:
    return {
        "input_dropout": input_dropout,
        "recurrent_dropout": recurrent_dropout,
        "weight_drop": weight_drop,
        "zoneout": zoneout,
    }


class RNN(Recurrent):
    """Elman RNN layer: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, act tanh or relu."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        engine: str = "auto",
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        if not isinstance(nonlinearity, str) or nonlinearity not in ("tanh", "relu"):
            raise InvalidValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        factory = partial(ElmanCell, bias=bias, nonlinearity=nonlinearity, device=device, dtype=dtype)
        super().__init__(
            factory,
            input_size,
            hidden_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            engine=engine,
            **_regs(input_dropout, recurrent_dropout, weight_drop, zoneout),
        )
        self.nonlinearity = nonlinearity
        self.bias = bool(bias)


class LSTM(Recurrent):
    """LSTM layer (gates i, f, g, o); state ``(h, c)``; optional output projection ``proj_size``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        engine: str = "auto",
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        factory = partial(LSTMCell, bias=bias, proj_size=proj_size, device=device, dtype=dtype)
        super().__init__(
            factory,
            input_size,
            hidden_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            engine=engine,
            **_regs(input_dropout, recurrent_dropout, weight_drop, zoneout),
        )
        self.bias = bool(bias)


class GRU(Recurrent):
    """GRU layer (gates r, z, n; reset applied after the hidden matmul, as torch.nn and cuDNN)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        engine: str = "auto",
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        factory = partial(GRUCell, bias=bias, device=device, dtype=dtype)
        super().__init__(
            factory,
            input_size,
            hidden_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            engine=engine,
            **_regs(input_dropout, recurrent_dropout, weight_drop, zoneout),
        )
        self.bias = bool(bias)


STOCK_LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}  # torch.nn's three, as rnnkit's drop-in layers

# Every cell a model or the command line takes by name: the stock three run as the layers above
# (fused torch.nn kernels), the others as a Recurrent layer of that cell.
CELL_TYPES: Dict[str, Type[RecurrentCell]] = {
    "lstm": LSTMCell,
    "gru": GRUCell,
    "rnn": ElmanCell,
    "layernorm-lstm": LayerNormLSTMCell,
    "layernorm-gru": LayerNormGRUCell,
    "peephole-lstm": PeepholeLSTMCell,
    "indrnn": IndRNNCell,
    "mingru": MinGRUCell,
    "minlstm": MinLSTMCell,
}
CELL_NAMES: Tuple[str, ...] = tuple(CELL_TYPES)  # the choices of every model's ``cell`` and every --cell
CELL_HELP = (  # the help of every --cell option
    "Recurrent cell: lstm, gru, rnn (torch.nn's fused kernels), layernorm-lstm, layernorm-gru, peephole-lstm, "
    "indrnn, mingru or minlstm (docs/cells.md)."
)


def recurrent_layer(
    cell: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0, **kwargs
) -> Recurrent:
    """A batch-first layer of the cell named ``cell`` (one of :data:`CELL_NAMES`), as models build them.

    ``"lstm"``, ``"gru"`` and ``"rnn"`` give :class:`LSTM`, :class:`GRU`, :class:`RNN`; any other
    name a :class:`Recurrent` of that cell with its default options. ``dropout`` applies between
    stacked layers, so it is passed on only when there are several (torch.nn and rnnkit warn that it
    does nothing on one layer); ``kwargs`` go to the layer (``bidirectional``, ``engine``, the
    regularisers ``weight_drop``, ``recurrent_dropout``, ``zoneout``...).
    """
    choice("cell", cell, CELL_NAMES)
    dropout = dropout if num_layers > 1 else 0.0
    if cell in STOCK_LAYERS:
        return STOCK_LAYERS[cell](input_size, hidden_size, num_layers, batch_first=True, dropout=dropout, **kwargs)
    return Recurrent(CELL_TYPES[cell], input_size, hidden_size, num_layers, batch_first=True, dropout=dropout, **kwargs)


stock_layer = recurrent_layer  # the earlier name, when only the stock three existed

"""Cells: one step of one recurrence. See :mod:`rnnkit.cells.base` for the contract."""

from .base import RecurrentCell, State
from .elman import ElmanCell
from .gru import GRUCell
from .indrnn import IndRNNCell
from .layernorm import LayerNormGRUCell, LayerNormLSTMCell
from .lstm import LSTMCell
from .minrnn import MinGRUCell, MinLSTMCell
from .peephole import PeepholeLSTMCell

__all__ = [
    "RecurrentCell",
    "State",
    "ElmanCell",
    "LSTMCell",
    "GRUCell",
    "LayerNormLSTMCell",
    "LayerNormGRUCell",
    "PeepholeLSTMCell",
    "IndRNNCell",
    "MinGRUCell",
    "MinLSTMCell",
]

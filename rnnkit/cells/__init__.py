"""Cells: one step of one recurrence. See :mod:`rnnkit.cells.base` for the contract."""

from .base import RecurrentCell, State
from .elman import ElmanCell
from .gru import GRUCell
from .lstm import LSTMCell

__all__ = ["RecurrentCell", "State", "ElmanCell", "LSTMCell", "GRUCell"]

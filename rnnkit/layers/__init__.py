"""Layers: run cells over time (``Recurrent``, ``RNN``, ``LSTM``, ``GRU``) and the engines behind them."""

from .attention import ATTENTION_KINDS, Attention, AttentionalHidden
from .crf import LinearChainCRF, TagConstraints, bio_constraints, bioes_constraints
from .engines import ENGINES, Engine, register_engine, select_engine
from .pooling import POOLINGS, TimePooling
from .recurrent import Recurrent
from .sequences import SequenceBatch, check_lengths
from .stock import CELL_HELP, CELL_NAMES, CELL_TYPES, GRU, LSTM, RNN, STOCK_LAYERS, recurrent_layer, stock_layer

__all__ = [
    "Recurrent",
    "RNN",
    "LSTM",
    "GRU",
    "STOCK_LAYERS",
    "stock_layer",
    "recurrent_layer",
    "CELL_NAMES",
    "CELL_HELP",
    "CELL_TYPES",
    "Engine",
    "ENGINES",
    "register_engine",
    "select_engine",
    "SequenceBatch",
    "check_lengths",
    "LinearChainCRF",
    "TimePooling",
    "POOLINGS",
    "TagConstraints",
    "bio_constraints",
    "bioes_constraints",
    "Attention",
    "AttentionalHidden",
    "ATTENTION_KINDS",
]

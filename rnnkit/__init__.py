"""rnnkit: recurrent neural networks on PyTorch.

Layers drop in for torch.nn's (``rnnkit.LSTM`` for ``torch.nn.LSTM``) and add ``lengths=``, any
cell through ``rnnkit.Recurrent``, and a choice of execution engine.
"""

from .cells import ElmanCell, GRUCell, LSTMCell, RecurrentCell
from .layers import GRU, LSTM, RNN, Recurrent
from .models import ElmanRNN, LanguageModel, LanguageModelConfig

__version__ = "0.1.0"

__all__ = ["RecurrentCell", "ElmanCell", "LSTMCell", "GRUCell", "Recurrent", "RNN", "LSTM", "GRU", "ElmanRNN",
           "LanguageModel", "LanguageModelConfig"]

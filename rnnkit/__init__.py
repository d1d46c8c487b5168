"""rnnkit: recurrent neural networks on PyTorch.

Layers drop in for torch.nn's (``rnnkit.LSTM`` for ``torch.nn.LSTM``) and add ``lengths=``, any
cell through ``rnnkit.Recurrent``, and a choice of execution engine. ``rnnkit.Forecaster`` forecasts
time series (``fit(series)``, ``predict(horizon)``) and ``rnnkit.AnomalyDetector`` flags anomalies.
"""

from .cells import ElmanCell, GRUCell, LSTMCell, RecurrentCell
from .layers import GRU, LSTM, RNN, Recurrent
from .models import ElmanRNN, LanguageModel, LanguageModelConfig

from ._version import __version__

__all__ = ["RecurrentCell", "ElmanCell", "LSTMCell", "GRUCell", "Recurrent", "RNN", "LSTM", "GRU", "ElmanRNN",
           "LanguageModel", "LanguageModelConfig", "Forecaster", "ForecasterConfig", "AnomalyDetector"]

# time-series names load pandas on first use, not at `import rnnkit`
_LAZY = {"Forecaster": "rnnkit.timeseries.forecaster", "ForecasterConfig": "rnnkit.timeseries.forecaster",
         "AnomalyDetector": "rnnkit.timeseries.anomaly"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")

"""rnnkit: recurrent neural networks on PyTorch.

Layers drop in for torch.nn's (``rnnkit.LSTM`` for ``torch.nn.LSTM``) and add ``lengths=``, any
cell through ``rnnkit.Recurrent``, and a choice of execution engine. ``rnnkit.LanguageModel``
learns text and writes it; ``rnnkit.Forecaster`` forecasts time series (``fit(series)``,
``predict(horizon)``) and ``rnnkit.AnomalyDetector`` flags anomalies.

``rnnkit.load(DIR)`` loads any model rnnkit saved -- one folder format for every kind
(``config.json`` with its ``model_type`` and ``format_version``, ``model.safetensors``, the
model's own files; see ``rnnkit.models.format``) -- and returns the right model: a
``LanguageModel`` for a folder written by ``rnnkit train lm`` or ``save_pretrained``, a
``Forecaster`` for one written by ``rnnkit train forecast``. Folders saved by earlier versions
load too.
"""

from ._version import __version__
from .cells import (
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
from .layers import GRU, LSTM, RNN, Recurrent
from .models import ElmanRNN, LanguageModel, LanguageModelConfig
from .models.format import load
from .serving import StreamSession, stream

__all__ = [
    "__version__",
    "load",
    "stream",
    "StreamSession",
    "RecurrentCell",
    "ElmanCell",
    "LSTMCell",
    "GRUCell",
    "LayerNormLSTMCell",
    "LayerNormGRUCell",
    "PeepholeLSTMCell",
    "IndRNNCell",
    "MinGRUCell",
    "MinLSTMCell",
    "Recurrent",
    "RNN",
    "LSTM",
    "GRU",
    "ElmanRNN",
    "LanguageModel",
    "LanguageModelConfig",
    "Forecaster",
    "ForecasterConfig",
    "AnomalyDetector",
]

# time-series names load pandas on first use, not at `import rnnkit`
_LAZY = {
    "Forecaster": "rnnkit.timeseries.forecaster",
    "ForecasterConfig": "rnnkit.timeseries.forecaster",
    "AnomalyDetector": "rnnkit.timeseries.anomaly",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")

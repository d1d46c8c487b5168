"""Every public model and forecaster constructor refuses a wrong argument with a UserError naming it.

One table: the call, the error type (InvalidTypeError for a wrong type, InvalidValueError for a
value out of range or not among the choices) and the message, which names the argument and what
it must be. The layers' and cells' table is in tests/layers/test_validation.py.
"""

import re

import numpy as np
import pytest
import torch

from rnnkit._checks import InvalidTypeError, InvalidValueError, UserError
from rnnkit.models import ElmanRNN, LanguageModel, LanguageModelConfig
from rnnkit.timeseries import AnomalyDetector, Forecaster, ForecasterConfig

CASES = [
    # ElmanRNN
    (lambda: ElmanRNN("3", 4, 2), InvalidTypeError, r"input_size must be an int >= 1, got str '3'"),
    (lambda: ElmanRNN(3, 4.5, 2), InvalidTypeError, r"hidden_size must be an int >= 1, got float 4.5"),
    (lambda: ElmanRNN(3, 4, None), InvalidTypeError, r"output_size must be an int >= 1, got NoneType None"),
    (lambda: ElmanRNN(3, 4, -2), InvalidValueError, r"output_size must be an int >= 1, got -2"),
    (lambda: ElmanRNN(3, 4, torch.tensor(2)), InvalidTypeError, r"output_size must be an int >= 1, got a tensor"),
    (
        lambda: ElmanRNN(3, 4, 2, nonlinearity="sigmoid"),
        InvalidValueError,
        r"nonlinearity must be 'tanh' or 'relu', got 'sigmoid'",
    ),
    (
        lambda: ElmanRNN(3, 4, 2, batch_first="True"),
        InvalidTypeError,
        r"batch_first must be True or False, got str 'True'",
    ),
    (lambda: ElmanRNN(3, 4, 2, engine="turbo"), InvalidValueError, r"engine must be one of .* got 'turbo'"),
    # LanguageModelConfig
    (lambda: LanguageModelConfig("65"), InvalidTypeError, r"vocab_size must be an int >= 1, got str '65'"),
    (lambda: LanguageModelConfig(0), InvalidValueError, r"vocab_size must be an int >= 1, got 0"),
    (
        lambda: LanguageModelConfig(65, cell="LSTM"),
        InvalidValueError,
        r"cell must be one of \['lstm', 'gru', 'rnn', .*'minlstm'\], got 'LSTM'",
    ),
    (lambda: LanguageModelConfig(65, cell=None), InvalidValueError, r"cell must be one of .* got None"),
    (
        lambda: LanguageModelConfig(65, hidden_size=256.0),
        InvalidTypeError,
        r"hidden_size must be an int >= 1, got float 256.0",
    ),
    (
        lambda: LanguageModelConfig(65, embedding_size=True),
        InvalidTypeError,
        r"embedding_size must be an int >= 1, got bool True",
    ),
    (lambda: LanguageModelConfig(65, num_layers=-1), InvalidValueError, r"num_layers must be an int >= 1, got -1"),
    (lambda: LanguageModelConfig(65, dropout=1.0), InvalidValueError, r"dropout must be a number in \[0, 1\), got 1.0"),
    (
        lambda: LanguageModelConfig(65, dropout="0.1"),
        InvalidTypeError,
        r"dropout must be a number in \[0, 1\), got str '0.1'",
    ),
    (lambda: LanguageModelConfig(65, tie_weights=1), InvalidTypeError, r"tie_weights must be True or False, got int 1"),
    (
        lambda: LanguageModelConfig(65, condition_size=-3),
        InvalidValueError,
        r"condition_size must be an int >= 0, got -3",
    ),
    (lambda: LanguageModelConfig.from_dict([65]), InvalidTypeError, r"a config is a dict, got list"),
    (
        lambda: LanguageModelConfig.from_dict({"vocab_size": 65, "size": 3}),
        InvalidValueError,
        r"unknown config fields \['size'\]",
    ),
    (
        lambda: LanguageModelConfig.from_dict({"cell": "gru"}),
        InvalidValueError,
        r"the config lacks the fields \['vocab_size'\]",
    ),
    # LanguageModel
    (lambda: LanguageModel(None), InvalidTypeError, r"config must be a LanguageModelConfig, got NoneType"),
    (lambda: LanguageModel({"vocab_size": 65}), InvalidTypeError, r"config must be a LanguageModelConfig, got dict"),
    (
        lambda: LanguageModel(LanguageModelConfig(65, embedding_size=8, hidden_size=8, num_layers=1), vocab="abc"),
        InvalidTypeError,
        r"vocab must be a rnnkit Vocabulary, got str",
    ),
    # ForecasterConfig
    (lambda: ForecasterConfig(seed=-1), InvalidValueError, r"seed must be an int >= 0, got -1"),
    (lambda: ForecasterConfig(seed=1.5), InvalidTypeError, r"seed must be an int >= 0, got float 1.5"),
    (lambda: ForecasterConfig(seed=None), InvalidTypeError, r"seed must be an int >= 0, got NoneType None"),
    (lambda: ForecasterConfig(horizon="12"), InvalidTypeError, r"horizon must be an int >= 1, got str '12'"),
    (lambda: ForecasterConfig(horizon=0), InvalidValueError, r"horizon must be an int >= 1, got 0"),
    (
        lambda: ForecasterConfig(hidden_size=np.float64(8)),
        InvalidTypeError,
        r"hidden_size must be an int >= 1, got float64",
    ),
    (
        lambda: ForecasterConfig(input_length=-3),
        InvalidValueError,
        r"input_length \(0 = auto\) must be an int >= 1, got -3",
    ),
    (
        lambda: ForecasterConfig(cell="transformer"),
        InvalidValueError,
        r"cell must be one of \['lstm', 'gru', 'rnn', .*'minlstm'\], got 'transformer'",
    ),
    (
        lambda: ForecasterConfig(strategy=None),
        InvalidValueError,
        r"strategy must be one of \['direct', 'autoregressive'\], got None",
    ),
    (lambda: ForecasterConfig(head="normal"), InvalidValueError, r"head must be one of .* got 'normal'"),
    (lambda: ForecasterConfig(level=1.0), InvalidValueError, r"level must be a number in \(0, 1\), got 1.0"),
    (lambda: ForecasterConfig(dropout=-0.1), InvalidValueError, r"dropout must be a number in \[0, 1\], got -0.1"),
    (lambda: ForecasterConfig(lr=0), InvalidValueError, r"lr must be a finite number > 0, got 0"),
    (lambda: ForecasterConfig(lr="1e-3"), InvalidTypeError, r"lr must be a number > 0, got str '1e-3'"),
    (lambda: ForecasterConfig(clip=float("inf")), InvalidValueError, r"clip must be a finite number > 0, got inf"),
    (lambda: ForecasterConfig(epochs=2.0), InvalidTypeError, r"epochs must be an int >= 1, got float 2.0"),
    (
        lambda: ForecasterConfig(val_fraction=0.9),
        InvalidValueError,
        r"val_fraction must be a number in \[0, 0.5\], got 0.9",
    ),
    (
        lambda: ForecasterConfig(window_norm="yes"),
        InvalidTypeError,
        r"window_norm must be True or False, got str 'yes'",
    ),
    (lambda: ForecasterConfig(calendar=0), InvalidTypeError, r"calendar must be True or False, got int 0"),
    (
        lambda: ForecasterConfig(highway_init="zeros"),
        InvalidValueError,
        r"highway_init must be one of \['ridge', 'random'\]",
    ),
    (lambda: ForecasterConfig(head_warmup=-1), InvalidValueError, r"head_warmup must be an int >= 0, got -1"),
    # Forecaster and AnomalyDetector
    (lambda: Forecaster({"horizon": 3}), InvalidTypeError, r"config must be a ForecasterConfig, got dict"),
    (lambda: Forecaster(12), InvalidTypeError, r"config must be a ForecasterConfig, got int 12"),
    (
        lambda: AnomalyDetector(None),
        InvalidTypeError,
        r"forecaster must be a rnnkit.timeseries.Forecaster, got NoneType None",
    ),
    (
        lambda: AnomalyDetector(ForecasterConfig()),
        InvalidTypeError,
        r"forecaster must be a rnnkit.timeseries.Forecaster, got ForecasterConfig",
    ),
    (
        lambda: AnomalyDetector(Forecaster(), method="iforest"),
        InvalidValueError,
        r"method must be one of \['robust_z', 'quantile'\], got 'iforest'",
    ),
    (
        lambda: AnomalyDetector(Forecaster(), threshold=-1),
        InvalidValueError,
        r"threshold must be a finite number > 0, got -1",
    ),
    (
        lambda: AnomalyDetector(Forecaster(), threshold="4"),
        InvalidTypeError,
        r"threshold must be a number > 0, got str '4'",
    ),
    (
        lambda: AnomalyDetector(Forecaster(), method="quantile", threshold=3.0),
        InvalidValueError,
        r"for method='quantile' the threshold is a quantile level in \(0, 1\), got 3.0",
    ),
    (
        lambda: AnomalyDetector(Forecaster(), impute="no"),
        InvalidTypeError,
        r"impute must be True or False, got str 'no'",
    ),
    (
        lambda: AnomalyDetector(Forecaster(), impute=None),
        InvalidTypeError,
        r"impute must be True or False, got NoneType None",
    ),
]


@pytest.mark.parametrize(
    "make,error,pattern", CASES, ids=lambda v: re.sub(r"\W+", "_", v)[:50] if isinstance(v, str) else ""
)
def test_a_wrong_argument_is_a_user_error_naming_it(make, error, pattern):
    with pytest.raises(error, match=pattern) as caught:
        make()
    assert isinstance(caught.value, UserError)


def test_the_same_arguments_of_the_right_type_are_accepted():
    assert ElmanRNN(3, 4, np.int64(2), batch_first=True).out.out_features == 2
    assert LanguageModel(LanguageModelConfig(65, "gru", 8, 8, 1, 0.1, True, 2)).config.cell == "gru"
    assert ForecasterConfig(seed=0, horizon=np.int32(3), lr=np.float32(1e-3)).seed == 0
    detector = AnomalyDetector(Forecaster(ForecasterConfig(horizon=2)), method="quantile", threshold=0.99, impute=False)
    assert detector.impute is False and detector.threshold_param == 0.99

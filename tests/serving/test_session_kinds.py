"""Sessions over the other model kinds: running classification, tagging, layers with any cell."""

import functools

import pytest
import torch

import rnnkit
from rnnkit._checks import InvalidValueError
from rnnkit.cells import RecurrentCell
from rnnkit.layers import STOCK_LAYERS, Recurrent
from rnnkit.layers.pooling import POOLINGS
from rnnkit.models import ClassifierConfig, ElmanRNN, SequenceClassifier, SequenceTagger, TaggerConfig
from rnnkit.serving import stream

V = 9


def classifier(pooling="attention", cell="lstm", **kw):
    base = dict(vocab_size=V, embedding_size=6, hidden_size=7, num_layers=2, cell=cell, bidirectional=False)
    base.update(dropout=0.0, labels=["a", "b", "c"], pooling=pooling)
    base.update(kw)
    return SequenceClassifier(ClassifierConfig(**base)).eval()


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("multi_label", [False, True])
def test_running_class_probabilities_equal_the_prefix_predictions(pooling, multi_label):
    model = classifier(pooling, multi_label=multi_label)
    x = torch.randint(1, V, (2, 9))
    running = stream(model, 2).run(x)  # (B, T, K)
    for t in range(x.shape[1]):
        torch.testing.assert_close(running[:, t], model.predict_proba(x[:, : t + 1]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell", sorted(STOCK_LAYERS))
def test_real_valued_classifier_streams_for_every_cell(cell):
    model = classifier("mean", cell, vocab_size=0, input_size=3)
    x = torch.randn(2, 6, 3)
    running = stream(model, 2).run(x)
    torch.testing.assert_close(running[:, -1], model.predict_proba(x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("crf", [False, True])
def test_tagger_scores_equal_the_full_run(crf):
    config = TaggerConfig(
        vocab_size=V, embedding_size=6, hidden_size=7, bidirectional=False, dropout=0.0, tags=["O", "X"], crf=crf
    )
    model = SequenceTagger(config).eval()
    x = torch.randint(1, V, (3, 11))
    torch.testing.assert_close(stream(model, 3).run(x), model(x), atol=1e-6, rtol=0)


def test_models_that_read_the_future_are_refused_saying_why():
    with pytest.raises(InvalidValueError, match="bidirectional"):
        stream(classifier(bidirectional=True))
    with pytest.raises(InvalidValueError, match="future elements"):
        stream(classifier(conv_layers=1))


class DecayCell(RecurrentCell):
    """A custom cell (not a stock one): h_t = tanh(W x_t) + 0.5 h_{t-1}; only the loop engine runs it."""

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size)
        self.weight_ih = torch.nn.Parameter(torch.randn(hidden_size, input_size))

    def project_input(self, x, w):
        return torch.tanh(x @ w.weight_ih.T)

    def recur(self, px, state, w):
        h = px + 0.5 * state
        return h, h


@pytest.mark.parametrize("factory", ["stock", "custom"])
def test_any_layer_streams(factory):
    if factory == "custom":
        layer = Recurrent(DecayCell, 3, 5, num_layers=2, batch_first=True).eval()
    else:
        layer = rnnkit.GRU(3, 5, num_layers=2).eval()  # time-major, as torch.nn
    x = torch.randn(2, 7, 3)
    full, _ = layer(x if layer.batch_first else x.transpose(0, 1))
    full = full if layer.batch_first else full.transpose(0, 1)
    torch.testing.assert_close(stream(layer, 2).run(x), full, atol=1e-6, rtol=0)


def test_extended_cells_stream_if_the_registry_has_them():
    """Every cell class rnnkit exports (A adds them to rnnkit.cells) streams through a layer."""
    cells = [getattr(rnnkit.cells, n) for n in rnnkit.cells.__all__ if n.endswith("Cell") and n != "RecurrentCell"]
    x = torch.randn(2, 6, 3)
    for cls in cells:
        layer = Recurrent(functools.partial(cls), 3, 4, num_layers=2, batch_first=True).eval()
        full, _ = layer(x)
        torch.testing.assert_close(stream(layer, 2).run(x), full, atol=1e-6, rtol=0, msg=cls.__name__)


def test_the_elman_model_streams():
    model = ElmanRNN(3, 5, 2, batch_first=True).eval()
    x = torch.randn(2, 8, 3)
    torch.testing.assert_close(stream(model, 2).run(x), model(x)[0], atol=1e-6, rtol=0)

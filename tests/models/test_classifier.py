"""SequenceClassifier: padding invariance, pooling by hand, learning a separable task, save/load."""

import itertools

import pytest
import torch

from rnnkit._checks import InvalidValueError
from rnnkit.layers.pooling import TimePooling
from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier


def config(**kw):
    base = dict(vocab_size=12, embedding_size=8, hidden_size=6, labels=["a", "b", "c"], dropout=0.0)
    base.update(kw)
    return ClassifierConfig(**base)


GRID = list(itertools.product(["last", "mean", "max", "attention"], [False, True], ["lstm", "gru", "rnn"], [0, 2]))


@pytest.mark.parametrize("pooling, bidirectional, cell, conv", GRID)
def test_padding_never_changes_a_prediction(pooling, bidirectional, cell, conv):
    torch.manual_seed(0)
    model = SequenceClassifier(
        config(pooling=pooling, bidirectional=bidirectional, cell=cell, conv_layers=conv, conv_channels=5)
    ).eval()
    seqs = [torch.randint(1, 12, (n,)) for n in (5, 2, 7, 1)]
    alone = torch.cat([model(s.unsqueeze(0)) for s in seqs])
    padded = torch.zeros(4, 9, dtype=torch.long)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
        padded[i, len(s) :] = torch.randint(1, 12, (9 - len(s),))  # garbage, not zeros, past the end
    together = model(padded, torch.tensor([len(s) for s in seqs]))
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


def test_real_valued_input_is_padding_invariant_too():
    torch.manual_seed(1)
    model = SequenceClassifier(
        ClassifierConfig(input_size=3, embedding_size=4, hidden_size=5, labels=["x", "y"], conv_layers=1, dropout=0)
    ).eval()
    a, b = torch.randn(1, 6, 3), torch.randn(1, 3, 3)
    batch = torch.randn(2, 6, 3)
    batch[0], batch[1, :3] = a[0], b[0]
    out = model(batch, torch.tensor([6, 3]))
    torch.testing.assert_close(out, torch.cat([model(a), model(b)]), rtol=1e-5, atol=1e-6)


def test_the_poolings_equal_their_equations():
    torch.manual_seed(2)
    h = torch.randn(2, 4, 6)
    lengths = torch.tensor([4, 2])
    mean, _ = TimePooling("mean", 6)(h, lengths)
    torch.testing.assert_close(mean[1], h[1, :2].mean(0))
    mx, _ = TimePooling("max", 6)(h, lengths)
    torch.testing.assert_close(mx[1], h[1, :2].max(0).values)
    last, _ = TimePooling("last", 6, bidirectional=True)(h, lengths)
    torch.testing.assert_close(last[1], torch.cat([h[1, 1, :3], h[1, 0, 3:]]))
    att = TimePooling("attention", 6)
    pooled, w = att(h, lengths)
    e = att.score(torch.tanh(att.project(h[1, :2]))).squeeze(-1)
    a = torch.softmax(e, 0)
    torch.testing.assert_close(w[1, :2], a)
    assert torch.equal(w[1, 2:], torch.zeros(2))  # exactly zero weight on padding
    torch.testing.assert_close(pooled[1], (a.unsqueeze(-1) * h[1, :2]).sum(0))


def test_a_separable_task_is_learned_to_100_percent():
    """Class = whether token 3 occurs (anywhere, any length): needs memory across the sequence."""
    torch.manual_seed(3)
    n, T = 64, 10
    lengths = torch.randint(3, T + 1, (n,))
    x = torch.randint(4, 12, (n, T))
    y = torch.randint(0, 2, (n,))
    for i in range(n):
        if y[i]:
            x[i, torch.randint(0, int(lengths[i]), (1,))] = 3
    model = SequenceClassifier(config(labels=["no", "yes"], pooling="max", hidden_size=16))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        model.loss(model(x, lengths), y).backward()
        opt.step()
    model.eval()
    assert (model(x, lengths).argmax(-1) == y).float().mean() == 1.0


def test_multi_label_uses_sigmoids():
    model = SequenceClassifier(config(labels=["p", "q"], multi_label=True)).eval()
    x = torch.randint(1, 12, (3, 4))
    p = model.predict_proba(x)
    assert p.shape == (3, 2) and not torch.allclose(p.sum(-1), torch.ones(3))
    loss = model.loss(model(x), torch.tensor([[1, 0], [1, 1], [0, 0]]))
    assert loss.item() > 0


def test_save_load_gives_identical_predictions(tmp_path):
    import rnnkit
    from rnnkit.data.vocab import Vocabulary

    vocab = Vocabulary.from_text("abcdefghij", level="char")
    torch.manual_seed(4)
    model = SequenceClassifier(config(vocab_size=len(vocab), conv_layers=1), vocab).eval()
    x = torch.randint(1, len(vocab), (3, 5))
    model.save_pretrained(tmp_path / "m")
    back = rnnkit.load(tmp_path / "m")
    assert isinstance(back, SequenceClassifier) and back.config == model.config
    assert torch.equal(back(x), model(x)) and back.vocab.to_json() == vocab.to_json()


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(labels=["only"]), "at least 2 labels"),
        (dict(labels=["a", "a"]), "distinct"),
        (dict(pooling="sum"), "pooling"),
        (dict(vocab_size=0), "exactly one of vocab_size"),
        (dict(input_size=3), "exactly one of vocab_size"),
        (dict(conv_layers=1, conv_kernel=4), "odd"),
    ],
)
def test_bad_configs_are_named(kw, pattern):
    with pytest.raises((InvalidValueError, TypeError), match=pattern):
        config(**kw)


def test_bad_inputs_are_named():
    model = SequenceClassifier(config())
    with pytest.raises(InvalidValueError, match="token ids"):
        model(torch.randn(2, 3))
    with pytest.raises(InvalidValueError, match="lengths"):
        model(torch.ones(2, 3, dtype=torch.long), torch.tensor([4, 1]))

"""Token saliency: zero where the model does not look, completeness, and Captum as the reference."""

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit._checks import InvalidValueError
from rnnkit.diagnostics.saliency import token_saliency


class OnePosition(nn.Module):
    """Embedding -> keep position `pos` only -> LSTM -> last step -> 3 logits."""

    def __init__(self, pos: int):
        super().__init__()
        self.pos = pos
        self.embed = nn.Embedding(20, 6)
        self.rnn = rnnkit.LSTM(6, 8, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        e = self.embed(x)
        keep = torch.zeros(1, x.shape[1], 1)
        keep[0, self.pos] = 1
        out, _ = self.rnn(e * keep)
        return self.head(out[:, -1])


@pytest.mark.parametrize("method", ["grad_x_input", "integrated_gradients"])
def test_a_model_that_reads_one_position_has_zero_saliency_elsewhere(method):
    torch.manual_seed(0)
    model = OnePosition(pos=2)
    x = torch.randint(1, 20, (4, 7))
    a = token_saliency(model, model.embed, lambda m: m(x)[:, 1], method=method)
    assert a.shape == (4, 7)
    others = torch.cat([a[:, :2], a[:, 3:]], dim=1)
    assert torch.equal(others, torch.zeros_like(others))
    assert (a[:, 2].abs() > 1e-6).all()


def test_integrated_gradients_are_complete():
    torch.manual_seed(1)
    from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier  # the library's own classifier

    config = ClassifierConfig(vocab_size=30, labels=["neg", "pos"], embedding_size=8, hidden_size=8)
    clf = SequenceClassifier(config)
    x = torch.randint(1, 30, (3, 9))
    a = token_saliency(clf, clf.encoder.embed, lambda m: m(x)[:, 0], steps=50)
    clf.eval()
    with torch.no_grad():
        full = clf(x)[:, 0]
        hook = clf.encoder.embed.register_forward_hook(lambda mod, args, out: torch.zeros_like(out))
        base = clf(x)[:, 0]
        hook.remove()
    torch.testing.assert_close(a.sum(dim=1), full - base, atol=2e-3, rtol=1e-2)


@pytest.mark.parametrize("method", ["grad_x_input", "integrated_gradients"])
def test_same_as_captum(method):
    captum = pytest.importorskip("captum.attr")
    torch.manual_seed(2)
    model = OnePosition(pos=4)
    model.pos = None  # read every position
    model.forward = lambda x: model.head(model.rnn(model.embed(x))[0][:, -1])
    x = torch.randint(1, 20, (2, 6))
    ours = token_saliency(model, model.embed, lambda m: m(x)[:, 0], method=method, steps=16)
    if method == "grad_x_input":
        ref = captum.LayerGradientXActivation(lambda x: model(x)[:, 0], model.embed).attribute(x)
    else:
        lig = captum.LayerIntegratedGradients(lambda x: model(x)[:, 0], model.embed)
        ref = lig.attribute(x, baselines=torch.zeros_like(x), n_steps=16, method="riemann_middle")
        # captum's baseline is the embedding of token 0; ours is the zero vector: use a zero padding row
    if method == "integrated_gradients":
        with torch.no_grad():
            model.embed.weight[0].zero_()
        lig = captum.LayerIntegratedGradients(lambda x: model(x)[:, 0], model.embed)
        ref = lig.attribute(x, baselines=torch.zeros_like(x), n_steps=16, method="riemann_middle")
        ours = token_saliency(model, model.embed, lambda m: m(x)[:, 0], method=method, steps=16)
    torch.testing.assert_close(ours, ref.sum(dim=-1), rtol=1e-4, atol=1e-6)


def test_refusals():
    model = OnePosition(pos=0)
    x = torch.randint(1, 20, (2, 3))
    with pytest.raises(InvalidValueError, match="method"):
        token_saliency(model, model.embed, lambda m: m(x)[:, 0], method="lime")
    with pytest.raises(InvalidValueError, match="not a module"):
        token_saliency(model, nn.Embedding(3, 3), lambda m: m(x)[:, 0])
    with pytest.raises(InvalidValueError, match="never called the embedding"):
        token_saliency(model, model.embed, lambda m: torch.zeros(2))

"""SequenceTagger: both directions by hand, padding invariance, CRF and softmax learning, BIO decoding."""

import pytest
import torch

from rnnkit.models.tagger import SequenceTagger, TaggerConfig

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def config(**kw):
    base = dict(vocab_size=20, embedding_size=8, hidden_size=6, tags=TAGS, dropout=0.0)
    base.update(kw)
    return TaggerConfig(**base)


def test_bidirectional_outputs_equal_a_hand_run_of_both_directions():
    torch.manual_seed(0)
    model = SequenceTagger(config(crf=False)).eval()
    rnn = model.encoder.rnn
    forward, backward = torch.nn.LSTM(8, 6, batch_first=True), torch.nn.LSTM(8, 6, batch_first=True)
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        getattr(forward, name).data.copy_(getattr(rnn, name))
        getattr(backward, name).data.copy_(getattr(rnn, name + "_reverse"))
    x = torch.randint(1, 20, (2, 7))
    lengths = torch.tensor([7, 4])
    outputs, _ = model.encoder(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        e = model.encoder.embed(x[b : b + 1, :n])
        fwd, _ = forward(e)
        bwd, _ = backward(e.flip(1))
        expected = torch.cat([fwd, bwd.flip(1)], -1)[0]
        torch.testing.assert_close(outputs[b, :n], expected, rtol=1e-5, atol=1e-6)
        assert torch.equal(outputs[b, n:], torch.zeros_like(outputs[b, n:]))


@pytest.mark.parametrize("crf", [False, True])
def test_padding_changes_no_decoded_tag_and_no_loss(crf):
    torch.manual_seed(1)
    model = SequenceTagger(config(crf=crf, conv_layers=1, conv_channels=4)).eval()
    seqs = [torch.randint(1, 20, (n,)) for n in (6, 1, 3)]
    tags = [torch.randint(0, 5, (len(s),)) for s in seqs]
    x = torch.randint(1, 20, (3, 8))  # garbage past each end
    y = torch.randint(0, 5, (3, 8))
    for i, (s, t) in enumerate(zip(seqs, tags)):
        x[i, : len(s)], y[i, : len(s)] = s, t
    lengths = torch.tensor([len(s) for s in seqs])
    assert model.decode(x, lengths) == [model.decode(s.unsqueeze(0))[0] for s in seqs]
    assert [len(d) for d in model.decode(x, lengths)] == [6, 1, 3]
    if crf:  # the mean NLL per sentence: the mean of the sentences alone
        alone = torch.stack([model.loss(s.unsqueeze(0), t.unsqueeze(0)) for s, t in zip(seqs, tags)]).mean()
        torch.testing.assert_close(model.loss(x, y, lengths), alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("crf", [False, True])
def test_a_tiny_tagging_task_is_learned(crf):
    """Tag = B-PER on token 1, I-PER on a 2 right after it, O elsewhere: needs the left context."""
    torch.manual_seed(2)
    x = torch.randint(2, 10, (48, 8))
    x[:, ::3] = 1
    x[:, 1::3] = torch.where(torch.rand(48, 3) < 0.5, 2, x[:, 1::3])
    y = torch.zeros_like(x)
    y[x == 1] = 1
    y[:, 1:][(x[:, 1:] == 2) & (x[:, :-1] == 1)] = 2
    model = SequenceTagger(config(crf=crf, scheme="bio" if crf else "none", hidden_size=12))
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(120):
        opt.zero_grad()
        model.loss(x, y).backward()
        opt.step()
    model.eval()
    assert torch.tensor(model.decode(x)).eq(y).all()


def test_bio_crf_never_outputs_an_inside_tag_after_outside():
    torch.manual_seed(3)
    model = SequenceTagger(config(scheme="bio")).eval()
    with torch.no_grad():
        model.emit.bias.copy_(torch.tensor([0.0, 0.0, 5.0, 0.0, 5.0]))  # I- tags favoured everywhere
    for path in model.decode(torch.randint(1, 20, (16, 9))):
        names = [TAGS[t] for t in path]
        assert not names[0].startswith("I-")
        for prev, tag in zip(names, names[1:]):
            if tag.startswith("I-"):
                assert prev in ("B-" + tag[2:], tag), names


def test_save_load_gives_identical_decoding(tmp_path):
    import rnnkit
    from rnnkit.data.vocab import Vocabulary

    vocab = Vocabulary.from_text("abcdefghijklmnopq", level="char")
    model = SequenceTagger(config(vocab_size=len(vocab), scheme="bio"), vocab).eval()
    x = torch.randint(1, len(vocab), (4, 6))
    model.save_pretrained(tmp_path / "t")
    back = rnnkit.load(tmp_path / "t")
    assert isinstance(back, SequenceTagger) and back.decode(x) == model.decode(x)
    torch.testing.assert_close(back(x), model(x), rtol=0, atol=0)


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="scheme"):
        config(scheme="iob9")
    with pytest.raises(ValueError, match="at least 2"):
        config(tags=["O"])

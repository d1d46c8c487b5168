"""Seq2Seq: the bridge for every encoder/decoder combination, masks, per-token scheduled sampling,
a copy task learned to 100% exact match, save/load."""

import itertools

import pytest
import torch

from rnnkit.models.scheduled_sampling import SamplingSchedule, TeacherForcing
from rnnkit.models.seq2seq import BOS, EOS, Seq2Seq, Seq2SeqConfig


def config(**kw):
    base = dict(source_vocab_size=12, target_vocab_size=10, embedding_size=8, hidden_size=6, dropout=0.0)
    base.update(kw)
    return Seq2SeqConfig(**base)


GRID = list(itertools.product(["lstm", "gru", "rnn"], [False, True], [1, 2], ["projection", "zeros"]))


@pytest.mark.parametrize("cell, bidirectional, layers, bridge", GRID)
def test_the_bridge_and_a_step_have_the_right_shapes(cell, bidirectional, layers, bridge):
    model = Seq2Seq(
        config(cell=cell, bidirectional_encoder=bidirectional, num_layers=layers, bridge=bridge, attention="general")
    ).eval()
    src = torch.randint(4, 12, (3, 5))
    enc = model.encode(src, torch.tensor([5, 2, 4]))
    assert enc.memory.shape == (3, 5, 6 * (2 if bidirectional else 1))
    state = model.start(enc)
    assert len(state.layers) == layers
    for s in state.layers:
        for t in s if isinstance(s, tuple) else (s,):
            assert t.shape == (3, 6)
            if bridge == "zeros":
                assert not t.any()
    beams = Seq2Seq.expand_state(state, 4)
    log_probs, beams, weights = model.step(torch.full((3, 4), BOS), beams, enc)
    assert log_probs.shape == (3, 4, 10) and weights.shape == (3, 4, 5)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 4))
    assert torch.equal(weights[1, :, 2:], torch.zeros(4, 3))  # padded source positions: exactly zero


def test_bidirectional_bridge_uses_both_final_states():
    torch.manual_seed(0)
    model = Seq2Seq(config(bidirectional_encoder=True, cell="gru", attention="none")).eval()
    src = torch.randint(4, 12, (2, 4))
    enc = model.encode(src)
    h = enc.final  # (2, B, H): forward, backward
    expected = torch.tanh(model.bridge_h(torch.cat([h[0], h[1]], -1)))
    torch.testing.assert_close(model.start(enc).layers[0], expected)


def test_padding_changes_no_output():
    torch.manual_seed(1)
    model = Seq2Seq(config(input_feeding=True)).eval()
    a, b = torch.randint(4, 12, (1, 6)), torch.randint(4, 12, (1, 3))
    src = torch.randint(4, 12, (2, 6))
    src[0], src[1, :3] = a[0], b[0]
    tgt = torch.randint(4, 10, (2, 4))
    tgt[:, 0] = BOS
    both = model(src, torch.tensor([6, 3]), tgt)
    torch.testing.assert_close(both[0], model(a, None, tgt[:1])[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(both[1], model(b, None, tgt[1:])[0], rtol=1e-5, atol=1e-6)


def test_scheduled_sampling_flips_one_coin_per_token():
    """With eps = 0.3, about 30% of the decoder's inputs after the first are the ground truth, and
    the choice varies within a sequence (not one coin per sequence)."""
    torch.manual_seed(2)
    model = Seq2Seq(config(attention="none")).eval()
    fed = []
    original = model.step

    def spy(prev, state, enc):
        fed.append(prev[:, 0].clone())
        return original(prev, state, enc)

    model.step = spy
    B, T = 400, 6
    tgt = torch.randint(4, 10, (B, T))
    tgt[:, 0] = BOS
    with torch.no_grad():
        model(torch.randint(4, 12, (B, 5)), None, tgt, TeacherForcing(SamplingSchedule("constant", ratio=0.3), seed=0))
    inputs = torch.stack(fed, 1)[:, 1:]  # (B, T-1): what each step after the first was fed
    truth = tgt[:, 1:]
    from_truth = (inputs == truth).float()
    # predictions can coincide with the truth by chance: the share is at least 30%, well below 100%
    assert 0.25 < from_truth.mean().item() < 0.6
    per_sequence = from_truth.mean(1)
    assert ((per_sequence > 0) & (per_sequence < 1)).float().mean() > 0.5  # mixed within sequences


def test_save_load_gives_identical_outputs(tmp_path):
    import rnnkit
    from rnnkit.data.vocab import Vocabulary
    from rnnkit.models.seq2seq import SPECIALS

    src_vocab = Vocabulary.from_text("abcdefgh", level="char", specials=SPECIALS)
    tgt_vocab = Vocabulary.from_text("xyz", level="char", specials=SPECIALS)
    model = Seq2Seq(
        config(source_vocab_size=len(src_vocab), target_vocab_size=len(tgt_vocab), input_feeding=True),
        src_vocab,
        tgt_vocab,
    ).eval()
    model.save_pretrained(tmp_path / "m")
    back = rnnkit.load(tmp_path / "m")
    src = torch.randint(4, len(src_vocab), (2, 5))
    tgt = torch.tensor([[BOS, 4, 5], [BOS, 6, 4]])
    assert isinstance(back, Seq2Seq) and torch.equal(back(src, None, tgt), model(src, None, tgt))


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(attention="dot"), "dot attention needs"),
        (dict(share_embeddings=True), "one vocabulary"),
        (dict(tie_output=True), "embedding_size == hidden_size"),
        (dict(attention="none", input_feeding=True), "needs attention"),
        (dict(bridge="copy"), "bridge"),
    ],
)
def test_bad_configs_are_named(kw, pattern):
    with pytest.raises(ValueError, match=pattern):
        config(**kw)


def test_a_copy_task_is_learned_to_exact_match():
    from rnnkit.models.seq2seq.decoding import greedy_decode

    torch.manual_seed(3)
    model = Seq2Seq(config(source_vocab_size=8, target_vocab_size=8, hidden_size=24, embedding_size=12))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    lengths = torch.randint(2, 5, (64,))
    src = torch.zeros(64, 4, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        src[i, :n] = torch.randint(4, 8, (n,))
    tgt_in = torch.zeros(64, 5, dtype=torch.long)
    tgt_out = torch.zeros(64, 5, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        tgt_in[i, : n + 1] = torch.cat([torch.tensor([BOS]), src[i, :n]])
        tgt_out[i, : n + 1] = torch.cat([src[i, :n], torch.tensor([EOS])])
    for _ in range(150):
        opt.zero_grad()
        model.loss(model(src, lengths, tgt_in), tgt_out).backward()
        opt.step()
    model.eval()
    hyps = greedy_decode(model, src, lengths, max_length=6)
    right = sum(h.tokens == src[i, :n].tolist() for i, (h, n) in enumerate(zip(hyps, lengths.tolist())))
    assert right == 64

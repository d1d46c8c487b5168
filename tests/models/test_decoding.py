"""Greedy and beam decoding against fake models with the Seq2Seq decoding interface.

Two fakes, independent of the real model: ``ToyModel``, a fixed random recurrent "translator"
(state carried per hypothesis, attention over a padded source, so a wrong reorder or a copied
encoder shows), and ``BigramModel``, whose next-token distribution depends only on the previous
token (scripted scenarios with known answers). ``exhaustive`` scores every output sequence by
teacher forcing, the reference that beam search must match.
"""

import itertools
import math
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit._checks import InvalidTypeError, InvalidValueError
from rnnkit.models.seq2seq.decoding import Hypothesis, beam_search, greedy_decode

PAD, BOS, EOS = 0, 1, 2
A, B_, C = 3, 4, 5  # the ordinary target tokens of the scripted model


@dataclass
class ToyEncoded:
    memory: torch.Tensor  # (B, S, H)
    mask: torch.Tensor  # (B, S) bool


@dataclass
class ToyState:
    h: torch.Tensor  # (rows, H)


class ToyModel(nn.Module):
    """``h_t = tanh(h_{t-1} W + E[y_{t-1}] + attend(h_{t-1}))``, ``log p = log_softmax(h_t U + b)``."""

    def __init__(self, n_tokens=3, hidden=8, seed=0, max_target_length=4, eos_bias=0.0, dtype=torch.float64):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        V = 3 + n_tokens  # PAD, BOS, EOS, then the tokens
        self.emb = torch.randn(V, hidden, generator=g, dtype=dtype)
        self.src_emb = torch.randn(10, hidden, generator=g, dtype=dtype)
        self.W = torch.randn(hidden, hidden, generator=g, dtype=dtype) * 0.6
        self.U = torch.randn(hidden, V, generator=g, dtype=dtype) * 1.5
        self.bias = torch.zeros(V, dtype=dtype)
        self.bias[EOS] = eos_bias
        self.hidden = hidden
        self.config = SimpleNamespace(max_target_length=max_target_length)
        self.pad_id, self.bos_id, self.eos_id = PAD, BOS, EOS
        self.encode_calls = 0
        self.steps = 0
        self.modes = set()

    def encode(self, src, src_lengths):
        self.encode_calls += 1
        S = src.shape[1]
        mask = torch.arange(S)[None, :] < torch.as_tensor(src_lengths)[:, None]
        return ToyEncoded(self.src_emb[src], mask)

    def start(self, enc):
        m = enc.mask[..., None].to(enc.memory.dtype)
        return ToyState(torch.tanh((enc.memory * m).sum(1) / m.sum(1)))  # (B, H)

    @staticmethod
    def expand_state(state, k):
        return ToyState(state.h.repeat_interleave(k, dim=0))

    @staticmethod
    def reorder_state(state, index):
        return ToyState(state.h.index_select(0, index))

    def step(self, prev, state, enc):
        Bn, K = prev.shape
        assert enc.memory.shape[0] == Bn, "the encoder output must be shared across beams, not copied"
        assert state.h.shape[0] == Bn * K
        self.steps += 1
        self.modes.add(self.training)
        h = state.h.view(Bn, K, self.hidden)
        scores = (h @ enc.memory.transpose(1, 2)).masked_fill(~enc.mask[:, None, :], float("-inf"))
        weights = scores.softmax(-1)  # (B, K, S)
        h = torch.tanh(h @ self.W + self.emb[prev] + weights @ enc.memory)
        log_probs = F.log_softmax(h @ self.U + self.bias, dim=-1)  # (B, K, V)
        return log_probs, ToyState(h.reshape(Bn * K, self.hidden)), weights


class BigramModel(nn.Module):
    """``p(y_t | y_{t-1})`` from a table; no attention. ``rows[prev] = {token: prob}``; unlisted rows end."""

    def __init__(self, rows, max_target_length=6, vocab_size=6):
        super().__init__()
        table = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
        table[:, EOS] = 1.0
        for prev, probs in rows.items():
            table[prev] = 0.0
            for token, p in probs.items():
                table[prev, token] = p
        self.log_table = table.log()
        self.config = SimpleNamespace(max_target_length=max_target_length)
        self.pad_id, self.bos_id, self.eos_id = PAD, BOS, EOS
        self.steps = 0

    def encode(self, src, src_lengths):
        return ToyEncoded(src[..., None].double(), torch.ones_like(src, dtype=torch.bool))

    def start(self, enc):
        return ToyState(torch.zeros(enc.memory.shape[0], 1))

    expand_state = staticmethod(ToyModel.expand_state)
    reorder_state = staticmethod(ToyModel.reorder_state)

    def step(self, prev, state, enc):
        self.steps += 1
        return self.log_table[prev], ToyState(prev.reshape(-1, 1).float()), None


def source(rows=3, steps=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, 10, (rows, steps), generator=g)
    lengths = torch.tensor([steps - (i % steps) for i in range(rows)])
    return src, lengths


def teacher_forced(model, src, lengths, b, seqs):
    """log p(seq + EOS | row b) for each seq (summed step by step, as decoding does), and the attention rows."""
    n = len(seqs)
    enc = model.encode(src[b : b + 1], lengths[b : b + 1])
    state = model.expand_state(model.start(enc), n)
    T = max(len(s) for s in seqs)
    padded = torch.full((n, T + 1), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        padded[i, len(s)] = EOS
    seq_len = torch.tensor([len(s) for s in seqs])
    total = torch.zeros(n, dtype=torch.float64)
    weights = []
    prev = torch.full((1, n), BOS, dtype=torch.long)
    for t in range(T + 1):
        log_probs, state, w = model.step(prev, state, enc)
        gathered = log_probs[0].gather(1, padded[:, t : t + 1])[:, 0].double()
        total = torch.where(t <= seq_len, total + gathered, total)
        if w is not None:
            weights.append(w[0])
        prev = padded[:, t].view(1, n)
    attn = torch.stack(weights, 1) if weights else None  # (n, T+1, S)
    return total.tolist(), attn


def penalised(log_prob, n_tokens, kind, alpha):
    length = n_tokens + 1
    if kind == "avg":
        return log_prob / length**alpha
    if kind == "gnmt":
        return log_prob / ((5 + length) / 6) ** alpha
    return log_prob


def repeats_ngram(seq, n):
    grams = [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]
    return len(grams) != len(set(grams))


def exhaustive(model, src, lengths, b, tokens, max_length, kind="none", alpha=0.6, min_length=0, ngram=0):
    """Every allowed output sequence of row b with its (score, log_prob), best first."""
    seqs = [
        list(s)
        for n in range(min_length, max_length + 1)
        for s in itertools.product(tokens, repeat=n)
        if not (ngram and repeats_ngram(list(s), ngram))
    ]
    log_probs, _ = teacher_forced(model, src, lengths, b, seqs)
    ranked = [(penalised(lp, len(s), kind, alpha), lp, s) for s, lp in zip(seqs, log_probs)]
    return sorted(ranked, key=lambda r: -r[0])


# ---- beam 1 == greedy -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("min_length", [0, 3])
def test_a_beam_of_one_equals_greedy_exactly(dtype, min_length):
    model = ToyModel(n_tokens=9, hidden=12, seed=3, max_target_length=8, eos_bias=1.5, dtype=dtype)
    src, lengths = source(rows=6, steps=7)
    greedy = greedy_decode(model, src, lengths, min_length=min_length)
    beam = beam_search(model, src, lengths, beam_size=1, min_length=min_length)
    assert len(greedy) == len(beam) == 6
    assert len({len(g.tokens) for g in greedy}) > 1, "the rows should end at different steps"
    for g, (b,) in zip(greedy, beam):
        assert g.tokens == b.tokens
        assert g.score == b.score and g.log_prob == b.log_prob  # exactly, not approximately
        assert torch.equal(g.attention, b.attention)


# ---- beam == exhaustive search -----------------------------------------------------------------


@pytest.mark.parametrize(
    "n_tokens, max_length, kind, alpha",
    [(3, 4, "none", 0.6), (3, 4, "avg", 1.0), (3, 4, "gnmt", 0.6), (4, 3, "avg", 0.6), (4, 3, "none", 0.6)],
)
def test_a_wide_beam_finds_the_exact_nbest_of_every_sequence(n_tokens, max_length, kind, alpha):
    model = ToyModel(n_tokens=n_tokens, seed=n_tokens + max_length, max_target_length=max_length, eos_bias=-0.5)
    src, lengths = source(rows=3)
    found = beam_search(model, src, lengths, beam_size=128, length_penalty=kind, alpha=alpha, nbest=5)
    tokens = list(range(3, 3 + n_tokens))
    for b in range(3):
        ranked = exhaustive(model, src, lengths, b, tokens, max_length, kind, alpha)
        assert [h.tokens for h in found[b]] == [r[2] for r in ranked[:5]]
        assert [h.score for h in found[b]] == pytest.approx([r[0] for r in ranked[:5]], abs=1e-9)
        assert [h.log_prob for h in found[b]] == pytest.approx([r[1] for r in ranked[:5]], abs=1e-9)


def test_the_exact_search_respects_min_length_and_ngram_blocking():
    model = ToyModel(n_tokens=3, seed=11, max_target_length=4, eos_bias=1.0)
    src, lengths = source(rows=2)
    found = beam_search(model, src, lengths, beam_size=128, min_length=2, no_repeat_ngram=2, nbest=4)
    for b in range(2):
        ranked = exhaustive(model, src, lengths, b, [3, 4, 5], 4, min_length=2, ngram=2)
        assert [h.tokens for h in found[b]] == [r[2] for r in ranked[:4]]
        assert [h.score for h in found[b]] == pytest.approx([r[0] for r in ranked[:4]], abs=1e-9)


def test_a_narrow_beam_is_not_exhaustive_here_so_the_exhaustive_test_can_fail():
    model = ToyModel(n_tokens=3, seed=7, max_target_length=4, eos_bias=-0.5)
    src, lengths = source(rows=8)
    found = beam_search(model, src, lengths, beam_size=2, nbest=2)
    best = [exhaustive(model, src, lengths, b, [3, 4, 5], 4)[:2] for b in range(8)]
    assert any([h.tokens for h in found[b]] != [r[2] for r in best[b]] for b in range(8))


# ---- every hypothesis is what it says ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["none", "avg", "gnmt"])
def test_scores_attention_and_order_of_the_nbest_lists(kind):
    model = ToyModel(n_tokens=6, hidden=10, seed=5, max_target_length=10, eos_bias=0.5)
    src, lengths = source(rows=4, steps=6)
    found = beam_search(model, src, lengths, beam_size=4, nbest=4, length_penalty=kind, alpha=0.8)
    for b, hyps in enumerate(found):
        assert len(hyps) == 4
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        log_probs, attn = teacher_forced(model, src, lengths, b, [h.tokens for h in hyps])
        for i, h in enumerate(hyps):
            assert not {PAD, BOS, EOS} & set(h.tokens)
            assert h.log_prob == pytest.approx(log_probs[i], abs=1e-9)  # the EOS counted, nothing after it
            assert h.score == pytest.approx(penalised(h.log_prob, len(h.tokens), kind, 0.8), abs=1e-12)
            assert h.attention.shape == (len(h.tokens), int(lengths[b]))
            torch.testing.assert_close(h.attention, attn[i, : len(h.tokens), : int(lengths[b])])


def test_a_finished_hypothesis_is_never_extended_and_stops_the_search():
    # p([]) = 0.5; every longer output is below 0.3 * 1: with no length penalty nothing can beat it.
    model = BigramModel({BOS: {EOS: 0.5, A: 0.3, B_: 0.2}, A: {A: 0.6, EOS: 0.4}, B_: {B_: 0.9, EOS: 0.1}})
    model.config.max_target_length = 20
    src, lengths = source(rows=2)
    (best, *_), _ = beam_search(model, src, lengths, beam_size=3, nbest=1)
    assert best.tokens == [] and best.log_prob == pytest.approx(math.log(0.5))
    assert model.steps == 1, "no live hypothesis can beat the finished one: the search stops"
    model.steps = 0
    hyps = beam_search(model, src, lengths, beam_size=3, nbest=3)[0]
    assert [h.tokens for h in hyps] == [[], [A], [A, A]]
    assert [h.log_prob for h in hyps] == pytest.approx([math.log(p) for p in (0.5, 0.12, 0.072)])
    assert model.steps < 20


def test_a_hypothesis_finished_early_loses_fairly_to_a_better_later_one():
    # [] = 0.4, [A] = 0.6 * 0.9 = 0.54: the later-finishing hypothesis wins; both are listed.
    model = BigramModel({BOS: {EOS: 0.4, A: 0.6}, A: {EOS: 0.9, A: 0.1}})
    src, lengths = source(rows=1)
    hyps = beam_search(model, src, lengths, beam_size=2, nbest=2)[0]
    assert [h.tokens for h in hyps] == [[A], []]
    assert [h.score for h in hyps] == pytest.approx([math.log(0.54), math.log(0.4)])


# ---- length penalties, min / max length, n-gram blocking -------------------------------------------


def test_the_length_penalty_decides_between_short_and_long():
    # none: [] (0.35) beats [A, A, A] (0.65 * 0.8 * 0.8 * 0.2 = 0.0832); avg (alpha 1) per token prefers the long one.
    model = BigramModel({BOS: {EOS: 0.35, A: 0.65}, A: {A: 0.8, EOS: 0.2}}, max_target_length=3)
    src, lengths = source(rows=1)
    (none,) = beam_search(model, src, lengths, beam_size=4)[0]
    (avg,) = beam_search(model, src, lengths, beam_size=4, length_penalty="avg", alpha=1.0)[0]
    assert none.tokens == [] and none.score == pytest.approx(math.log(0.35))
    assert avg.tokens == [A, A, A]
    assert avg.log_prob == pytest.approx(math.log(0.0832))
    assert avg.score == pytest.approx(math.log(0.0832) / 4)


@pytest.mark.parametrize("kind", ["avg", "gnmt"])
def test_a_stronger_length_penalty_never_gives_shorter_outputs(kind):
    model = ToyModel(n_tokens=3, seed=2, max_target_length=4, eos_bias=1.0)
    src, lengths = source(rows=6)
    runs = [beam_search(model, src, lengths, beam_size=128)]
    runs += [beam_search(model, src, lengths, beam_size=128, length_penalty=kind, alpha=a) for a in (0.5, 1.5, 3.0)]
    per_row = [[len(run[b][0].tokens) for run in runs] for b in range(6)]
    assert all(row == sorted(row) for row in per_row)
    assert any(row[0] < row[-1] for row in per_row), "the penalty should lengthen some output here"


def test_min_and_max_length_bound_every_output():
    model = ToyModel(n_tokens=5, seed=4, max_target_length=9, eos_bias=2.5)
    src, lengths = source(rows=5)
    free = greedy_decode(model, src, lengths)
    assert min(len(h.tokens) for h in free) < 3
    greedy = greedy_decode(model, src, lengths, min_length=3, max_length=5)
    beam = beam_search(model, src, lengths, beam_size=3, nbest=3, min_length=3, max_length=5)
    assert all(3 <= len(h.tokens) <= 5 for h in greedy + [h for row in beam for h in row])


def test_max_length_forces_the_end_and_scores_the_eos():
    model = ToyModel(n_tokens=4, seed=6, max_target_length=3, eos_bias=-8.0)  # EOS almost never chosen
    src, lengths = source(rows=3)
    for hyps in (greedy_decode(model, src, lengths), [r[0] for r in beam_search(model, src, lengths, beam_size=3)]):
        assert [len(h.tokens) for h in hyps] == [3, 3, 3]
        for b, h in enumerate(hyps):
            assert h.log_prob == pytest.approx(teacher_forced(model, src, lengths, b, [h.tokens])[0][0], abs=1e-9)


def test_ngram_blocking():
    # The model loves A B A B ...; its length is fixed at 6 by min_length = max_length.
    loop = {BOS: {A: 0.9, C: 0.1}, A: {B_: 0.9, C: 0.05, EOS: 0.05}, B_: {A: 0.9, C: 0.05, EOS: 0.05}}
    loop[C] = {A: 0.4, B_: 0.4, C: 0.1, EOS: 0.1}
    model = BigramModel(loop, max_target_length=6)
    src, lengths = source(rows=2)
    (plain,) = beam_search(model, src, lengths, beam_size=3, min_length=6)[0]
    assert plain.tokens == [A, B_, A, B_, A, B_]
    for n in (2, 3):
        hyps = beam_search(model, src, lengths, beam_size=3, nbest=3, min_length=6, no_repeat_ngram=n)[0]
        assert len(hyps) == 3
        assert all(len(h.tokens) == 6 and not repeats_ngram(h.tokens, n) for h in hyps)
    hyps = beam_search(model, src, lengths, beam_size=3, nbest=3, min_length=3, max_length=3, no_repeat_ngram=1)[0]
    assert len(hyps) == 3 and all(sorted(h.tokens) == [A, B_, C] for h in hyps)


# ---- batching, sharing, mode ----------------------------------------------------------------------


def test_a_batch_decodes_as_its_rows_alone_with_one_encoder_run():
    model = ToyModel(n_tokens=6, hidden=10, seed=8, max_target_length=7, eos_bias=1.0)
    src, lengths = source(rows=5, steps=6)  # different source lengths: padding must not leak
    model.train()
    together = beam_search(model, src, lengths, beam_size=3, nbest=2, no_repeat_ngram=2)
    assert model.encode_calls == 1
    assert model.training and model.modes == {False}, "decoding runs in eval mode and restores the mode"
    for b in range(5):
        alone = beam_search(
            model, src[b : b + 1, : int(lengths[b])], lengths[b : b + 1], beam_size=3, nbest=2, no_repeat_ngram=2
        )[0]
        assert [h.tokens for h in alone] == [h.tokens for h in together[b]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in together[b]], abs=1e-9)


def test_hypothesis_fields():
    model = BigramModel({BOS: {A: 1.0}, A: {EOS: 1.0}})
    src, lengths = source(rows=1)
    (h,) = greedy_decode(model, src, lengths)
    assert h == Hypothesis(tokens=[A], score=0.0, log_prob=0.0, attention=None)


# ---- bad arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"beam_size": 0}, InvalidValueError, "beam_size"),
        ({"beam_size": 2.5}, InvalidTypeError, "beam_size"),
        ({"beam_size": 2, "nbest": 3}, InvalidValueError, "nbest (3) must not exceed beam_size (2)"),
        ({"length_penalty": "wu"}, InvalidValueError, "length_penalty"),
        ({"alpha": -0.1}, InvalidValueError, "alpha"),
        ({"min_length": 5, "max_length": 4}, InvalidValueError, "min_length (5) must not exceed max_length (4)"),
        ({"max_length": 0}, InvalidValueError, "max_length"),
        ({"no_repeat_ngram": -1}, InvalidValueError, "no_repeat_ngram"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, words):
    model = ToyModel()
    src, lengths = source(rows=2)
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        beam_search(model, src, lengths, **kwargs)


def test_bad_sources_are_named():
    model = ToyModel()
    with pytest.raises(InvalidTypeError, match="src must be"):
        greedy_decode(model, torch.tensor([3, 4]), torch.tensor([2]))
    with pytest.raises(InvalidValueError, match="src_lengths"):
        beam_search(model, torch.tensor([[3, 4]]), torch.tensor([2, 2]))

"""Generation: the whole path learns, state carried exactly, seeds, save/load, text helpers, errors."""

import pytest
import torch

from rnnkit.data.vocab import UnknownTokenWarning, Vocabulary
from rnnkit.models.generation import _IncrementalDecoder, generate, generate_text, stream_generate, stream_text
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.sampling import sample_next

CORPUS = "the quick brown fox jumps over the lazy dog.\n"


def tiny(vocab_size=11, cell="lstm", seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=vocab_size, cell=cell, embedding_size=8, hidden_size=16, num_layers=2)
    cfg.update(kw)
    m = LanguageModel(LanguageModelConfig(**cfg)).eval()
    with torch.no_grad():  # larger random weights than the init, so outputs vary by position and input
        for p in m.parameters():
            p.normal_(0.0, 0.7)
    return m


def train(model, x, y, steps, lr=0.02, condition=None):
    """A plain Adam loop over full sequences (the Trainer is not under test here)."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        logits, _ = model(x, condition=condition)
        loss = model.loss(logits, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval(), loss.item()


def test_a_tiny_corpus_is_memorised_and_greedy_continuation_reproduces_it():
    torch.manual_seed(0)
    vocab = Vocabulary.from_text(CORPUS)
    ids = torch.tensor(vocab.encode(CORPUS)).unsqueeze(0)  # (1, T)
    model = LanguageModel(
        LanguageModelConfig(vocab_size=len(vocab), embedding_size=16, hidden_size=64, num_layers=1), vocab
    )
    model, loss = train(model, ids[:, :-1], ids[:, 1:], steps=150)
    assert loss < 0.05
    prompt = CORPUS[:5]
    assert generate_text(model, prompt, len(CORPUS) - 5, temperature=0) == CORPUS[5:]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_greedy_generation_equals_the_full_sequence_forward(cell):
    m = tiny(cell=cell)
    prompt = [3, 1, 4, 1, 5]
    out = generate(m, prompt, 12, temperature=0)
    full, _ = m(torch.tensor([prompt + out[:-1]]))  # teacher-forced on its own output
    assert out == full[0, len(prompt) - 1 :].argmax(-1).tolist()
    assert len(set(out)) > 1


def test_sampled_generation_equals_sampling_the_full_sequence_logits():
    m = tiny()
    prompt = [2, 7, 1]
    out = generate(m, prompt, 15, temperature=1.3, top_k=6, top_p=0.95, seed=123)
    full, _ = m(torch.tensor([prompt + out[:-1]]))
    g = torch.Generator().manual_seed(123)
    again = [int(sample_next(full[:, t], 1.3, 6, 0.95, g)) for t in range(len(prompt) - 1, full.shape[1])]
    assert out == again


def test_streaming_feeds_one_token_per_step_after_priming():
    m = tiny()
    seen = []
    m.register_forward_pre_hook(lambda mod, args: seen.append(tuple(args[0].shape)))
    stream = stream_generate(m, [1, 2, 3, 4], 6, seed=0)
    first = next(stream)
    assert isinstance(first, int) and seen == [(1, 4)]  # the prompt, once
    rest = list(stream)
    assert len(rest) == 5 and seen == [(1, 4)] + [(1, 1)] * 5  # then only the new token


def test_same_seed_same_sample_and_different_seed_differs():
    m = tiny()
    a = generate(m, [1], 40, seed=5)
    assert a == generate(m, [1], 40, seed=5)
    assert a != generate(m, [1], 40, seed=6)
    g = torch.Generator().manual_seed(5)
    assert generate(m, [1], 40, generator=g) == a


def test_save_load_gives_identical_seeded_samples(tmp_path):
    vocab = Vocabulary.from_text("abcdefghij")
    m = tiny(vocab_size=len(vocab))
    m.save_pretrained(tmp_path, vocab=vocab)
    n = LanguageModel.from_pretrained(tmp_path)
    prompt = [3, 4, 5]
    torch.testing.assert_close(n(torch.tensor([prompt]))[0], m(torch.tensor([prompt]))[0], rtol=0, atol=0)
    assert generate(n, prompt, 50, seed=11, top_p=0.9) == generate(m, prompt, 50, seed=11, top_p=0.9)
    assert generate_text(n, "abc", 30, seed=2) == generate_text(m, "abc", 30, seed=2, vocab=vocab)


def test_batched_prompts():
    m = tiny()
    prompts = torch.tensor([[1, 2, 3], [4, 5, 6]])
    out = generate(m, prompts, 7, temperature=0)
    assert out.shape == (2, 7) and out.dtype == torch.long
    assert out[0].tolist() == generate(m, [1, 2, 3], 7, temperature=0)
    assert out[1].tolist() == generate(m, [4, 5, 6], 7, temperature=0)
    steps = list(stream_generate(m, prompts, 3, seed=0))
    assert [s.shape for s in steps] == [(2,)] * 3


def test_suppressed_ids_are_never_generated():
    m = tiny(vocab_size=4)
    out = generate(m, [1], 300, temperature=2.0, seed=0, suppress_ids=[0, 2])
    assert set(out) == {1, 3}


def test_generation_runs_in_eval_mode_and_restores_the_mode():
    m = tiny(dropout=0.5).train()
    a = generate(m, [1, 2], 10, temperature=0)
    assert m.training
    assert a == generate(m, [1, 2], 10, temperature=0)  # no dropout while generating


def test_length_zero_and_continuing_from_a_state():
    m = tiny()
    assert generate(m, [1, 2], 0) == []
    assert generate(m, torch.tensor([[1, 2]]), 0).shape == (1, 0)
    _, state = m(torch.tensor([[1, 2, 3]]))
    assert generate(m, [4], 5, temperature=0, state=state) == generate(m, [1, 2, 3, 4], 5, temperature=0)


def test_conditioned_generation_follows_the_condition():
    # one-to-many: the same prompt, two conditions, two memorised continuations
    texts = ["xabcabcabcabc", "xcbacbacbacba"]
    vocab = Vocabulary.from_text("".join(texts))
    ids = torch.tensor([vocab.encode(t) for t in texts])  # (2, T)
    cond = torch.eye(2)
    model = LanguageModel(
        LanguageModelConfig(
            vocab_size=len(vocab), cell="gru", embedding_size=8, hidden_size=24, num_layers=1, condition_size=2
        ),
        vocab,
    )
    torch.manual_seed(0)
    model, loss = train(model, ids[:, :-1], ids[:, 1:], steps=120, lr=0.03, condition=cond)
    assert loss < 0.05
    for k in (0, 1):
        out = generate_text(model, "x", 12, temperature=0, condition=cond[k : k + 1])
        assert out == texts[k][1:]


def test_text_prompt_with_unknown_characters_warns_and_generates():
    vocab = Vocabulary.from_text("abcdefghij")
    m = tiny(vocab_size=len(vocab))
    with pytest.warns(UnknownTokenWarning, match=r"'Z' \(x1\)"):
        text = generate_text(m, "abZ", 20, vocab=vocab, seed=0)
    assert len(text) == 20 and "<unk>" not in text  # specials are suppressed by default
    assert set(text) <= set("abcdefghij")
    with pytest.raises(ValueError, match="symbols are not in the vocabulary: 'Z'"):
        generate_text(m, "abZ", 5, vocab=vocab, unknown="error")
    with pytest.raises(ValueError, match="encodes to no tokens"):
        with pytest.warns(UnknownTokenWarning):
            generate_text(m, "ZZ", 5, vocab=vocab, unknown="skip")


def test_stream_text_word_level_spacing():
    vocab = Vocabulary.from_text("the cat sat .\non the mat\n", level="word")
    m = tiny(vocab_size=len(vocab))
    pieces = list(stream_text(m, "the cat", 30, vocab=vocab, seed=1))
    assert len(pieces) == 30
    text = "".join(pieces)
    assert "  " not in text and " \n" not in text and "\n " not in text


@pytest.mark.parametrize("level", ["char", "word", "bpe"])
@pytest.mark.parametrize("prompt", ["the cat", "the cat ", "the cat\n", "the"])
def test_the_continuation_joins_the_prompt_at_every_level(level, prompt):
    """``prompt + generate_text(...)`` is the text of prompt ids + generated ids: nothing lost or added at the seam."""
    if level == "bpe":
        pytest.importorskip("tokenizers")
    text = "the cat sat on the mat .\nthe dog ate the rat .\n" * 20
    vocab = Vocabulary.from_text(text, level=level, **({"max_size": 300} if level == "bpe" else {}))
    m = tiny(vocab_size=len(vocab))
    ids = vocab.encode(prompt)
    new = generate(m, ids, 12, seed=0, suppress_ids=vocab.special_ids)
    continuation = generate_text(m, prompt, 12, vocab=vocab, seed=0)
    whole = vocab.decode(ids + new)
    if level == "word":  # words are joined by one space; a prompt's own trailing space stands in for it
        assert (prompt + continuation).replace(" \n", "\n") == whole.replace(" \n", "\n")
        assert "  " not in prompt + continuation
        if prompt == "the cat":
            assert continuation.startswith(" ") or continuation.startswith("\n")
    else:
        assert prompt + continuation == whole


def test_arguments_are_checked_when_called_not_when_first_iterated():
    m = tiny()
    with pytest.raises(ValueError, match="temperature must be"):
        stream_generate(m, [1], 3, temperature=-1)  # no next(): the call itself raises
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        stream_generate(m, [1], 3, seed=-1)
    vocab = Vocabulary.from_text("abcdefghij")
    with pytest.raises(ValueError, match="top_p must be"):
        stream_text(m, "ab", 3, vocab=vocab, top_p=2)
    with pytest.raises(ValueError, match="length must be an int >= 0"):
        stream_text(m, "ab", -1, vocab=vocab)
    with pytest.warns(UnknownTokenWarning, match="'Z'"):
        pieces = stream_text(m, "aZ", 3, vocab=vocab, seed=0)  # the prompt is encoded (and warned about) now
    assert len("".join(pieces)) == 3


def test_incremental_bpe_decoding_never_splits_a_character():
    pytest.importorskip("tokenizers")
    vocab = Vocabulary.from_text("plain ascii text only\n" * 30, level="bpe", max_size=280)
    text = "snow ☃ and café — ok"
    ids = vocab.encode(text)
    assert len(ids) > len(text.encode("utf-8")) // 2  # multi-byte characters are split into byte tokens
    decoder = _IncrementalDecoder(vocab)
    pieces = [decoder.push(i) for i in ids] + [decoder.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)
    m = tiny(vocab_size=len(vocab))
    assert len(list(stream_text(m, "snow", 10, vocab=vocab, seed=0))) >= 1


def test_errors():
    m = tiny()
    with pytest.raises(ValueError, match="length must be an int >= 0, got -1"):
        generate(m, [1], -1)
    with pytest.raises(ValueError, match="prompt_ids is empty"):
        generate(m, [], 3)
    with pytest.raises(ValueError, match="prompt_ids must be < vocab_size=11, got the id 11"):
        generate(m, [1, 11], 3)
    with pytest.raises(ValueError, match="prompt_ids must be >= 0, got the id -2"):
        generate(m, torch.tensor([[1, -2]]), 3)
    with pytest.raises(ValueError, match="pass seed or generator, not both"):
        generate(m, [1], 3, seed=1, generator=torch.Generator())
    with pytest.raises(TypeError, match="seed must be an int >= 0, got str '1'"):
        generate(m, [1], 3, seed="1")
    with pytest.raises(ValueError, match="top_p must be None or a number in"):
        generate(m, [1], 3, top_p=2)
    with pytest.raises(ValueError, match="bans all 11 ids"):
        generate(m, [1], 3, suppress_ids=range(11))
    with pytest.raises(TypeError, match="model must be a rnnkit LanguageModel, got Linear"):
        generate(torch.nn.Linear(2, 2), [1], 3)
    with pytest.raises(ValueError, match="no vocabulary"):
        generate_text(m, "a", 3)
    vocab = Vocabulary.from_text("abcdefghij")
    with pytest.raises(ValueError, match="prompt must be a non-empty str"):
        generate_text(m, "", 3, vocab=vocab)
    with pytest.raises(ValueError, match="the vocabulary has 4 tokens but the model's vocab_size is 11"):
        generate_text(m, "a", 3, vocab=Vocabulary.from_text("abc"))

"""Tokenizers on their own and behind a Vocabulary: tokens, text back, continuations, saving."""

import json
import sys

import pytest

from rnnkit._checks import FileFormatError, InvalidValueError, MissingOptionalDependency
from rnnkit.data import BPETokenizer, CharTokenizer, Tokenizer, Vocabulary, WordTokenizer
from rnnkit.data.tokenizers import TOKENIZERS, tokenizer_for, tokenizer_from_dict, tokenizer_type

TEXT = "the cat sat on the mat.\nthe dog ate the rat!\n" * 20


def bpe(text=TEXT, size=290, **kw):
    pytest.importorskip("tokenizers")
    return BPETokenizer.train(text, size, **kw)


def test_the_three_levels_and_what_they_say_about_themselves():
    assert list(TOKENIZERS) == ["char", "word", "bpe"]
    assert [(t.name, t.unit, t.tokens_are_characters, t.covers_all_text) for t in TOKENIZERS.values()] == [
        ("char", "character", True, False),
        ("word", "word", False, False),
        ("bpe", "token", False, True),
    ]
    assert all(issubclass(t, Tokenizer) for t in TOKENIZERS.values())


def test_word_tokenizer_on_its_own():
    words = WordTokenizer()
    assert words.tokenize("Hello, world!\nIt's 3pm") == ["Hello", ",", "world", "!", "\n", "It", "'", "s", "3pm"]
    assert words.detokenize(["Hello", ",", "world", "\n", "again"]) == "Hello , world\nagain"
    assert words.tokenize("") == []


def test_char_tokenizer_on_its_own_is_exact():
    chars = CharTokenizer()
    text = "Ünï  tabs\tand\nnewlines — “quotes”"
    assert chars.tokenize(text) == list(text) and chars.detokenize(chars.tokenize(text)) == text


def test_bpe_tokenizer_on_its_own_is_exact_and_keeps_specials_whole():
    tok = bpe(specials=("<unk>", "<eos>"))
    assert tok.vocabulary[:2] == ["<unk>", "<eos>"] and len(tok.vocabulary) <= 290
    text = "the cat ate, zebra ☃ café"
    tokens = tok.tokenize(text)
    assert len(tokens) < len(text) and tok.detokenize(tokens) == text
    assert tok.detokenize(tok.tokenize("the rat") + ["<eos>"] + tok.tokenize(" the cat")) == "the rat<eos> the cat"


def test_an_untrained_bpe_tokenizer_says_how_to_train_it():
    with pytest.raises(InvalidValueError, match=r"has not been trained: use BPETokenizer.train\(text\)"):
        BPETokenizer().tokenize("abc")
    with pytest.raises(InvalidValueError, match="is trained with Vocabulary.from_text"):
        Vocabulary(["a"], level="bpe")


def test_bpe_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(MissingOptionalDependency, match=r"pip install 'rnnkit\[bpe\]'"):
        BPETokenizer.train("some text")


@pytest.mark.parametrize("level", ["char", "word", "bpe"])
def test_a_continuation_joins_the_prompt_as_the_whole_text_would_read(level):
    tok = bpe() if level == "bpe" else tokenizer_for(level)
    prompt, more = "the cat", " sat on the mat.\nthe dog"
    tokens = tok.tokenize(more)
    cont = tok.continuation(after=prompt)
    pieces = [cont.push(t) for t in tokens] + [cont.flush()]
    expected = {"char": prompt + more, "bpe": prompt + more, "word": "the cat sat on the mat .\nthe dog"}[level]
    assert prompt + "".join(pieces) == expected


def test_word_continuation_after_whitespace_adds_no_space():
    cont = WordTokenizer().continuation(after="the ")
    assert [cont.push(t) for t in ["cat", "\n", "sat", "."]] == ["cat", "\n", "sat", " ."]


def test_bpe_continuation_holds_back_a_split_character():
    tok = bpe("plain ascii text only\n" * 30, 280)
    tokens = tok.tokenize("☃")  # three byte tokens
    assert len(tokens) == 3
    cont = tok.continuation()
    assert [cont.push(t) for t in tokens] == ["", "", "☃"]


@pytest.mark.parametrize("level", ["char", "word", "bpe"])
def test_serialisation_round_trip(level):
    tok = bpe() if level == "bpe" else tokenizer_for(level)
    d = json.loads(json.dumps(tok.to_dict()))
    assert d["level"] == level
    again = tokenizer_from_dict(d)
    assert type(again) is type(tok) and again == tok
    assert again.tokenize("the cat sat, zebra") == tok.tokenize("the cat sat, zebra")


def test_bad_levels_and_documents():
    with pytest.raises(
        InvalidValueError, match=r"level must be one of \['char', 'word', 'bpe'\] or a Tokenizer, got 'byte'"
    ):
        tokenizer_type("byte")
    with pytest.raises(FileFormatError, match="unknown tokenizer level 'morse'"):
        tokenizer_from_dict({"level": "morse"})
    pytest.importorskip("tokenizers")
    with pytest.raises(FileFormatError, match="needs its 'tokenizer' field"):
        tokenizer_from_dict({"level": "bpe"})


def test_a_vocabulary_takes_a_tokenizer_object_and_reports_its_level():
    vocab = Vocabulary.from_text(TEXT, level=WordTokenizer())
    assert vocab.level == "word" and isinstance(vocab.tokenizer, WordTokenizer)
    assert vocab.decode(vocab.encode("the cat sat.")) == "the cat sat ."
    assert Vocabulary.from_json(vocab.to_json()) == vocab
    with pytest.raises(InvalidValueError, match="a 'word' symbol cannot contain whitespace"):
        Vocabulary(["a b"], level=WordTokenizer())


def test_a_bpe_vocabulary_must_use_the_tokenizers_own_ids():
    tok = bpe(specials=("<unk>",))
    vocab = Vocabulary(tok.vocabulary[1:], level=tok)
    assert vocab.encode("the cat") == [tok.vocabulary.index(t) for t in tok.tokenize("the cat")]
    with pytest.raises(InvalidValueError, match="tokenizer's own tokens"):
        Vocabulary(list(reversed(tok.vocabulary[1:])), level=tok)


def test_the_vocab_json_format_is_unchanged():
    """Files written before tokenizers were classes hold exactly these fields; they must keep loading."""
    vocab = Vocabulary.from_text("banana", level="char")
    assert vocab.to_dict() == {
        "format": "rnnkit.vocabulary",
        "version": 1,
        "level": "char",
        "unknown": "replace",
        "specials": ["<unk>"],
        "symbols": ["a", "b", "n"],
    }
    tok = bpe(specials=("<unk>",))
    d = Vocabulary(tok.vocabulary[1:], level=tok).to_dict()
    assert list(d) == ["format", "version", "level", "unknown", "specials", "symbols", "tokenizer"]
    assert d["tokenizer"]["model"]["type"] == "BPE"

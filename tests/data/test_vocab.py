"""Vocabulary: levels, special tokens, the unknown-token policy, JSON round trips, errors."""

import json
import sys
import warnings

import pytest
import torch

from rnnkit.data.vocab import UNK, UnknownTokenWarning, Vocabulary

TEXT = "hello world.\nthe world, hello!\n"


def test_char_vocabulary_ids_are_specials_then_sorted_symbols():
    v = Vocabulary.from_text("banana")
    assert v.tokens == [UNK, "a", "b", "n"]
    assert v.unk_id == 0 and len(v) == v.size == 4
    assert v.encode("banana") == [2, 1, 3, 1, 3, 1]
    assert v.decode([2, 1, 3]) == "ban"
    assert v.decode(torch.tensor([3, 1])) == "na"


def test_char_round_trip_is_exact_on_any_text():
    text = "Ünïcödé  tabs\tand\nnewlines — “quotes”"
    v = Vocabulary.from_text(text)
    assert v.decode(v.encode(text)) == text


def test_word_level_tokenises_words_punctuation_and_newlines():
    v = Vocabulary.from_text(TEXT, level="word")
    assert v.tokenize("hello, world\n") == ["hello", ",", "world", "\n"]
    ids = v.encode("hello world.\nthe world")
    assert v.decode(ids) == "hello world .\nthe world"
    assert "hello" in v and "h" not in v


def test_min_freq_and_max_size_keep_the_most_frequent():
    v = Vocabulary.from_text("aaaabbbcc d", min_freq=2)
    assert v.tokens == [UNK, "a", "b", "c"]
    v = Vocabulary.from_text("aaaabbbcc d", max_size=3)
    assert v.tokens == [UNK, "a", "b"]


def test_unknown_policy_replace_warns_naming_the_symbols():
    v = Vocabulary.from_text("abc")
    with pytest.warns(UnknownTokenWarning, match=r"'z' \(x2\).*'é' \(x1\)"):
        ids = v.encode("azzé")
    assert ids == [v.id_of("a"), 0, 0, 0]
    assert v.decode(ids) == "a" + UNK * 3


def test_unknown_policy_skip_drops_and_warns():
    v = Vocabulary.from_text("abc", unknown="skip")
    with pytest.warns(UnknownTokenWarning, match="skipped 1 unknown.*'z'"):
        assert v.encode("azb") == [v.id_of("a"), v.id_of("b")]


def test_unknown_policy_error_raises_naming_the_symbols():
    v = Vocabulary.from_text("abc", unknown="error")
    with pytest.raises(ValueError, match=r"2 symbols are not in the vocabulary: 'q' \(x1\), 'z' \(x1\)"):
        v.encode("aqz")
    # the policy can be overridden per call
    with pytest.warns(UnknownTokenWarning):
        assert v.encode("aq", unknown="replace") == [v.id_of("a"), 0]


def test_known_text_does_not_warn():
    v = Vocabulary.from_text("abc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v.encode("cab")


def test_decode_can_skip_specials():
    v = Vocabulary.from_text("ab", specials=(UNK, "<eos>"))
    assert v.special_ids == [0, 1]
    assert v.decode([2, 0, 1, 3], skip_specials=True) == "ab"
    assert v.decode([1]) == "<eos>"


def test_json_and_file_round_trip(tmp_path):
    for level in ("char", "word"):
        v = Vocabulary.from_text(TEXT, level=level, unknown="skip")
        assert Vocabulary.from_json(v.to_json()) == v
        path = tmp_path / f"{level}.json"
        v.save(path)
        assert Vocabulary.load(path) == v
        assert json.loads(path.read_text(encoding="utf-8"))["format"] == "rnnkit.vocabulary"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp files left


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "vocab.json"
    Vocabulary.from_text("ab").save(path)
    Vocabulary.from_text("xyz").save(path)
    assert Vocabulary.load(path).tokens == [UNK, "x", "y", "z"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(symbols=["a"], level="byte"), ValueError, "level must be one of .* got 'byte'"),
        (dict(symbols=["a"], unknown="ignore"), ValueError, "policy.* got 'ignore'"),
        (dict(symbols=["ab"]), ValueError, "single characters, got the symbol 'ab'"),
        (dict(symbols=["a b"], level="word"), ValueError, "cannot contain whitespace, got 'a b'"),
        (dict(symbols=["a", "a"]), ValueError, r"repeated: \['a'\]"),
        (dict(symbols=[UNK], level="word"), ValueError, r"repeated: \['<unk>'\]"),
        (dict(symbols=[]), ValueError, "at least one symbol"),
        (dict(symbols=["a"], specials=()), ValueError, "'replace' policy needs '<unk>'"),
        (dict(symbols=["a"], specials="<unk>"), TypeError, "specials must be a sequence"),
        (dict(symbols=[3]), TypeError, "non-empty string, got 3"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    symbols = kwargs.pop("symbols")
    with pytest.raises(error, match=match):
        Vocabulary(symbols, **kwargs)


def test_from_text_errors():
    with pytest.raises(ValueError, match="empty text"):
        Vocabulary.from_text("")
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        Vocabulary.from_text(b"abc")
    with pytest.raises(ValueError, match="min_freq must be an int >= 1, got 0"):
        Vocabulary.from_text("abc", min_freq=0)
    with pytest.raises(ValueError, match=r"max_size must be None or an int > len\(specials\) = 1, got 1"):
        Vocabulary.from_text("abc", max_size=1)
    with pytest.raises(ValueError, match="min_freq=5"):
        Vocabulary.from_text("abc", min_freq=5)


def test_lookup_and_decode_errors():
    v = Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match="token id 4 is outside the vocabulary: expected 0 <= id < 4"):
        v.decode([1, 4])
    with pytest.raises(ValueError, match="token id -1 is outside"):
        v.token_of(-1)
    with pytest.raises(TypeError, match="ids must be ints, got 1.5"):
        v.decode([1.5])
    with pytest.raises(ValueError, match="1-D sequence of ids, got shape"):
        v.decode(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="token 'z' is not in the vocabulary"):
        v.id_of("z")
    with pytest.raises(TypeError, match="text must be a str, got list"):
        v.encode(["a"])


def test_from_json_errors(tmp_path):
    with pytest.raises(ValueError, match="not valid JSON"):
        Vocabulary.from_json("{nope")
    with pytest.raises(ValueError, match="'format' is 'other'"):
        Vocabulary.from_json(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="unsupported vocabulary version 9"):
        Vocabulary.from_json(json.dumps({"format": "rnnkit.vocabulary", "version": 9}))
    with pytest.raises(ValueError, match=r"lacks the fields \['symbols'\]"):
        Vocabulary.from_json(
            json.dumps(
                {"format": "rnnkit.vocabulary", "version": 1, "level": "char", "unknown": "replace", "specials": []}
            )
        )
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(
        ValueError, match="bad.json' is not a readable vocabulary: a vocabulary is a JSON object, got list"
    ):
        Vocabulary.load(bad)
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="bad.json' is not a readable vocabulary"):  # not UTF-8
        Vocabulary.load(bad)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Vocabulary.load(tmp_path / "missing.json")


def test_bpe_level_round_trips_and_serialises(tmp_path):
    pytest.importorskip("tokenizers")
    text = "the cat sat on the mat. the cat ate the rat.\n" * 20 + "naïve café\n"
    v = Vocabulary.from_text(text, level="bpe", max_size=300)
    assert v.level == "bpe" and len(v) <= 300 and v.tokens[0] == UNK
    ids = v.encode("the cat sat, zebra ☃")
    assert all(0 <= i < len(v) for i in ids)
    assert v.decode(ids) == "the cat sat, zebra ☃"  # byte-level: nothing is unknown
    assert len(v.encode("the cat sat on the mat")) < len("the cat sat on the mat")  # merges learned
    path = tmp_path / "bpe.json"
    v.save(path)
    w = Vocabulary.load(path)
    assert w == v and w.encode("the rat") == v.encode("the rat")


def test_bpe_without_the_tokenizers_package_says_how_to_install_it(monkeypatch):
    from rnnkit._checks import MissingOptionalDependency

    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import tokenizers now raises ImportError
    with pytest.raises(MissingOptionalDependency, match=r"pip install 'rnnkit\[bpe\]'"):
        Vocabulary.from_text("some text\n", level="bpe")
    assert issubclass(MissingOptionalDependency, ImportError)


def test_a_broken_bpe_tokenizer_in_the_json_is_a_value_error(tmp_path):
    pytest.importorskip("tokenizers")
    v = Vocabulary.from_text("the cat sat on the mat\n" * 20, level="bpe", max_size=280)
    d = v.to_dict()
    d["tokenizer"] = {"model": {"type": "nonsense"}}
    with pytest.raises(ValueError, match="the BPE tokenizer in the vocabulary cannot be read"):
        Vocabulary.from_dict(d)

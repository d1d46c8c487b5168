"""Sequence metrics: hand cases, edit distance against a brute-force recursion, sacrebleu's documented numbers."""

import builtins
from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit._checks import InvalidTypeError, InvalidValueError, MissingOptionalDependency
from rnnkit.diagnostics.sequence_metrics import (
    bleu,
    chrf,
    edit_distance,
    error_rate,
    exact_match,
    token_accuracy,
    token_error_rate,
    word_error_rate,
)

# ---- exact match, WER, token accuracy ----------------------------------------------------------


def test_exact_match_any_reference_counts():
    hyps = ["168", "170", "12"]
    refs = [["168"], ["171", "170"], ["21"]]
    assert exact_match(hyps, refs) == pytest.approx(2 / 3)
    assert word_error_rate(hyps, refs) == pytest.approx(1 / 3)


def test_g2p_word_and_phoneme_error_rates_with_alternatives():
    hyps = [["R", "IY", "D"], ["K", "AE", "T"]]
    refs = [[["R", "EH", "D"], ["R", "IY", "D"]], [["K", "AE", "T", "S"]]]
    assert word_error_rate(hyps, refs) == pytest.approx(0.5)
    # "read" is right by its second pronunciation (0 edits of 3); "cats" lacks one phoneme (1 of 4)
    assert token_error_rate(hyps, refs) == pytest.approx(1 / 7)
    assert error_rate is token_error_rate


def test_tuples_and_lists_compare_as_the_same_tokens():
    assert exact_match([(1, 2, 3)], [[[1, 2, 3]]]) == 1.0
    assert token_error_rate([[1, 2]], [[(1, 2, 3)]]) == pytest.approx(1 / 3)


def test_error_rate_picks_the_nearest_reference_ties_to_the_longer():
    # distance 1 to both; the longer reference (4 tokens) gives 1/4, not 1/3
    assert token_error_rate(["abc"], [["abd", "abcd"]]) == pytest.approx(1 / 4)
    # the nearest wins even if a farther one is longer
    assert token_error_rate(["abc"], [["abcdefgh", "abx"]]) == pytest.approx(1 / 3)
    assert token_error_rate(["aaaaaa"], [["a"]]) == pytest.approx(5.0)  # may exceed 1


@pytest.mark.parametrize(
    "hyp, ref, expected",
    [
        ("168", "168", 1.0),
        ("169", "168", 2 / 3),
        ("16", "168", 2 / 3),  # the missing token is wrong
        ("1680", "168", 3 / 4),  # the extra token is wrong too
        ("861", "168", 1 / 3),
        ("", "12", 0.0),
    ],
)
def test_token_accuracy_hand_cases(hyp, ref, expected):
    assert token_accuracy([hyp], [[ref]]) == pytest.approx(expected)


def test_token_accuracy_sums_over_the_corpus_and_takes_the_best_reference():
    assert token_accuracy(["12", "9999"], [["13"], ["9990"]]) == pytest.approx((1 + 3) / (2 + 4))
    assert token_accuracy(["abc"], [["xyz", "abz"]]) == pytest.approx(2 / 3)
    assert token_accuracy([""], [[""]]) == 1.0


# ---- edit distance -----------------------------------------------------------------------------


def brute_edit_distance(a, b):
    """The textbook recursion, memoised: an independent reference for the two-row programme."""

    @lru_cache(maxsize=None)
    def d(i, j):
        if i == 0:
            return j
        if j == 0:
            return i
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


@pytest.mark.parametrize(
    "a, b, expected",
    [("kitten", "sitting", 3), ("flaw", "lawn", 2), ("", "abc", 3), ("abc", "", 3), ("", "", 0), ("abc", "abc", 0)],
)
def test_edit_distance_classics(a, b, expected):
    assert edit_distance(a, b) == expected
    assert edit_distance(list(a), list(b)) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abc", max_size=7), st.text(alphabet="abc", max_size=7))
def test_edit_distance_equals_the_recursion(a, b):
    assert edit_distance(a, b) == brute_edit_distance(a, b) == edit_distance(b, a)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["AH", "B", "K"]), max_size=6),
    st.lists(st.sampled_from(["AH", "B", "K"]), max_size=6),
    st.lists(st.sampled_from(["AH", "B", "K"]), max_size=6),
)
def test_edit_distance_is_a_metric_on_token_lists(a, b, c):
    assert edit_distance(a, b) == brute_edit_distance(tuple(a), tuple(b))
    assert edit_distance(a, c) <= edit_distance(a, b) + edit_distance(b, c)


# ---- BLEU and chrF -----------------------------------------------------------------------------

# sacrebleu's README example; it prints BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ...) and chrF2 = 59.73
SYS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
REF_STREAMS = [
    ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
    ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
]
PER_SENTENCE = [list(alternatives) for alternatives in zip(*REF_STREAMS)]


def test_bleu_and_chrf_are_sacrebleus_documented_numbers():
    pytest.importorskip("sacrebleu")
    assert round(bleu(SYS, PER_SENTENCE), 2) == 48.53
    assert round(chrf(SYS, PER_SENTENCE), 2) == 59.73
    assert bleu(SYS[:1], PER_SENTENCE[:1]) == pytest.approx(100.0)


def test_a_sentence_with_fewer_references_is_padded_not_broken():
    sacrebleu = pytest.importorskip("sacrebleu")
    refs = [["The dog bit the man."], PER_SENTENCE[1], PER_SENTENCE[2]]
    # a repeated reference adds nothing, so padding with None must score as repeating the only one
    repeated = [[r[0], r[-1]] for r in refs]
    expected = sacrebleu.corpus_bleu(SYS, [list(s) for s in zip(*repeated)]).score
    assert bleu(SYS, refs) == pytest.approx(expected)
    assert chrf(SYS, refs) == pytest.approx(sacrebleu.corpus_chrf(SYS, [list(s) for s in zip(*repeated)]).score)


def test_bleu_needs_strings_and_sacrebleu(monkeypatch):
    pytest.importorskip("sacrebleu")
    with pytest.raises(InvalidTypeError, match="score strings"):
        bleu([["a", "b"]], [[["a", "b"]]])
    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name.startswith("sacrebleu"):
            raise ImportError("No module named 'sacrebleu'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    with pytest.raises(MissingOptionalDependency, match=r"rnnkit\[seq2seq\]"):
        chrf(SYS, PER_SENTENCE)


# ---- bad input ---------------------------------------------------------------------------------


def test_bad_shapes_are_named():
    with pytest.raises(InvalidValueError, match="2 hypotheses but 1 reference lists"):
        exact_match(["a", "b"], [["a"]])
    with pytest.raises(InvalidValueError, match="empty"):
        exact_match([], [])
    with pytest.raises(InvalidTypeError, match=r"refs\[0\] must be a non-empty list"):
        exact_match(["168"], ["168"])  # a flat list of targets, not a list of lists
    with pytest.raises(InvalidTypeError, match=r"refs\[0\] must be a non-empty list"):
        token_accuracy(["1"], [[]])
    with pytest.raises(InvalidTypeError, match=r"hyps\[1\] is a list of tokens"):
        exact_match(["ab", ["a", "b"]], [["ab"], ["ab"]])
    with pytest.raises(InvalidTypeError, match="hyps must be a list"):
        exact_match("abc", [["abc"]])
    with pytest.raises(InvalidValueError, match="undefined"):
        token_error_rate(["", ""], [[""], [""]])
    with pytest.raises(InvalidTypeError, match="b must be"):
        edit_distance("a", 3)

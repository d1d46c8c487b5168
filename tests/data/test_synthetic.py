"""Synthetic seq2seq tasks: deterministic, disjoint splits, and every target checked by parsing it back.

The date check parses each source with Python's own ``strptime`` (C locale: English names), an
implementation independent of the generator's hand-written month and weekday names.
"""

import datetime as dt
import re

import pytest

from rnnkit._checks import InvalidTypeError, InvalidValueError
from rnnkit.data.parallel import Pairs
from rnnkit.data.synthetic import (
    DATE_FORMATS,
    SYNTHETIC_TASKS,
    addition_pairs,
    date_pairs,
    reversal_pairs,
    synthetic_splits,
)

# ---- addition ----------------------------------------------------------------------------------


def test_addition_targets_are_the_sums():
    pairs = addition_pairs(5000, seed=3)
    assert isinstance(pairs, Pairs) and len(pairs) == 5000
    lengths = set()
    for src, tgt in pairs:
        m = re.fullmatch(r"(0|[1-9]\d{0,2})\+(0|[1-9]\d{0,2})", src)
        assert m, src  # operands of 1..3 digits, no leading zeros, no padding
        a, b = int(m.group(1)), int(m.group(2))
        assert tgt == str(a + b)
        lengths.update((len(m.group(1)), len(m.group(2))))
    assert lengths == {1, 2, 3}


def test_addition_questions_distinct_even_turned_round():
    pairs = addition_pairs(3000, digits=2, seed=1)
    keys = [tuple(sorted(map(int, s.split("+")))) for s in pairs.sources]
    assert len(set(keys)) == len(keys)


def test_addition_one_digit_uses_every_unordered_pair_and_no_more():
    pairs = addition_pairs(55, digits=1)
    assert {tuple(sorted(map(int, s.split("+")))) for s in pairs.sources} == {
        (a, b) for a in range(10) for b in range(a, 10)
    }
    with pytest.raises(InvalidValueError, match="only 55 distinct"):
        addition_pairs(56, digits=1)


# ---- reversal ----------------------------------------------------------------------------------


def test_reversal_targets_are_the_reversed_sources():
    pairs = reversal_pairs(3000, seed=5)
    lengths, values = set(), set()
    for src, tgt in pairs:
        seq = src.split(" ")
        assert all(re.fullmatch(r"0|[1-9]\d*", v) for v in seq)
        assert tgt.split(" ") == seq[::-1]
        lengths.add(len(seq))
        values.update(int(v) for v in seq)
    assert lengths == set(range(1, 26))  # JoeyNMT's lengths 1..25
    assert values == set(range(0, 51))  # integers 0..50
    assert len(set(pairs.sources)) == len(pairs)


def test_reversal_settings():
    pairs = reversal_pairs(200, seed=0, max_value=3, max_length=4)
    assert max(len(s.split()) for s in pairs.sources) <= 4
    assert max(int(v) for s in pairs.sources for v in s.split()) <= 3
    with pytest.raises(InvalidValueError, match="only 6 distinct"):
        reversal_pairs(7, max_value=1, max_length=2)  # 2 + 4 sequences


# ---- dates -------------------------------------------------------------------------------------

# strptime formats written for the test (after the ordinal suffix and "the ... of" are removed)
STRPTIME = [
    "%d %B %Y",
    "%m/%d/%y",
    "%B %d, %Y",
    "%A, %d %b %Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%b %d, %Y",
    "%d %b %Y",
    "%A, %B %d, %Y",
    "%a %d %b %y",
    "%d-%b-%Y",
    "%Y%m%d",
    "%B %d %Y",
    "%Y/%m/%d",
]
ORDINAL = re.compile(r"\b(\d{1,2})(st|nd|rd|th)\b")
WEEKDAY = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\b")


def expected_suffix(day):
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def parse_date(text):
    """The one date ``text`` can mean (all matching formats must agree), and the formats that matched."""
    for m in ORDINAL.finditer(text):
        assert m.group(2) == expected_suffix(int(m.group(1))), text
    plain = ORDINAL.sub(r"\1", text)
    plain = re.sub(r"^the (\d+) of ", r"\1 ", plain)
    found = {}
    for fmt in STRPTIME:
        try:
            parsed = dt.datetime.strptime(plain, fmt).date()
        except ValueError:
            continue
        if "%y" in fmt and parsed.year >= 2050:  # the task's pivot: 50..99 -> 19xx, 00..49 -> 20xx
            parsed = parsed.replace(year=parsed.year - 100)
        found[fmt] = parsed
    assert found, f"no format reads {text!r}"
    assert len(set(found.values())) == 1, f"{text!r} is ambiguous: {found}"
    date = next(iter(found.values()))
    weekday = WEEKDAY.search(text)
    if weekday:
        assert date.strftime("%a") == weekday.group(1), f"{text!r}: {date} is a {date.strftime('%A')}"
    return date, set(found)


def test_every_date_target_is_the_iso_form_of_its_source():
    pairs = date_pairs(4000, seed=11)
    used = set()
    for src, tgt in pairs:
        date, formats = parse_date(src)
        assert tgt == date.isoformat()
        assert dt.date(1950, 1, 1) <= date <= dt.date(2049, 12, 31)
        used |= formats
    assert used == set(STRPTIME)  # every human format occurs
    years = {int(t[:4]) for t in pairs.targets}
    assert min(years) < 1955 and max(years) > 2044


def test_date_examples_from_the_issue():
    text = dict(zip(date_pairs(3000, seed=2).sources, date_pairs(3000, seed=2).targets))
    sample = [s for s in text if s.startswith("the ")][:1] + [s for s in text if re.match(r"\d\d/\d\d/\d\d$", s)][:1]
    assert len(sample) == 2 and all(parse_date(s)[0].isoformat() == text[s] for s in sample)
    assert len(DATE_FORMATS) >= 15


def test_two_digit_years_pivot_at_1950():
    assert parse_date("12/31/49")[0] == dt.date(2049, 12, 31)
    assert parse_date("01/01/50")[0] == dt.date(1950, 1, 1)
    assert parse_date("Tue 3 Mar 98")[0] == dt.date(1998, 3, 3)


# ---- determinism and splits --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SYNTHETIC_TASKS))
def test_same_seed_same_pairs_other_seed_others_and_prefix_stable(name):
    make = SYNTHETIC_TASKS[name]
    a, b = make(2500, seed=7), make(2500, seed=7)
    assert a.sources == b.sources and a.targets == b.targets
    assert make(2500, seed=8).sources != a.sources
    short = make(100, seed=7)
    assert short.sources == a.sources[:100]


@pytest.mark.parametrize("name", sorted(SYNTHETIC_TASKS))
def test_splits_are_disjoint_and_sized(name):
    s = synthetic_splits(name, 3000, 300, 400, seed=1)
    assert (len(s.train), len(s.val), len(s.test)) == (3000, 300, 400)
    train, val, test = set(s.train.sources), set(s.val.sources), set(s.test.sources)
    assert len(train) == 3000 and not (train & val) and not (train & test) and not (val & test)
    if name == "addition":  # not even a question turned round
        key = lambda q: tuple(sorted(q.split("+")))
        assert not ({key(q) for q in train} & {key(q) for q in test | val})
    assert s.test.source.endswith("test") and name in s.train.source


def test_rare_kinds_of_question_reach_every_split():
    """All 55 one-digit + one-digit sums are drawn early; cut in stream order they all fell into the
    test split and the model never saw one in training. Shuffled, each split gets its share."""
    s = synthetic_splits("addition", 20000, 1000, 1000, seed=0)

    def short(sources):
        return sum(1 for q in sources if all(len(x) == 1 for x in q.split("+")))

    assert short(s.train.sources) >= 30 and short(s.test.sources) <= 10
    again = synthetic_splits("addition", 20000, 1000, 1000, seed=0)
    assert again.test.sources == s.test.sources  # still deterministic


def test_bad_arguments():
    with pytest.raises(InvalidValueError, match="synthetic task must be one of"):
        synthetic_splits("copy", 10, 1, 1)
    with pytest.raises(InvalidValueError, match="n_train"):
        synthetic_splits("dates", 0, 1, 1)
    with pytest.raises(InvalidTypeError, match="seed"):
        date_pairs(3, seed=1.5)
    with pytest.raises(InvalidValueError, match="digits must be at most 9"):
        addition_pairs(3, digits=10)
    assert len(reversal_pairs(0)) == 0

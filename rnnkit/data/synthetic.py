"""Synthetic sequence-to-sequence tasks, generated in code: addition, reversal, date formats.

Each generator draws from a seeded ``numpy.random.Generator`` and returns :class:`~rnnkit.data.
parallel.Pairs` whose sources are all different, so the same seed always gives the same pairs on
every machine. They draw in fixed-size batches, so the first ``k`` pairs of ``n`` do not depend on
``n``: :func:`synthetic_splits` cuts one stream into test, then validation, then training, so a
larger training set leaves the test set as it was, and no source is in two splits.

* :func:`addition_pairs` -- ``"123+45" -> "168"``, after the Keras ``addition_rnn`` example: each
  operand has 1 to ``digits`` digits (the count uniform, then the value uniform among numbers of
  that many digits), no padding (batching pads). ``a+b`` and ``b+a`` count as the same question,
  as in Keras, so a test question is never a training question turned round.
* :func:`reversal_pairs` -- JoeyNMT's reverse task: ``"7 0 42" -> "42 0 7"``, a length uniform in
  1..``max_length`` and integers uniform in 0..``max_value`` (JoeyNMT's script draws 0..49 with
  ``randint(50)``; the issue's 0-50 is kept here). Sources are distinct, so the 51 one-number
  sequences are soon used up and short sequences are a little rarer than the uniform length says.
* :func:`date_pairs` -- a date uniform in 1950-01-01..2049-12-31, written in one of
  :data:`DATE_FORMATS` (chosen uniformly) -> ISO 8601 ``"1998-03-03"``. Month and weekday names are
  English, written here (no locale). Numeric orders are fixed by the separator so that no string is
  ambiguous: ``/`` is US month/day/year (``03/03/98``), ``.`` European day.month.year, ``-`` and
  ``/`` after a four-digit year are year/month/day. A two-digit year ``YY`` means 19YY for 50..99 and
  20YY for 00..49, exact over the range.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import numpy as np

from .._checks import InvalidValueError, choice, non_negative_int, positive_int
from .parallel import Pairs

__all__ = [
    "addition_pairs",
    "reversal_pairs",
    "date_pairs",
    "synthetic_splits",
    "SyntheticSplits",
    "SYNTHETIC_TASKS",
    "DATE_FORMATS",
    "MONTHS",
    "WEEKDAYS",
]

_BATCH = 1024  # draws per batch: fixed, so the first k pairs do not depend on how many are asked for

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # date.weekday() order

#: the human formats of :func:`date_pairs`, written for 3 March 1998 (a Tuesday) in the comments
DATE_FORMATS = (
    "{D} {Month} {YYYY}",  # 3 March 1998
    "{MM}/{DD}/{YY}",  # 03/03/98
    "{Month} {D}, {YYYY}",  # March 3, 1998
    "{Weekday}, {D} {Mon} {YYYY}",  # Tuesday, 3 Mar 1998
    "{M}/{D}/{YYYY}",  # 3/3/1998
    "{DD}.{MM}.{YYYY}",  # 03.03.1998
    "{D}.{M}.{YY}",  # 3.3.98
    "{Mon} {D}, {YYYY}",  # Mar 3, 1998
    "{D} {Mon} {YYYY}",  # 3 Mar 1998
    "{Dth} {Month} {YYYY}",  # 3rd March 1998
    "{Month} {Dth}, {YYYY}",  # March 3rd, 1998
    "the {Dth} of {Month} {YYYY}",  # the 3rd of March 1998
    "{Weekday}, {Month} {D}, {YYYY}",  # Tuesday, March 3, 1998
    "{Wkd} {D} {Mon} {YY}",  # Tue 3 Mar 98
    "{DD}-{MON}-{YYYY}",  # 03-MAR-1998
    "{YYYY}{MM}{DD}",  # 19980303
    "{month} {D} {YYYY}",  # march 3 1998
    "{YYYY}/{MM}/{DD}",  # 1998/03/03
    "{D} {MONTH} {YYYY}",  # 3 MARCH 1998
)

_FIRST_DATE = dt.date(1950, 1, 1)
_LAST_DATE = dt.date(2049, 12, 31)


def _ordinal(day: int) -> str:
    """1st 2nd 3rd 4th ... 11th 12th 13th ... 21st 22nd 23rd ... 31st."""
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def format_date(date: dt.date, template: str) -> str:
    """``date`` written in ``template`` (one of :data:`DATE_FORMATS`' placeholders)."""
    month = MONTHS[date.month - 1]
    weekday = WEEKDAYS[date.weekday()]
    return template.format(
        D=date.day,
        DD=f"{date.day:02d}",
        Dth=_ordinal(date.day),
        M=date.month,
        MM=f"{date.month:02d}",
        Month=month,
        Mon=month[:3],
        MON=month[:3].upper(),
        MONTH=month.upper(),
        month=month.lower(),
        YYYY=f"{date.year:04d}",
        YY=f"{date.year % 100:02d}",
        Weekday=weekday,
        Wkd=weekday[:3],
    )


# ---- the generators ----------------------------------------------------------------------------

# A batch drawer: rng -> list of (key, source, target); the key decides what counts as a repeat.
Draw = Callable[[np.random.Generator], List[Tuple[object, str, str]]]


def _distinct(n: int, seed: int, draw: Draw, capacity: int, what: str, where: str) -> Pairs:
    if n > capacity:
        raise InvalidValueError(f"{what} has only {capacity} distinct examples; cannot draw n={n}")
    rng = np.random.default_rng(seed)
    seen: set = set()
    sources: List[str] = []
    targets: List[str] = []
    while len(sources) < n:
        for key, src, tgt in draw(rng):
            if key in seen:
                continue
            seen.add(key)
            sources.append(src)
            targets.append(tgt)
            if len(sources) == n:
                break
    return Pairs(sources, targets, where)


def _seed(seed: object) -> int:
    return non_negative_int("seed", seed)


def addition_pairs(n: int, digits: int = 3, seed: int = 0) -> Pairs:
    """``n`` distinct addition questions ``"a+b"`` with their sums, operands of 1..``digits`` digits.

    Example: ``"123+45" -> "168"``. Distinct means distinct as unordered operand pairs.
    """
    n = non_negative_int("n", n)
    digits = positive_int("digits", digits)
    if digits > 9:
        raise InvalidValueError(f"digits must be at most 9 (operands below 10**9), got {digits}")
    seed = _seed(seed)
    low = np.array([0] + [10 ** (k - 1) for k in range(2, digits + 1)])  # smallest number with k digits
    high = np.array([10**k for k in range(1, digits + 1)])  # one past the largest

    def draw(rng: np.random.Generator):
        k = rng.integers(0, digits, size=(_BATCH, 2))  # digit count - 1, per operand
        values = rng.integers(low[k], high[k])  # uniform among the numbers with that many digits
        return [((min(a, b), max(a, b)), f"{a}+{b}", str(a + b)) for a, b in values.tolist()]

    count = 10**digits
    return _distinct(
        n,
        seed,
        draw,
        count * (count + 1) // 2,
        f"addition with {digits} digits",
        f"addition(digits={digits}, seed={seed})",
    )


def reversal_pairs(n: int, seed: int = 0, max_value: int = 50, max_length: int = 25) -> Pairs:
    """``n`` distinct sequences of space-separated integers in 0..``max_value`` (length 1..
    ``max_length``) and the same sequence reversed: ``"7 0 42" -> "42 0 7"``."""
    n = non_negative_int("n", n)
    seed = _seed(seed)
    max_value = non_negative_int("max_value", max_value)
    max_length = positive_int("max_length", max_length)

    def draw(rng: np.random.Generator):
        lengths = rng.integers(1, max_length + 1, size=_BATCH)
        values = rng.integers(0, max_value + 1, size=(_BATCH, max_length))
        out = []
        for length, row in zip(lengths.tolist(), values.tolist()):
            seq = [str(v) for v in row[:length]]
            src = " ".join(seq)
            out.append((src, src, " ".join(reversed(seq))))
        return out

    symbols = max_value + 1
    capacity = sum(symbols**length for length in range(1, max_length + 1))
    return _distinct(
        n,
        seed,
        draw,
        capacity,
        f"reversal with values 0..{max_value} and lengths 1..{max_length}",
        f"reverse(max_value={max_value}, max_length={max_length}, seed={seed})",
    )


def date_pairs(n: int, seed: int = 0) -> Pairs:
    """``n`` distinct dates from 1950-01-01..2049-12-31 written in a human format of
    :data:`DATE_FORMATS`, each with its ISO 8601 form: ``"Tuesday, 3 Mar 1998" -> "1998-03-03"``."""
    n = non_negative_int("n", n)
    seed = _seed(seed)
    first = _FIRST_DATE.toordinal()
    days = _LAST_DATE.toordinal() - first + 1

    def draw(rng: np.random.Generator):
        offsets = rng.integers(0, days, size=_BATCH)
        formats = rng.integers(0, len(DATE_FORMATS), size=_BATCH)
        out = []
        for offset, f in zip(offsets.tolist(), formats.tolist()):
            date = dt.date.fromordinal(first + offset)
            src = format_date(date, DATE_FORMATS[f])
            out.append((src, src, date.isoformat()))
        return out

    # no two (date, format) render alike (the separators and year widths tell the formats apart)
    return _distinct(
        n, seed, draw, days * len(DATE_FORMATS), "dates 1950-2049 in the formats of DATE_FORMATS", f"dates(seed={seed})"
    )


# ---- splits ------------------------------------------------------------------------------------

#: task name (as ``--dataset`` spells it) -> generator
SYNTHETIC_TASKS: Dict[str, Callable[..., Pairs]] = {
    "addition": addition_pairs,
    "reverse": reversal_pairs,
    "dates": date_pairs,
}


@dataclass(frozen=True)
class SyntheticSplits:
    """Three disjoint sets of pairs (no source in two of them)."""

    train: Pairs
    val: Pairs
    test: Pairs


def synthetic_splits(name: str, n_train: int, n_val: int, n_test: int, seed: int = 0) -> SyntheticSplits:
    """Training, validation and test pairs of the task ``name`` (``"addition"``, ``"reverse"``,
    ``"dates"``, with each generator's defaults), disjoint by construction: ``n_test + n_val +
    n_train`` distinct pairs are drawn, put in a random order (seeded) and cut into test,
    validation and training. The shuffle matters: a stream of distinct pairs exhausts the rare
    kinds first (there are only 55 one-digit + one-digit sums), and cutting the stream in order
    put every one of them into the test split, never into training."""
    name = choice("synthetic task", name, SYNTHETIC_TASKS)
    n_train = positive_int("n_train", n_train)
    n_val = non_negative_int("n_val", n_val)
    n_test = non_negative_int("n_test", n_test)
    seed = _seed(seed)
    drawn = SYNTHETIC_TASKS[name](n_test + n_val + n_train, seed=seed)
    order = np.random.default_rng([seed, 1]).permutation(len(drawn.sources))
    pairs = Pairs([drawn.sources[i] for i in order], [drawn.targets[i] for i in order], drawn.source)
    cuts = {"test": (0, n_test), "val": (n_test, n_test + n_val), "train": (n_test + n_val, len(pairs))}
    parts = {
        split: Pairs(pairs.sources[a:b], pairs.targets[a:b], f"{pairs.source} {split}")
        for split, (a, b) in cuts.items()
    }
    return SyntheticSplits(**parts)

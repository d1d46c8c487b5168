"""Metrics for sequence-to-sequence outputs: exact match, token accuracy, edit-distance error rates,
and BLEU / chrF through ``sacrebleu``.

Every function takes ``hyps`` -- one output per example -- and ``refs`` -- per example, a non-empty
list of its *acceptable* outputs (a word with two pronunciations has two; most tasks have one:
``refs = [[t] for t in targets]``). A sequence is a ``str`` (its tokens are its characters) or a
list/tuple of tokens (``"R IY D".split()`` for phonemes or words, or token ids); all of ``hyps``
and ``refs`` must be of one kind.

With ``N`` examples, hypothesis ``h_i`` and references ``R_i``, and ``d`` the Levenshtein distance:

* exact match      ``EM = (1/N) sum_i [h_i in R_i]`` -- right if it equals any reference;
* word error rate  ``WER = 1 - EM`` -- G2P's "word error rate": the share of words (examples) not
  exactly right (not ASR's word-level edit distance; for that, pass word lists to
  :func:`token_error_rate`);
* token error rate ``TER = sum_i d(h_i, r_i*) / sum_i |r_i*|``, ``r_i*`` the reference nearest to
  ``h_i`` (ties to the longer one): the phoneme error rate of G2P, character or word error rate
  elsewhere. It can exceed 1 when hypotheses are much longer than references;
* token accuracy   ``sum_i matches(h_i, r_i+) / sum_i max(|h_i|, |r_i+|)`` with ``matches`` the
  positions where both hold the same token and ``r_i+`` the reference with the most of them: both
  padded to the longer length, so missing and extra tokens count as wrong (the per-character
  accuracy of Keras's addition example, without its fixed answer width);
* BLEU and chrF: sacrebleu's corpus-level scores (0-100) with its defaults (BLEU: 13a tokenisation,
  exponential smoothing; chrF: character 6-grams, beta 2), ``hyps`` and ``refs`` as strings; a
  sentence with fewer references than others is padded with ``None``, which sacrebleu skips.
  ``sacrebleu`` is optional (``pip install 'rnnkit[seq2seq]'``); BLEU is never written by hand here.
"""

from __future__ import annotations

from typing import Hashable, List, Sequence, Tuple, Union

from .._checks import InvalidTypeError, InvalidValueError, MissingOptionalDependency, describe

__all__ = [
    "exact_match",
    "word_error_rate",
    "token_accuracy",
    "edit_distance",
    "token_error_rate",
    "error_rate",
    "bleu",
    "chrf",
]

Seq = Union[str, Sequence[Hashable]]


# ---- checks ------------------------------------------------------------------------------------


def _as_seq(value: object, where: str, want_str: bool) -> Union[str, Tuple[Hashable, ...]]:
    if isinstance(value, str):
        if not want_str:
            raise InvalidTypeError(f"{where} is a str but the first hypothesis is a list of tokens; use one kind")
        return value
    if isinstance(value, (list, tuple)):
        if want_str:
            raise InvalidTypeError(f"{where} is a list of tokens but the first hypothesis is a str; use one kind")
        return tuple(value)
    raise InvalidTypeError(f"{where} must be a str or a list of tokens, got {describe(value)}")


def _checked(hyps: object, refs: object) -> Tuple[list, List[list]]:
    """``hyps`` and ``refs`` as (str or tuple) sequences, after checking their shape."""
    for name, value in (("hyps", hyps), ("refs", refs)):
        if not isinstance(value, (list, tuple)):
            raise InvalidTypeError(f"{name} must be a list (one entry per example), got {describe(value)}")
    if not hyps:
        raise InvalidValueError("hyps is empty; a metric needs at least one example")
    if len(hyps) != len(refs):
        raise InvalidValueError(
            f"{len(hyps)} hypotheses but {len(refs)} reference lists; each hypothesis needs its list of references"
        )
    want_str = isinstance(hyps[0], str)
    out_hyps = [_as_seq(h, f"hyps[{i}]", want_str) for i, h in enumerate(hyps)]
    out_refs = []
    for i, alternatives in enumerate(refs):
        if not isinstance(alternatives, (list, tuple)) or not alternatives:
            raise InvalidTypeError(
                f"refs[{i}] must be a non-empty list of acceptable outputs (e.g. [target]), "
                f"got {describe(alternatives)}"
            )
        out_refs.append([_as_seq(r, f"refs[{i}][{j}]", want_str) for j, r in enumerate(alternatives)])
    return out_hyps, out_refs


# ---- exact match -------------------------------------------------------------------------------


def exact_match(hyps: Sequence[Seq], refs: Sequence[Sequence[Seq]]) -> float:
    """The share of hypotheses equal to one of their references, in [0, 1]."""
    hyps, refs = _checked(hyps, refs)
    return sum(h in alternatives for h, alternatives in zip(hyps, refs)) / len(hyps)


def word_error_rate(hyps: Sequence[Seq], refs: Sequence[Sequence[Seq]]) -> float:
    """G2P's word error rate: the share of examples not exactly right, ``1 - exact_match``."""
    return 1.0 - exact_match(hyps, refs)


# ---- token accuracy ----------------------------------------------------------------------------


def token_accuracy(hyps: Sequence[Seq], refs: Sequence[Sequence[Seq]]) -> float:
    """Position-wise token accuracy, hypothesis and reference padded to the longer length (see the
    module docstring); 1.0 when every hypothesis and its best reference are empty."""
    hyps, refs = _checked(hyps, refs)
    right = total = 0
    for h, alternatives in zip(hyps, refs):
        best = (-1.0, 0, 0)  # (accuracy, matches, length) of the best reference so far
        for r in alternatives:
            length = max(len(h), len(r))
            matches = sum(a == b for a, b in zip(h, r))
            accuracy = matches / length if length else 1.0
            if accuracy > best[0]:
                best = (accuracy, matches, length)
        right += best[1]
        total += best[2]
    return right / total if total else 1.0


# ---- edit distance -----------------------------------------------------------------------------


def edit_distance(a: Seq, b: Seq) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions (each costing 1)
    turning ``a`` into ``b``, by the iterative dynamic programme over two rows:

        D[i][j] = min(D[i-1][j] + 1, D[i][j-1] + 1, D[i-1][j-1] + [a_i != b_j]),  D[i][0] = i, D[0][j] = j

    O(|a| |b|) time, O(min(|a|, |b|)) memory. ``a`` and ``b`` are strings or token lists."""
    for name, value in (("a", a), ("b", b)):
        if not isinstance(value, (str, list, tuple)):
            raise InvalidTypeError(f"{name} must be a str or a list of tokens, got {describe(value)}")
    if len(a) < len(b):
        a, b = b, a  # the row runs over the shorter one
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def token_error_rate(hyps: Sequence[Seq], refs: Sequence[Sequence[Seq]]) -> float:
    """Edit distance to the nearest reference over the length of that reference, summed over the
    corpus (phoneme error rate for G2P; see the module docstring). Refused when every chosen
    reference is empty (the rate is undefined)."""
    hyps, refs = _checked(hyps, refs)
    errors = length = 0
    for h, alternatives in zip(hyps, refs):
        distance, neg_len = min((edit_distance(h, r), -len(r)) for r in alternatives)
        errors += distance
        length -= neg_len
    if length == 0:
        raise InvalidValueError("every reference is empty: an error rate over zero reference tokens is undefined")
    return errors / length


#: the general name: edit-distance error rate at whatever level the tokens are (characters, words, phonemes)
error_rate = token_error_rate


# ---- BLEU and chrF (sacrebleu) -----------------------------------------------------------------


def _import_sacrebleu():
    try:
        import sacrebleu.metrics
    except ImportError:
        raise MissingOptionalDependency(
            "BLEU and chrF need the optional 'sacrebleu' package: "
            "pip install 'rnnkit[seq2seq]' (or pip install sacrebleu)"
        ) from None
    return sacrebleu.metrics


def _streams(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> Tuple[List[str], List[List]]:
    """sacrebleu's layout: reference *streams* (stream j holds every sentence's j-th reference),
    ``None`` where a sentence has fewer references."""
    hyps, refs = _checked(hyps, refs)
    if not isinstance(hyps[0], str):
        raise InvalidTypeError("BLEU and chrF score strings: pass hyps and refs as str (join tokens with spaces)")
    width = max(len(alternatives) for alternatives in refs)
    streams = [[alternatives[j] if j < len(alternatives) else None for alternatives in refs] for j in range(width)]
    return list(hyps), streams


def bleu(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """sacrebleu's corpus BLEU (0-100) with its defaults (13a tokenisation, exponential smoothing)."""
    metrics = _import_sacrebleu()
    hyps, streams = _streams(hyps, refs)
    return float(metrics.BLEU().corpus_score(hyps, streams).score)


def chrf(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """sacrebleu's corpus chrF (0-100) with its defaults (character 6-grams, beta = 2)."""
    metrics = _import_sacrebleu()
    hyps, streams = _streams(hyps, refs)
    return float(metrics.CHRF().corpus_score(hyps, streams).score)

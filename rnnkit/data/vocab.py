"""Vocabularies: map text to token ids and back, at character, word or subword (BPE) level.

A :class:`Vocabulary` holds a :class:`~rnnkit.data.tokenizers.Tokenizer` (how text is cut into
tokens: ``CharTokenizer``, ``WordTokenizer`` or ``BPETokenizer``) and adds ids, special tokens and
an unknown-token policy. Ids are laid out as ``specials + symbols``: the special tokens first (by
default only ``<unk>``, id 0), then the symbols seen in the corpus in sorted order (for BPE, the
tokenizer's own order), so the same corpus always gives the same ids.

Levels (``level=`` takes the name or a tokenizer; ``vocab.level`` is the name):

* ``"char"`` (default) -- every character is a token (char-rnn). Decoding is exact.
* ``"word"`` -- words (``\\w+``), single punctuation marks and newlines are tokens. Decoding joins
  tokens with single spaces (newlines kept), so it does not restore the original spacing.
* ``"bpe"`` -- byte-level byte-pair encoding trained on the corpus with the optional ``tokenizers``
  package (``pip install 'rnnkit[bpe]'``; without it
  :class:`~rnnkit._checks.MissingOptionalDependency` says so). Byte-level BPE covers every string,
  so no token is unknown.

Unknown-token policy (what :meth:`Vocabulary.encode` does with a symbol that has no id):

* ``"error"`` -- raise :class:`~rnnkit._checks.InvalidValueError` naming the unknown symbols;
* ``"replace"`` -- map each to ``<unk>`` and warn (:class:`UnknownTokenWarning`) naming them;
* ``"skip"`` -- drop them and warn naming them.

A vocabulary is saved as JSON (:meth:`Vocabulary.save`, :meth:`Vocabulary.load`) next to the
model: ``{"format": "rnnkit.vocabulary", "version": 1, "level", "unknown", "specials", "symbols"}``
and, for BPE, the learned ``"tokenizer"``.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Union

from .._checks import (
    FileFormatError,
    InvalidTypeError,
    InvalidValueError,
    MissingFileError,
    choice,
    is_int,
    positive_int,
)
from .corpus import PathLike, atomic_write
from .tokenizers import Tokenizer, tokenizer_for, tokenizer_from_dict

UNK = "<unk>"
UNKNOWN_POLICIES = ("error", "replace", "skip")
FORMAT = "rnnkit.vocabulary"
FORMAT_VERSION = 1


def foreign_content(data: bytes) -> Optional[str]:
    """What a file that should hold JSON (or safetensors) holds instead, judged from its first bytes:
    ``"is empty"``, a zip archive or a pickle (named so, never unpickled); None if nothing is
    recognised. The model format (:mod:`rnnkit.models.format`) sniffs its files with it too."""
    if not data:
        return "is empty"
    if data[:2] == b"PK" and data[2:4] in (b"\x03\x04", b"\x05\x06"):
        return "is a zip archive (torch.save writes one: a pickle inside a zip)"
    # a pickle (protocol 2+): PROTO, its number, an opcode (never 0). Not a safetensors file whose
    # 8-byte little-endian header length starts the same way: its JSON header opens at byte 8.
    if len(data) > 2 and data[0] == 0x80 and 2 <= data[1] <= 5 and data[2] != 0 and data[8:9] != b"{":
        return "looks like a pickle (torch.save) file"
    return None


class UnknownTokenWarning(UserWarning):
    """Emitted when ``encode`` replaces or skips symbols that are not in the vocabulary."""


def _check_policy(unknown: object) -> str:
    return choice("unknown (the unknown-token policy)", unknown, UNKNOWN_POLICIES)


def _describe_unknown(counts: Counter, limit: int = 10) -> str:
    shown = ", ".join(f"{sym!r} (x{n})" for sym, n in counts.most_common(limit))
    more = len(counts) - limit
    return shown + (f" and {more} more" if more > 0 else "")


class Vocabulary:
    """Token <-> id mapping with a tokenizer, special tokens and an unknown-token policy.

    Build one from a corpus with :meth:`from_text`; the constructor takes the symbols directly.

    Args:
        symbols: the corpus symbols (characters for ``"char"``, words for ``"word"``), in id order
            after the specials. Must be unique strings and not repeat a special.
        level: ``"char"``, ``"word"`` or a :class:`~rnnkit.data.tokenizers.Tokenizer`. A ``"bpe"``
            vocabulary comes from :meth:`from_text` or :meth:`from_json` (or takes a trained
            ``BPETokenizer`` whose own tokens are ``specials + symbols``).
        specials: special tokens, ids ``0 .. len(specials) - 1``. Must contain ``"<unk>"`` for the
            ``"replace"`` policy, unless the tokenizer covers every text (BPE).
        unknown: the unknown-token policy, ``"error"``, ``"replace"`` or ``"skip"``.

    Attributes:
        tokenizer: the :class:`~rnnkit.data.tokenizers.Tokenizer`; :attr:`level` is its name.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        level: Union[str, Tokenizer] = "char",
        specials: Sequence[str] = (UNK,),
        unknown: str = "replace",
    ) -> None:
        self.tokenizer: Tokenizer = tokenizer_for(level)
        if not self.tokenizer.trained:
            raise InvalidValueError(
                f"a {self.level!r} vocabulary is trained with Vocabulary.from_text(text, level={self.level!r})"
            )
        self.unknown = _check_policy(unknown)
        if isinstance(specials, str) or not all(isinstance(s, str) and s for s in specials):
            raise InvalidTypeError(f"specials must be a sequence of non-empty strings, got {specials!r}")
        self.specials = tuple(specials)
        symbols = list(symbols)
        for s in symbols:
            if not isinstance(s, str) or not s:
                raise InvalidTypeError(f"every symbol must be a non-empty string, got {s!r}")
            self.tokenizer.check_symbol(s)
        tokens = list(self.specials) + symbols
        if len(set(tokens)) != len(tokens):
            dupes = sorted(t for t, n in Counter(tokens).items() if n > 1)
            raise InvalidValueError(f"tokens must be unique; repeated: {dupes!r}")
        if not symbols:
            raise InvalidValueError("a vocabulary needs at least one symbol besides the specials")
        own = self.tokenizer.vocabulary
        if own is not None and own != tokens:
            raise InvalidValueError(
                f"the {self.level!r} tokenizer's own tokens ({len(own)}) are not the "
                f"specials and symbols given ({len(tokens)}), in the same order"
            )
        self._tokens: List[str] = tokens
        self._index: Dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.unk_id: Optional[int] = self._index.get(UNK) if UNK in self.specials else None
        if self.unknown == "replace" and self.unk_id is None and not self.tokenizer.covers_all_text:
            raise InvalidValueError(
                f"the 'replace' policy needs {UNK!r} among the specials, got specials={self.specials!r}"
            )

    @property
    def level(self) -> str:
        """The tokenizer's name: ``"char"``, ``"word"`` or ``"bpe"`` (as saved in ``vocab.json``)."""
        return self.tokenizer.name

    # ---- building ----------------------------------------------------------------------------
    @classmethod
    def from_text(
        cls,
        text: str,
        level: Union[str, Tokenizer] = "char",
        *,
        specials: Sequence[str] = (UNK,),
        unknown: str = "replace",
        min_freq: int = 1,
        max_size: Optional[int] = None,
    ) -> "Vocabulary":
        """Build the vocabulary of ``text``.

        Args:
            level: ``"char"``, ``"word"``, ``"bpe"`` or a :class:`~rnnkit.data.tokenizers.Tokenizer`.
            min_freq: keep symbols seen at least this often (for BPE: merges seen this often).
            max_size: at most this many ids in all, specials included: the most frequent symbols
                are kept (ties broken by the symbol). For ``"bpe"`` it is the BPE vocabulary size
                (default 1000).
        """
        if not isinstance(text, str):
            raise InvalidTypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise InvalidValueError("cannot build a vocabulary from an empty text")
        tokenizer = tokenizer_for(level)
        positive_int("min_freq", min_freq)
        if max_size is not None and (not is_int(max_size) or max_size <= len(specials)):
            raise InvalidValueError(
                f"max_size must be None or an int > len(specials) = {len(specials)}, got {max_size!r}"
            )
        tokenizer, symbols = tokenizer.learn(text, specials=specials, min_freq=min_freq, max_size=max_size)
        if not symbols:
            raise InvalidValueError(f"no symbol of the text occurs at least min_freq={min_freq} times")
        return cls(symbols, level=tokenizer, specials=specials, unknown=unknown)

    # ---- lookups -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._tokens)

    @property
    def size(self) -> int:
        """Number of ids, specials included (the model's ``vocab_size``)."""
        return len(self._tokens)

    @property
    def tokens(self) -> List[str]:
        """All tokens in id order (specials first)."""
        return list(self._tokens)

    @property
    def special_ids(self) -> List[int]:
        return list(range(len(self.specials)))

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def id_of(self, token: str) -> int:
        """The id of ``token``; :class:`InvalidValueError` if it is not in the vocabulary."""
        try:
            return self._index[token]
        except (KeyError, TypeError):
            raise InvalidValueError(f"token {token!r} is not in the vocabulary ({len(self)} tokens)") from None

    def token_of(self, id: int) -> str:
        """The token with id ``id``; :class:`InvalidValueError` if it is out of range."""
        self._check_id(id)
        return self._tokens[id]

    def _check_id(self, i: object) -> int:
        if not is_int(i):
            raise InvalidTypeError(f"token ids must be ints, got {i!r} of type {type(i).__name__}")
        if not 0 <= i < len(self._tokens):
            raise InvalidValueError(f"token id {i} is outside the vocabulary: expected 0 <= id < {len(self._tokens)}")
        return int(i)

    # ---- encode / decode ---------------------------------------------------------------------
    def tokenize(self, text: str) -> List[str]:
        """Split ``text`` into this vocabulary's tokens (not yet looked up)."""
        return self.tokenizer.tokenize(text)

    def encode(self, text: str, unknown: Optional[str] = None) -> List[int]:
        """Token ids of ``text``. ``unknown`` overrides this vocabulary's unknown-token policy."""
        policy = self.unknown if unknown is None else _check_policy(unknown)
        tokens = self.tokenize(text)
        get = self._index.get
        ids = [get(t, -1) for t in tokens]
        if -1 not in ids:
            return ids
        missing = Counter(t for t, i in zip(tokens, ids, strict=True) if i < 0)
        desc = _describe_unknown(missing)
        total = sum(missing.values())
        if policy == "error":
            raise InvalidValueError(
                f"{total} symbols are not in the vocabulary: {desc}; "
                f"use unknown='replace' (map to {UNK!r}) or unknown='skip' to encode them anyway"
            )
        if policy == "replace":
            if self.unk_id is None:
                raise InvalidValueError(f"cannot replace unknown symbols ({desc}): {UNK!r} is not among the specials")
            warnings.warn(f"replaced {total} unknown symbols with {UNK!r}: {desc}", UnknownTokenWarning, stacklevel=2)
            unk = self.unk_id
            return [unk if i < 0 else i for i in ids]
        warnings.warn(f"skipped {total} unknown symbols: {desc}", UnknownTokenWarning, stacklevel=2)
        return [i for i in ids if i >= 0]

    def decode(self, ids: Iterable[int], skip_specials: bool = False) -> str:
        """Text of ``ids`` (a list of ints or an integer tensor). Special tokens appear as their
        names (``"<unk>"``) unless ``skip_specials``. Word level joins tokens with single spaces."""
        if hasattr(ids, "tolist"):  # a tensor or array
            if getattr(ids, "ndim", 1) > 1:
                raise InvalidValueError(f"decode takes a 1-D sequence of ids, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        ids = [self._check_id(i) for i in ids]
        if skip_specials:
            n_special = len(self.specials)
            ids = [i for i in ids if i >= n_special]
        return self.tokenizer.detokenize([self._tokens[i] for i in ids])

    # ---- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "level": self.level,
            "unknown": self.unknown,
            "specials": list(self.specials),
            "symbols": self._tokens[len(self.specials) :],
        }
        d.update({k: v for k, v in self.tokenizer.to_dict().items() if k != "level"})  # e.g. BPE's merges
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        """The vocabulary a :meth:`to_dict` document describes; :class:`FileFormatError` if it is malformed."""
        if not isinstance(d, dict):
            raise FileFormatError(f"a vocabulary is a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT:
            raise FileFormatError(f"not a rnnkit vocabulary: 'format' is {d.get('format')!r}, expected {FORMAT!r}")
        if d.get("version") != FORMAT_VERSION:
            raise FileFormatError(
                f"unsupported vocabulary version {d.get('version')!r}; this rnnkit reads version {FORMAT_VERSION}"
            )
        missing = [k for k in ("level", "unknown", "specials", "symbols") if k not in d]
        if missing:
            raise FileFormatError(f"vocabulary JSON lacks the fields {missing}")
        for key in ("specials", "symbols"):
            if not isinstance(d[key], list):
                raise FileFormatError(f"the vocabulary's {key!r} must be a JSON list, got {type(d[key]).__name__}")
        if not isinstance(d["level"], str):
            raise FileFormatError(f"the vocabulary's 'level' must be a string, got {d['level']!r:.60}")
        tokenizer = tokenizer_from_dict(d)
        try:
            return cls(d["symbols"], level=tokenizer, specials=d["specials"], unknown=d["unknown"])
        except (InvalidValueError, InvalidTypeError) as err:  # a bad document, not a bad call
            raise FileFormatError(str(err)) from None

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> "Vocabulary":
        """The vocabulary in a JSON document; :class:`FileFormatError` if it is not one (a pickle or a
        zip archive is named as such, and never unpickled)."""
        try:
            d = json.loads(bytes(text).decode("utf-8") if isinstance(text, (bytes, bytearray)) else text)
        except UnicodeDecodeError as err:
            detail = f"vocabulary is not UTF-8 text ({err.reason} at byte {err.start})"
        except RecursionError:
            detail = "vocabulary is not valid JSON for rnnkit: it is nested too deeply"
        except ValueError as err:  # JSONDecodeError, and numbers of more digits than Python converts
            detail = f"vocabulary is not valid JSON: {err}"
        else:
            return cls.from_dict(d)
        foreign = foreign_content(text.encode("utf-8") if isinstance(text, str) else bytes(text))
        if foreign == "is empty":
            detail += " (the file is empty)"
        elif foreign:
            detail = f"the vocabulary {foreign}, not JSON: rnnkit never unpickles a file (a pickle can run any code)"
        raise FileFormatError(detail)

    def save(self, path: PathLike) -> None:
        """Write the vocabulary as JSON to ``path`` atomically."""
        atomic_write(path, self.to_json())

    @classmethod
    def load(cls, path: PathLike) -> "Vocabulary":
        """Read a vocabulary written by :meth:`save`: :class:`MissingFileError` if there is none,
        :class:`FileFormatError` naming the file if it cannot be read as one."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise MissingFileError(f"vocabulary file {path!r} does not exist")
        try:
            with open(path, "rb") as f:
                data = f.read()
            return cls.from_json(data)
        except (FileFormatError, InvalidValueError, InvalidTypeError) as err:
            raise FileFormatError(f"{path!r} is not a readable vocabulary: {err}") from None
        except OSError as err:
            raise FileFormatError(f"{path!r} cannot be read: {err.strerror or err}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        mine = (self.level, self.unknown, self.specials, self._tokens)
        return mine == (other.level, other.unknown, other.specials, other._tokens)

    def __repr__(self) -> str:
        return (
            f"Vocabulary(level={self.level!r}, size={len(self)}, specials={self.specials!r}, unknown={self.unknown!r})"
        )

"""Vocabularies: map text to token ids and back, at character, word or subword (BPE) level.

Ids are laid out as ``specials + symbols``: the special tokens first (by default only ``<unk>``,
id 0), then the symbols seen in the corpus in sorted order, so the same corpus always gives the
same ids.

Levels:

* ``"char"`` (default) -- every character is a token (char-rnn). Decoding is exact.
* ``"word"`` -- words (``\\w+``), single punctuation marks and newlines are tokens. Decoding joins
  tokens with single spaces (newlines kept), so it does not restore the original spacing.
* ``"bpe"`` -- byte-level byte-pair encoding trained on the corpus with the optional ``tokenizers``
  package (``pip install 'rnnkit[bpe]'``; without it :class:`MissingOptionalDependency` says so).
  Byte-level BPE covers every string, so no token is unknown.

Unknown-token policy (what :meth:`Vocabulary.encode` does with a symbol that has no id):

* ``"error"`` -- raise ``ValueError`` naming the unknown symbols;
* ``"replace"`` -- map each to ``<unk>`` and warn (:class:`UnknownTokenWarning`) naming them;
* ``"skip"`` -- drop them and warn naming them.

A vocabulary is saved as JSON (:meth:`Vocabulary.save`, :meth:`Vocabulary.load`) next to the model.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Union

from .corpus import PathLike, atomic_write

UNK = "<unk>"
LEVELS = ("char", "word", "bpe")
UNKNOWN_POLICIES = ("error", "replace", "skip")
FORMAT = "rnnkit.vocabulary"
FORMAT_VERSION = 1

_WORD_RE = re.compile(r"\n|\w+|[^\w\s]")


class UnknownTokenWarning(UserWarning):
    """Emitted when ``encode`` replaces or skips symbols that are not in the vocabulary."""


def _check_level(level: object) -> str:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    return level  # type: ignore[return-value]


def _check_policy(unknown: object) -> str:
    if unknown not in UNKNOWN_POLICIES:
        raise ValueError(f"unknown (the unknown-token policy) must be one of {UNKNOWN_POLICIES}, got {unknown!r}")
    return unknown  # type: ignore[return-value]


def _describe_unknown(counts: Counter, limit: int = 10) -> str:
    shown = ", ".join(f"{sym!r} (x{n})" for sym, n in counts.most_common(limit))
    more = len(counts) - limit
    return shown + (f" and {more} more" if more > 0 else "")


class MissingOptionalDependency(ImportError):
    """An optional package that a feature needs is not installed; the message says how to install it."""


def _import_tokenizers():
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        raise MissingOptionalDependency(
            "BPE vocabularies (level 'bpe') need the optional 'tokenizers' package: "
            "pip install 'rnnkit[bpe]' (or pip install tokenizers); the 'char' and 'word' levels need nothing extra"
        ) from None
    return tokenizers


class Vocabulary:
    """Token <-> id mapping with special tokens and an unknown-token policy.

    Build one from a corpus with :meth:`from_text`; the constructor takes the symbols directly.

    Args:
        symbols: the corpus symbols (characters for ``"char"``, words for ``"word"``), in id order
            after the specials. Must be unique strings and not repeat a special.
        level: ``"char"`` or ``"word"`` (``"bpe"`` vocabularies come from :meth:`from_text` or
            :meth:`from_json`).
        specials: special tokens, ids ``0 .. len(specials) - 1``. Must contain ``"<unk>"`` for the
            ``"replace"`` policy.
        unknown: the unknown-token policy, ``"error"``, ``"replace"`` or ``"skip"``.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        level: str = "char",
        specials: Sequence[str] = (UNK,),
        unknown: str = "replace",
        _bpe=None,
    ) -> None:
        self.level = _check_level(level)
        if level == "bpe" and _bpe is None:
            raise ValueError("a 'bpe' vocabulary is trained with Vocabulary.from_text(text, level='bpe')")
        self.unknown = _check_policy(unknown)
        if isinstance(specials, str) or not all(isinstance(s, str) and s for s in specials):
            raise TypeError(f"specials must be a sequence of non-empty strings, got {specials!r}")
        self.specials = tuple(specials)
        symbols = list(symbols)
        for s in symbols:
            if not isinstance(s, str) or not s:
                raise TypeError(f"every symbol must be a non-empty string, got {s!r}")
            if level == "char" and len(s) != 1:
                raise ValueError(f"a 'char' vocabulary holds single characters, got the symbol {s!r}")
            if level == "word" and s != "\n" and any(ch.isspace() for ch in s):
                raise ValueError(f"a 'word' symbol cannot contain whitespace, got {s!r}")
        tokens = list(self.specials) + symbols
        if len(set(tokens)) != len(tokens):
            dupes = sorted(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"tokens must be unique; repeated: {dupes!r}")
        if not symbols and level != "bpe":
            raise ValueError("a vocabulary needs at least one symbol besides the specials")
        self._tokens: List[str] = tokens
        self._index: Dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.unk_id: Optional[int] = self._index.get(UNK) if UNK in self.specials else None
        if self.unknown == "replace" and self.unk_id is None and level != "bpe":
            raise ValueError(f"the 'replace' policy needs {UNK!r} among the specials, got specials={self.specials!r}")
        self._bpe = _bpe

    # ---- building ----------------------------------------------------------------------------
    @classmethod
    def from_text(
        cls,
        text: str,
        level: str = "char",
        *,
        specials: Sequence[str] = (UNK,),
        unknown: str = "replace",
        min_freq: int = 1,
        max_size: Optional[int] = None,
    ) -> "Vocabulary":
        """Build the vocabulary of ``text``.

        Args:
            level: ``"char"``, ``"word"`` or ``"bpe"``.
            min_freq: keep symbols seen at least this often (char and word levels).
            max_size: at most this many ids in all, specials included: the most frequent symbols
                are kept (ties broken by the symbol). For ``"bpe"`` it is the BPE vocabulary size
                (default 1000).
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        _check_level(level)
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size <= len(specials)):
            raise ValueError(f"max_size must be None or an int > len(specials) = {len(specials)}, got {max_size!r}")
        if level == "bpe":
            return cls._train_bpe(text, specials, unknown, 1000 if max_size is None else max_size, min_freq)
        counts = Counter(text if level == "char" else _WORD_RE.findall(text))
        kept = [(sym, n) for sym, n in counts.items() if n >= min_freq and sym not in specials]
        if max_size is not None:
            kept = sorted(kept, key=lambda item: (-item[1], item[0]))[: max_size - len(specials)]
        if not kept:
            raise ValueError(f"no symbol of the text occurs at least min_freq={min_freq} times")
        return cls(sorted(sym for sym, _ in kept), level=level, specials=specials, unknown=unknown)

    @classmethod
    def _train_bpe(cls, text: str, specials: Sequence[str], unknown: str, vocab_size: int, min_freq: int) -> "Vocabulary":
        tk = _import_tokenizers()
        tokenizer = tk.Tokenizer(tk.models.BPE())
        tokenizer.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = tk.decoders.ByteLevel()
        trainer = tk.trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_freq,
            special_tokens=list(specials),
            initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer)
        return cls._from_tokenizer(tokenizer, specials, unknown)

    @classmethod
    def _from_tokenizer(cls, tokenizer, specials: Sequence[str], unknown: str) -> "Vocabulary":
        size = tokenizer.get_vocab_size()
        tokens = [tokenizer.id_to_token(i) for i in range(size)]
        if tokens[: len(specials)] != list(specials):
            raise ValueError(f"the BPE tokenizer's first ids {tokens[:len(specials)]!r} are not the specials {list(specials)!r}")
        return cls(tokens[len(specials):], level="bpe", specials=specials, unknown=unknown, _bpe=tokenizer)

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
        """The id of ``token``; ``ValueError`` if it is not in the vocabulary."""
        try:
            return self._index[token]
        except (KeyError, TypeError):
            raise ValueError(f"token {token!r} is not in the vocabulary ({len(self)} tokens)") from None

    def token_of(self, id: int) -> str:
        """The token with id ``id``; ``ValueError`` if it is out of range."""
        self._check_id(id)
        return self._tokens[id]

    def _check_id(self, i: object) -> int:
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"token ids must be ints, got {i!r} of type {type(i).__name__}")
        if not 0 <= i < len(self._tokens):
            raise ValueError(f"token id {i} is outside the vocabulary: expected 0 <= id < {len(self._tokens)}")
        return i

    # ---- encode / decode ---------------------------------------------------------------------
    def tokenize(self, text: str) -> List[str]:
        """Split ``text`` into this level's tokens (not yet looked up)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if self.level == "char":
            return list(text)
        if self.level == "word":
            return _WORD_RE.findall(text)
        return self._bpe.encode(text, add_special_tokens=False).tokens

    def encode(self, text: str, unknown: Optional[str] = None) -> List[int]:
        """Token ids of ``text``. ``unknown`` overrides this vocabulary's unknown-token policy."""
        policy = self.unknown if unknown is None else _check_policy(unknown)
        if self.level == "bpe":
            if not isinstance(text, str):
                raise TypeError(f"text must be a str, got {type(text).__name__}")
            return list(self._bpe.encode(text, add_special_tokens=False).ids)  # byte-level: nothing unknown
        tokens = self.tokenize(text)
        get = self._index.get
        ids = [get(t, -1) for t in tokens]
        if -1 not in ids:
            return ids
        missing = Counter(t for t, i in zip(tokens, ids) if i < 0)
        desc = _describe_unknown(missing)
        total = sum(missing.values())
        if policy == "error":
            raise ValueError(
                f"{total} symbols are not in the vocabulary: {desc}; "
                f"use unknown='replace' (map to {UNK!r}) or unknown='skip' to encode them anyway"
            )
        if policy == "replace":
            if self.unk_id is None:
                raise ValueError(f"cannot replace unknown symbols ({desc}): {UNK!r} is not among the specials")
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
                raise ValueError(f"decode takes a 1-D sequence of ids, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        ids = [self._check_id(i) for i in ids]
        n_special = len(self.specials)
        if skip_specials:
            ids = [i for i in ids if i >= n_special]
        if self.level == "bpe":
            # the tokenizer drops special tokens when decoding; keep them as their names
            pieces, run = [], []
            for i in ids:
                if i < n_special:
                    pieces.append(self._bpe.decode(run, skip_special_tokens=False) if run else "")
                    pieces.append(self._tokens[i])
                    run = []
                else:
                    run.append(i)
            pieces.append(self._bpe.decode(run, skip_special_tokens=False) if run else "")
            return "".join(pieces)
        toks = [self._tokens[i] for i in ids]
        if self.level == "char":
            return "".join(toks)
        out: List[str] = []
        for tok in toks:
            if out and tok != "\n" and out[-1] != "\n":
                out.append(" ")
            out.append(tok)
        return "".join(out)

    # ---- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "level": self.level,
            "unknown": self.unknown,
            "specials": list(self.specials),
            "symbols": self._tokens[len(self.specials):],
        }
        if self.level == "bpe":
            d["tokenizer"] = json.loads(self._bpe.to_str())
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        if not isinstance(d, dict):
            raise TypeError(f"a vocabulary is a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT:
            raise ValueError(f"not a rnnkit vocabulary: 'format' is {d.get('format')!r}, expected {FORMAT!r}")
        if d.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported vocabulary version {d.get('version')!r}; this rnnkit reads version {FORMAT_VERSION}")
        missing = [k for k in ("level", "unknown", "specials", "symbols") if k not in d]
        if missing:
            raise ValueError(f"vocabulary JSON lacks the fields {missing}")
        if d["level"] == "bpe":
            tk = _import_tokenizers()
            if "tokenizer" not in d:
                raise ValueError("a 'bpe' vocabulary JSON needs its 'tokenizer' field")
            try:
                tokenizer = tk.Tokenizer.from_str(json.dumps(d["tokenizer"]))
            except Exception as err:  # noqa: BLE001 -- tokenizers raises a bare Exception for a bad tokenizer
                raise ValueError(f"the BPE tokenizer in the vocabulary cannot be read: {err}") from None
            vocab = cls._from_tokenizer(tokenizer, d["specials"], d["unknown"])
            if vocab._tokens[len(vocab.specials):] != list(d["symbols"]):
                raise ValueError("the BPE tokenizer's tokens do not match the saved symbols")
            return vocab
        return cls(d["symbols"], level=d["level"], specials=d["specials"], unknown=d["unknown"])

    @classmethod
    def from_json(cls, text: Union[str, bytes]) -> "Vocabulary":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"vocabulary is not valid JSON: {err}") from None
        return cls.from_dict(d)

    def save(self, path: PathLike) -> None:
        """Write the vocabulary as JSON to ``path`` atomically."""
        atomic_write(path, self.to_json())

    @classmethod
    def load(cls, path: PathLike) -> "Vocabulary":
        """Read a vocabulary written by :meth:`save`."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"vocabulary file {path!r} does not exist")
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            return cls.from_json(text)
        except (ValueError, TypeError) as err:  # a bad file (UnicodeDecodeError included), not a bad call
            raise ValueError(f"{path!r} is not a readable vocabulary: {err}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return (self.level, self.unknown, self.specials, self._tokens) == (other.level, other.unknown, other.specials, other._tokens)

    def __repr__(self) -> str:
        return f"Vocabulary(level={self.level!r}, size={len(self)}, specials={self.specials!r}, unknown={self.unknown!r})"

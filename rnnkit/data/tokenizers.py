"""Tokenizers: how text is cut into tokens and put back together, one small class per level.

* :class:`CharTokenizer` (level ``"char"``): every character is a token (char-rnn); exact.
* :class:`WordTokenizer` (level ``"word"``): words (``\\w+``), each punctuation mark and each
  newline; text comes back with single spaces between tokens.
* :class:`BPETokenizer` (level ``"bpe"``): byte-level byte-pair encoding learned from a corpus; exact.

Each answers the same questions, so no caller tests a level string:

* :meth:`~Tokenizer.tokenize` ``text -> tokens`` and :meth:`~Tokenizer.detokenize` ``tokens -> text``;
* :attr:`~Tokenizer.unit` -- what one token is called in messages ("character", "word", "token");
* :attr:`~Tokenizer.tokens_are_characters` -- whether a count of tokens is a count of characters
  (if not, bits per character need the characters counted separately);
* :attr:`~Tokenizer.covers_all_text` -- whether every string has tokens (byte-level BPE), so
  nothing is ever unknown;
* :meth:`~Tokenizer.continuation` -- how generated tokens continue a prompt as text, piece by piece;
* :meth:`~Tokenizer.to_dict` / :func:`tokenizer_from_dict` -- how it is saved (the ``level`` field
  of ``vocab.json`` and, for BPE, the learned merges).

They work on their own (``WordTokenizer().tokenize("Hello, world")`` -> ``["Hello", ",", "world"]``)
and inside a :class:`~rnnkit.data.vocab.Vocabulary`, which adds ids, special tokens and the
unknown-token policy. Char and word tokenizers need nothing to be learned; a BPE tokenizer is
learned from a corpus (:meth:`BPETokenizer.train`) with the optional ``tokenizers`` package
(``pip install 'rnnkit[bpe]'``; without it :class:`~rnnkit._checks.MissingOptionalDependency`
says so).
"""

from __future__ import annotations

import abc
import json
import re
from collections import Counter
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Tuple, Type

from .._checks import FileFormatError, InvalidTypeError, InvalidValueError, MissingOptionalDependency, positive_int

__all__ = [
    "Tokenizer",
    "CharTokenizer",
    "WordTokenizer",
    "BPETokenizer",
    "Continuation",
    "TOKENIZERS",
    "tokenizer_for",
    "tokenizer_type",
    "tokenizer_from_dict",
]


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise InvalidTypeError(f"text must be a str, got {type(text).__name__}")
    return text


class Continuation:
    """Turns generated tokens into text pieces that continue ``after`` (the prompt so far).

    ``push(token)`` returns the piece to print now (possibly empty), ``flush()`` what is held back
    at the end, so that ``after + "".join(pieces)`` reads as one text. This one glues tokens as they
    are (characters); the word and BPE tokenizers have their own.
    """

    def __init__(self, after: str = "") -> None:
        self.after = after

    def push(self, token: str) -> str:
        return token

    def flush(self) -> str:
        return ""


class Tokenizer(abc.ABC):
    """Cuts text into tokens and puts tokens back into text (see the module docstring); a subclass
    gives at least :meth:`tokenize` and :meth:`detokenize`."""

    name: ClassVar[str]  # the level, as saved in vocab.json: "char", "word", "bpe"
    unit: ClassVar[str]  # what one token is called in messages
    tokens_are_characters: ClassVar[bool] = False  # True: tokens counted = characters counted
    covers_all_text: ClassVar[bool] = False  # True: every string has tokens, none is ever unknown

    @property
    def trained(self) -> bool:
        """Whether it can tokenize yet (a BPE tokenizer must first learn its merges)."""
        return True

    @property
    def vocabulary(self) -> Optional[List[str]]:
        """Its own tokens in id order if it has a fixed vocabulary (BPE), else None (any symbol)."""
        return None

    @abc.abstractmethod
    def tokenize(self, text: str) -> List[str]:
        """The tokens of ``text``, in order."""

    @abc.abstractmethod
    def detokenize(self, tokens: Sequence[str]) -> str:
        """The text of ``tokens`` (exact for characters and BPE; words are joined by single spaces)."""

    def continuation(self, after: str = "") -> Continuation:
        """A :class:`Continuation` that turns tokens generated after the text ``after`` into pieces."""
        return Continuation(after)

    def check_symbol(self, symbol: str) -> None:  # noqa: B027 -- by default any symbol may be a token
        """Raise :class:`InvalidValueError` if ``symbol`` can never be one of this tokenizer's tokens."""

    def learn(
        self, text: str, *, specials: Sequence[str] = (), min_freq: int = 1, max_size: Optional[int] = None
    ) -> Tuple["Tokenizer", List[str]]:
        """``(tokenizer, symbols)`` for a vocabulary of ``text``: the symbols seen at least ``min_freq``
        times (not the ``specials``), at most ``max_size - len(specials)`` of the most frequent (ties
        broken by the symbol), in sorted order so that the same text always gives the same ids."""
        counts = Counter(self.tokenize(text))
        kept = [(sym, n) for sym, n in counts.items() if n >= min_freq and sym not in specials]
        if max_size is not None:
            kept = sorted(kept, key=lambda item: (-item[1], item[0]))[: max_size - len(specials)]
        return self, sorted(sym for sym, _ in kept)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-serialisable description; :func:`tokenizer_from_dict` reads it back."""
        return {"level": self.name}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Tokenizer":
        return cls()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CharTokenizer(Tokenizer):
    """Every character is a token (char-rnn). ``detokenize(tokenize(text)) == text`` for any text."""

    name = "char"
    unit = "character"
    tokens_are_characters = True

    def tokenize(self, text: str) -> List[str]:
        return list(_check_text(text))

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)

    def check_symbol(self, symbol: str) -> None:
        if len(symbol) != 1:
            raise InvalidValueError(f"a 'char' vocabulary holds single characters, got the symbol {symbol!r}")


class WordTokenizer(Tokenizer):
    """Words (``\\w+``), single punctuation marks and newlines are tokens; other whitespace only
    separates them. ``detokenize`` joins tokens with single spaces (none around a newline), so it
    does not restore the original spacing: ``"hello, world"`` comes back as ``"hello , world"``."""

    name = "word"
    unit = "word"
    PATTERN = re.compile(r"\n|\w+|[^\w\s]")

    def tokenize(self, text: str) -> List[str]:
        return self.PATTERN.findall(_check_text(text))

    def detokenize(self, tokens: Sequence[str]) -> str:
        out: List[str] = []
        for tok in tokens:
            if out and tok != "\n" and out[-1] != "\n":
                out.append(" ")
            out.append(tok)
        return "".join(out)

    def continuation(self, after: str = "") -> Continuation:
        return _WordContinuation(after)

    def check_symbol(self, symbol: str) -> None:
        if symbol != "\n" and any(ch.isspace() for ch in symbol):
            raise InvalidValueError(f"a 'word' symbol cannot contain whitespace, got {symbol!r}")


class _WordContinuation(Continuation):
    """A space before every word, except at the start of a line or right after whitespace."""

    def __init__(self, after: str = "") -> None:
        super().__init__(after)
        self.at_boundary = not after or after[-1].isspace()  # no space needed before the next word

    def push(self, token: str) -> str:
        piece = token if (token == "\n" or self.at_boundary) else " " + token
        self.at_boundary = token == "\n"
        return piece


def import_tokenizers():
    """The optional ``tokenizers`` package, or :class:`MissingOptionalDependency` saying how to get it."""
    try:
        import tokenizers
    except ImportError:
        raise MissingOptionalDependency(
            "BPE vocabularies (level 'bpe') need the optional 'tokenizers' package: "
            "pip install 'rnnkit[bpe]' (or pip install tokenizers); the 'char' and 'word' levels need nothing extra"
        ) from None
    return tokenizers


class BPETokenizer(Tokenizer):
    """Byte-level byte-pair encoding (GPT-2's scheme) learned from a corpus with the ``tokenizers``
    package. Every string has tokens (bytes at worst), so nothing is unknown, and ``detokenize``
    restores the text exactly. Spaces belong to the token after them (``"Ġcat"`` is " cat").

    Learn one with :meth:`train`; ``BPETokenizer(model)`` wraps a ``tokenizers.Tokenizer``. Its
    special tokens (learned with it) stay whole in :meth:`tokenize` and :meth:`detokenize`.
    """

    name = "bpe"
    unit = "token"
    covers_all_text = True
    DEFAULT_SIZE = 1000  # vocabulary size when none is asked for: 256 bytes + ~740 merges

    def __init__(self, model=None) -> None:
        self.model = model  # a tokenizers.Tokenizer, or None until trained
        self._specials = (
            frozenset()
            if model is None
            else frozenset(t.content for t in model.get_added_tokens_decoder().values() if t.special)
        )

    @classmethod
    def train(
        cls, text: str, vocab_size: int = DEFAULT_SIZE, *, min_freq: int = 1, specials: Sequence[str] = ()
    ) -> "BPETokenizer":
        """Learn merges from ``text`` until the vocabulary has ``vocab_size`` tokens (specials first,
        then the 256 byte symbols, then merges seen at least ``min_freq`` times)."""
        _check_text(text)
        vocab_size = positive_int("vocab_size", vocab_size)
        tk = import_tokenizers()
        model = tk.Tokenizer(tk.models.BPE())
        model.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        model.decoder = tk.decoders.ByteLevel()
        trainer = tk.trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=positive_int("min_freq", min_freq),
            special_tokens=list(specials),
            initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        model.train_from_iterator(text.splitlines(keepends=True), trainer)
        return cls(model)

    @property
    def trained(self) -> bool:
        return self.model is not None

    def _model(self):
        if self.model is None:
            raise InvalidValueError(
                "this BPETokenizer has not been trained: use BPETokenizer.train(text) "
                "or Vocabulary.from_text(text, level='bpe')"
            )
        return self.model

    @property
    def vocabulary(self) -> List[str]:
        """Every token of the learned vocabulary, in id order (specials first)."""
        model = self._model()
        return [model.id_to_token(i) for i in range(model.get_vocab_size())]

    def tokenize(self, text: str) -> List[str]:
        return self._model().encode(_check_text(text), add_special_tokens=False).tokens

    def detokenize(self, tokens: Sequence[str]) -> str:
        decoder = self._model().decoder
        pieces: List[str] = []
        run: List[str] = []
        for tok in tokens:  # special tokens are kept as their names, the runs between them decoded
            if tok in self._specials:
                pieces.append(decoder.decode(run) if run else "")
                pieces.append(tok)
                run = []
            else:
                run.append(tok)
        pieces.append(decoder.decode(run) if run else "")
        return "".join(pieces)

    def continuation(self, after: str = "") -> Continuation:
        return _BPEContinuation(self, after)

    def learn(
        self, text: str, *, specials: Sequence[str] = (), min_freq: int = 1, max_size: Optional[int] = None
    ) -> Tuple["Tokenizer", List[str]]:
        """Train on ``text`` (``max_size``: the vocabulary size, default 1000); the symbols are the
        learned tokens after the specials, in id order."""
        trained = self.train(
            text, self.DEFAULT_SIZE if max_size is None else max_size, min_freq=min_freq, specials=specials
        )
        tokens = trained.vocabulary
        if tokens[: len(specials)] != list(specials):
            raise InvalidValueError(
                f"the BPE tokenizer's first ids {tokens[: len(specials)]!r} are not the specials {list(specials)!r}"
            )
        return trained, tokens[len(specials) :]

    def to_dict(self) -> Dict[str, Any]:
        return {"level": self.name, "tokenizer": json.loads(self._model().to_str())}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "BPETokenizer":
        tk = import_tokenizers()
        if "tokenizer" not in d:
            raise FileFormatError("a 'bpe' vocabulary JSON needs its 'tokenizer' field")
        try:
            model = tk.Tokenizer.from_str(json.dumps(d["tokenizer"]))
        except Exception as err:  # noqa: BLE001 -- tokenizers raises a bare Exception for a bad tokenizer
            raise FileFormatError(f"the BPE tokenizer in the vocabulary cannot be read: {err}") from None
        return cls(model)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BPETokenizer):
            return False
        if self.model is None or other.model is None:
            return self.model is other.model
        return self.model.to_str() == other.model.to_str()

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        size = "untrained" if self.model is None else f"size={self.model.get_vocab_size()}"
        return f"BPETokenizer({size})"


class _BPEContinuation(Continuation):
    """Byte-level tokens carry their own spaces; tokens are held back while they end inside a
    multi-byte UTF-8 character (at most 8 of them: then whatever they decode to is let out)."""

    def __init__(self, tokenizer: BPETokenizer, after: str = "") -> None:
        super().__init__(after)
        self.tokenizer = tokenizer
        self.pending: List[str] = []

    def push(self, token: str) -> str:
        self.pending.append(token)
        text = self.tokenizer.detokenize(self.pending)
        if text.endswith("\ufffd") and len(self.pending) < 8:
            return ""  # an incomplete UTF-8 character: wait for its next byte
        self.pending = []
        return text

    def flush(self) -> str:
        text = self.tokenizer.detokenize(self.pending) if self.pending else ""
        self.pending = []
        return text


TOKENIZERS: Dict[str, Type[Tokenizer]] = {cls.name: cls for cls in (CharTokenizer, WordTokenizer, BPETokenizer)}


def tokenizer_type(level: object) -> Type[Tokenizer]:
    """The tokenizer class of a level name ("char", "word", "bpe"); :class:`InvalidValueError` otherwise."""
    cls = TOKENIZERS.get(level) if isinstance(level, str) else None
    if cls is None:
        raise InvalidValueError(f"level must be one of {list(TOKENIZERS)} or a Tokenizer, got {level!r}")
    return cls


def tokenizer_for(level: object) -> Tokenizer:
    """``level`` itself if it is a :class:`Tokenizer`, else a new tokenizer of that level name
    (an untrained one for "bpe": a vocabulary trains it)."""
    return level if isinstance(level, Tokenizer) else tokenizer_type(level)()


def tokenizer_from_dict(d: Dict[str, Any]) -> Tokenizer:
    """The tokenizer that :meth:`Tokenizer.to_dict` described (``{"level": ..., ...}``)."""
    level = d.get("level")
    if level not in TOKENIZERS:
        raise FileFormatError(f"unknown tokenizer level {level!r}; this rnnkit reads {list(TOKENIZERS)}")
    return TOKENIZERS[level].from_dict(d)

"""Data: vocabularies and tokenisation, corpora, text streams for truncated BPTT."""

from .corpus import default_corpus, read_text, split_train_val
from .text_stream import TextStream
from .tokenizers import BPETokenizer, CharTokenizer, Tokenizer, WordTokenizer
from .vocab import UnknownTokenWarning, Vocabulary

__all__ = [
    "Vocabulary",
    "UnknownTokenWarning",
    "Tokenizer",
    "CharTokenizer",
    "WordTokenizer",
    "BPETokenizer",
    "read_text",
    "default_corpus",
    "split_train_val",
    "TextStream",
]

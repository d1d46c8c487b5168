"""Data: vocabularies and tokenisation, corpora, text streams for truncated BPTT, labelled texts,
tagged sentences and length-bucketed batches."""

from .bucketing import BucketBatchSampler, pad_batch, padding_fraction
from .conll import EntityScores, TaggedSentences, entity_scores, read_conll, read_tagged_jsonl, spans
from .corpus import default_corpus, read_text, split_train_val
from .labelled_text import LabelledTexts, read_labelled_text, read_texts
from .parallel import Pairs, read_pairs, write_pairs
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
    "LabelledTexts",
    "read_labelled_text",
    "read_texts",
    "Pairs",
    "read_pairs",
    "write_pairs",
    "TaggedSentences",
    "read_conll",
    "read_tagged_jsonl",
    "spans",
    "entity_scores",
    "EntityScores",
    "BucketBatchSampler",
    "pad_batch",
    "padding_fraction",
]

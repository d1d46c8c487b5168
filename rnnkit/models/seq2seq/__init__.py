"""Encoder-decoder models (the seeds' fourth mapping): :mod:`.model` and :mod:`.decoding`."""

from .decoding import Hypothesis, beam_search, greedy_decode
from .model import BOS, EOS, PAD, SPECIALS, UNK, DecoderState, Encoded, Seq2Seq, Seq2SeqConfig

__all__ = [
    "Seq2Seq",
    "Seq2SeqConfig",
    "Encoded",
    "DecoderState",
    "SPECIALS",
    "PAD",
    "UNK",
    "BOS",
    "EOS",
    "greedy_decode",
    "beam_search",
    "Hypothesis",
]

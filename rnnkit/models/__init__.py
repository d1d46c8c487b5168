"""Models: the mappings built from layers."""

from .classifier import ClassifierConfig, SequenceClassifier
from .elman import ElmanRNN
from .generation import generate, generate_text, stream_generate, stream_text
from .language_model import LanguageModel, LanguageModelConfig, bits_per_token, perplexity
from .sampling import sample_next
from .tagger import SequenceTagger, TaggerConfig

__all__ = [
    "ElmanRNN",
    "LanguageModel",
    "LanguageModelConfig",
    "bits_per_token",
    "perplexity",
    "generate",
    "generate_text",
    "stream_generate",
    "stream_text",
    "sample_next",
    "SequenceClassifier",
    "ClassifierConfig",
    "SequenceTagger",
    "TaggerConfig",
]

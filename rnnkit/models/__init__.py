"""Models: the mappings built from layers."""

from .elman import ElmanRNN

__all__ = ["ElmanRNN"]

"""Diagnostics: loss curves, gradient flow, activations, plots."""

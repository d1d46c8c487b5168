"""The package version, in one place (``rnnkit.__version__``, saved model folders, the CLI)."""

__version__ = "0.2.0"

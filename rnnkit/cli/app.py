"""The ``rnnkit`` command and its ``train`` group; the verb modules add their commands to them."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="rnnkit: recurrent neural networks from a text file or a CSV to a trained model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain one-line usage errors, no boxes
)
train_app = typer.Typer(help="Train a model.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(train_app, name="train")

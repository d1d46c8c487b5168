"""The ``rnnkit`` command and its ``train`` and ``bench`` groups; the verb modules add their commands to them.

``rnnkit --version`` prints ``rnnkit <version>``. Bare ``rnnkit``, ``rnnkit train`` and ``rnnkit bench`` print
their help and exit 0: asking what a command can do is not a mistake (click's ``no_args_is_help``
would exit 2, the status of a usage error), so each group's callback prints the help itself when
no subcommand follows.
"""

from __future__ import annotations

from typing import Optional

import typer

from .._version import __version__

app = typer.Typer(
    help="rnnkit: recurrent neural networks from a text file or a CSV to a trained model.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain one-line usage errors, no boxes
)
train_app = typer.Typer(help="Train a model.", invoke_without_command=True, rich_markup_mode=None)
app.add_typer(train_app, name="train")
bench_app = typer.Typer(
    help="Measure: long-range memory tasks, the streaming server under load.",
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(bench_app, name="bench")
GROUPS = ("train", "bench")  # the command groups; every other name of the app is a verb


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"rnnkit {__version__}")
        raise typer.Exit(0)


def _help_without_subcommand(ctx: typer.Context) -> None:
    """Print the group's help and exit 0 when it was called without a subcommand."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


@app.callback()
def _main(
    ctx: typer.Context,
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_show_version, is_eager=True, help="Print rnnkit's version and exit."
    ),
) -> None:
    _help_without_subcommand(ctx)


@train_app.callback()
def _train(ctx: typer.Context) -> None:
    _help_without_subcommand(ctx)


@bench_app.callback()
def _bench(ctx: typer.Context) -> None:
    _help_without_subcommand(ctx)

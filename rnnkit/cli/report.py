"""``rnnkit report RUN_DIR``: write the run folder's HTML report (issue 14) and print its path."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app
from .errors import one_line, user_errors_as_one_line


@app.command()
@user_errors_as_one_line
def report(
    run_dir: Path = typer.Argument(..., help="A run folder written by a `rnnkit train` verb."),
) -> None:
    """Write RUN_DIR/report.html: one self-contained page with the run's settings, data, loss curves,
    metrics, pictures and time (open it in any browser; it loads nothing and runs no script).

    Only report.html is written; every other file of the folder is left as it is."""
    from ..diagnostics.report import write_report

    typer.echo(str(write_report(run_dir)))


def report_after_training(out: Path) -> None:
    """Write ``out/report.html`` at the end of a ``train`` verb and print where it is.

    The model is saved by then: a report that fails must not cost it, so any failure is one
    ``warning:`` line (saying how to retry) and the command carries on."""
    from ..diagnostics.report import write_report

    try:
        path = write_report(out)
    except Exception as err:  # noqa: BLE001 -- whatever broke, the trained model is kept
        typer.echo(
            f"warning: the report was not written ({type(err).__name__}: {one_line(str(err))}); "
            f"the model is saved. Retry with: rnnkit report {out}",
            err=True,
        )
        return
    typer.echo(f"report: {path}")

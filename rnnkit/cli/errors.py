"""The command line's error policy, in one place.

* A :class:`rnnkit._checks.UserError` (a bad value, a malformed or missing file, a model folder of
  the wrong kind, an optional package not installed, a run that diverged) or an ``OSError`` (a
  file that cannot be opened or written) ends the command with one ``error: ...`` line on stderr
  and exit status 2.
* Anything else is a bug in rnnkit and keeps its traceback (``RNNKIT_DEBUG=1`` shows the traceback
  of user errors too). A ``TypeError`` or ``KeyError`` is never taken for a user error: the
  library raises its own types where it detects one.
* Warnings print as one ``warning: ...`` line each, without a source line the user did not write.
* Ctrl-C ends with status 130 (training verbs say the last checkpoint is kept); a closed pipe
  (``rnnkit generate ... | head``) ends quietly.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings

import typer

from .._checks import UserError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
USER_ERRORS = (UserError, OSError)
TRAINING_VERBS = ("train_lm", "train_forecast")  # an interrupted run can be resumed


def one_line(message: object) -> str:
    """``message`` on one line (a multi-line message's lines joined by spaces)."""
    return " ".join(str(message).split()) if "\n" in str(message) else str(message)


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    typer.echo(f"warning: {one_line(message)}", err=True)


def user_errors_as_one_line(fn):
    """Apply the policy above to a command function."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        shown = warnings.showwarning
        warnings.showwarning = _print_warning
        try:
            return fn(*args, **kwargs)
        except BrokenPipeError:  # the reader went away: stop quietly
            _silence_stdout()
            raise typer.Exit(0) from None
        except USER_ERRORS as err:
            if os.environ.get("RNNKIT_DEBUG"):
                raise
            typer.echo(f"error: {one_line(str(err) or type(err).__name__)}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            hint = (
                ": the last checkpoint is kept; rerun with --resume to continue"
                if fn.__name__ in TRAINING_VERBS
                else ""
            )
            typer.echo(f"interrupted{hint}", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        finally:
            warnings.showwarning = shown

    return wrapper


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that flushing it at exit does not fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test runner's capture): nothing to redirect
        pass

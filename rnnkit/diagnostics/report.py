"""The HTML report of a run: ``write_report(run_dir)`` writes ``run_dir/report.html``.

One self-contained page -- every picture embedded as a ``data:`` URI, the style inline, no script
and no network -- that a person can open from the run folder, mail, or archive. It shows the run's
settings, its data, the loss curves and the gradient norm over training, the final metrics, the
task's own pictures and examples (a language model's sample, a forecast, a confusion matrix, test
predictions, an attention map, gradient flow through time) and the time the run took.

What each section holds for each kind of model is in :mod:`.report_sections`; how a folder is read
(and which damage is an error) in :mod:`.report_run`; pictures made from the saved model in
:mod:`.report_model`. The page is rendered by jinja2 from ``templates/report.html.j2`` with
autoescaping on: text from the user's data (file names, labels, tokens, samples) is escaped, never
interpreted as HTML. The file is written atomically; nothing else in the folder is changed.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Union

from .._version import __version__
from ..data.atomic import atomic_write
from .report_model import model_pictures
from .report_run import read_run
from .report_sections import Section, folder_name, sections

__all__ = ["write_report", "render_report", "REPORT_NAME"]

PathLike = Union[str, "os.PathLike[str]"]
REPORT_NAME = "report.html"
TEMPLATE = "report.html.j2"


def render_report(run_dir: PathLike) -> str:
    """The report page of the run folder ``run_dir`` as HTML text (nothing is written).

    Raises :class:`~rnnkit._checks.MissingFileError` / :class:`~rnnkit._checks.NotAFolderError` for a
    missing folder or a file, and :class:`~rnnkit._checks.FileFormatError` naming a damaged file
    (``config.json``, the run's JSON files and logs, the model's weights or vocabulary).
    """
    run = read_run(run_dir)
    parts: List[Section] = sections(run, model_pictures)
    return _template().render(
        title=f"{folder_name(run.folder)}: {run.model_type.replace('_', ' ')} run",
        model_type=run.model_type,
        sections=parts,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
    )


def write_report(run_dir: PathLike) -> Path:
    """Write ``run_dir/report.html`` (atomically) and return its path; errors as :func:`render_report`."""
    html = render_report(run_dir)
    path = Path(os.fspath(run_dir)) / REPORT_NAME
    atomic_write(path, html)
    return path


def _template():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # every value is text from the run: escape it, always
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template(TEMPLATE)

"""Figures without pyplot: a matplotlib ``Figure`` on the Agg canvas, written to PNG atomically.

Every diagnostic plot of this package is a function that returns a :class:`matplotlib.figure.Figure`
(for a report to embed) and takes an optional ``out_png`` to write it; no global pyplot state is
touched, so plots can be made from threads and tests.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Optional, Tuple, Union

from ..data.atomic import atomic_write

PathLike = Union[str, "os.PathLike[str]"]
DPI = 100


def new_figure(size: Tuple[float, float]):
    """A Figure of ``size`` inches with an Agg canvas attached."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def write_png(fig, out_png: Optional[PathLike]) -> Optional[Path]:
    """Write ``fig`` to ``out_png`` atomically (nothing if ``out_png`` is None); returns the path."""
    if out_png is None:
        return None
    path = Path(os.fspath(out_png))
    atomic_write(path, png_bytes(fig))
    return path

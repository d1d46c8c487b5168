"""The pictures of a run report: PNG files checked and embedded, and the plots drawn from a run's logs.

Every picture the report shows is a :class:`Picture`: PNG bytes (embedded in the page as a
``data:image/png;base64,...`` URI, so the page needs no other file and no network) or, when it
cannot be had, the reason, which the page prints in its place. A PNG is checked before it is
embedded -- its signature and its ``IHDR`` header (width, height > 0) -- so a damaged file is
named in the page instead of showing as a broken image.

Plots are drawn with matplotlib's Agg canvas in memory (no pyplot, no global state, no file
written): the report never changes any file of the run folder but ``report.html``.
"""

from __future__ import annotations

import base64
import io
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["Picture", "png_size", "picture_file", "loss_curves", "grad_norms"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DPI = 100


@dataclass
class Picture:
    """One figure of the report: the PNG, or why there is none (``absent``)."""

    title: str
    caption: str = ""
    png: Optional[bytes] = None
    absent: str = ""
    kind: str = "picture"

    @property
    def size(self) -> Tuple[int, int]:
        return png_size(self.png) if self.png is not None else (0, 0)

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png or b"").decode("ascii")


def png_size(data: bytes) -> Tuple[int, int]:
    """``(width, height)`` from a PNG's IHDR chunk; ``ValueError`` if ``data`` is not a PNG image."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image (no PNG signature and IHDR header)")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise ValueError(f"a PNG image of {width}x{height} pixels")
    return width, height


def picture_file(path: Path, title: str, caption: str = "") -> Picture:
    """The PNG file ``path`` as a :class:`Picture`; a missing or damaged file becomes the reason."""
    if not path.is_file():
        return Picture(title, caption, absent=f"{path.name} is not in the run folder")
    data = path.read_bytes()
    try:
        png_size(data)
    except ValueError as err:
        return Picture(title, caption, absent=f"{path.name} cannot be shown: {err}")
    return Picture(title, caption, png=data)


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _log_axis(ax, values: Sequence[float]) -> None:
    """A log-scale y axis labelled in plain numbers; minor ticks labelled too when ``values`` span
    less than a decade (else the axis would show one label or none)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    positive = [v for v in values if v > 0]
    low, high = (min(positive), max(positive)) if positive else (1.0, 10.0)
    digits = 3 if high <= low else min(8, max(3, 2 + math.ceil(math.log10(high / (high - low)))))
    plain = FuncFormatter(lambda v, _: f"{v:.{digits}g}")
    ax.yaxis.set_major_formatter(plain)
    if high < 100 * low:  # a decade or two: a major tick or none would leave the axis unreadable
        if high >= 10 * low:
            ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain)
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())


def _integer_x(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _png(fig, right: float = 0.97) -> bytes:
    fig.subplots_adjust(left=0.13, right=right, top=0.95, bottom=0.15)  # fixed margins: no layout pass
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _points(columns: Dict[str, List[float]], name: str) -> Tuple[List[float], List[float]]:
    steps, values = columns.get("step", []), columns.get(name, [])
    kept = [(s, v) for s, v in zip(steps, values) if math.isfinite(s) and math.isfinite(v)]
    return [s for s, _ in kept], [v for _, v in kept]


def loss_curves(
    train: Dict[str, List[float]], val: Dict[str, List[float]], unit: str, val_unit: Optional[str] = None
) -> Picture:
    """Training loss (``train_log.csv``'s ``loss``) and validation loss (``val_log.csv``'s ``val_loss``)
    against the update number. ``val_unit``: when validation measures something else than the
    training loss (a forecaster selects on the point error), it gets its own axis on the right."""
    title = "Loss curves"
    caption = f"training loss per logged update and validation loss, in {unit}"
    if val_unit:
        caption = f"training loss per logged update ({unit}, left axis); validation: {val_unit} (right axis)"
    t, v = _points(train, "loss"), _points(val, "val_loss")
    if not t[0] and not v[0]:
        return Picture(title, caption, absent="neither train_log.csv nor val_log.csv holds a finite loss")
    fig = _figure(7, 3.6)
    ax = fig.add_subplot()
    lines = []
    if t[0]:
        few = len(t[0]) < 3
        lines += ax.plot(*t, label="training", color="#1f77b4", linewidth=1.2, marker="o" if few else None)
    vax = ax.twinx() if val_unit and t[0] else ax
    if v[0]:
        lines += vax.plot(*v, label="validation", color="#d62728", marker="o", markersize=3)
    ax.set_xlabel("update")
    _integer_x(ax)
    ax.set_ylabel("training loss" if vax is not ax else f"loss ({unit})")
    if vax is not ax:
        vax.set_ylabel("validation", color="#d62728")  # the caption says what each axis measures
    ax.grid(alpha=0.3)
    ax.legend(lines, [line.get_label() for line in lines])
    return Picture(title, caption, png=_png(fig, right=0.89 if vax is not ax else 0.97))


def grad_norms(train: Dict[str, List[float]]) -> Picture:
    """The global gradient norm before clipping against the update (``train_log.csv``'s ``grad_norm``,
    with the largest of the logging interval), on a log scale: spikes are exploding gradients."""
    title = "Gradient norm over training"
    caption = "global gradient norm (before clipping) at each logged update; the faint line: the interval's largest"
    steps, norms = _points(train, "grad_norm")
    kept = [(s, n) for s, n in zip(steps, norms) if n > 0]
    if not kept:
        return Picture(title, caption, absent="train_log.csv holds no positive grad_norm value")
    fig = _figure(7, 3.2)
    ax = fig.add_subplot()
    s, n = zip(*kept)
    ax.plot(s, n, color="#2ca02c", linewidth=1.2, marker="o" if len(s) < 3 else None, label="at the logged update")
    top_steps, tops = _points(train, "grad_norm_max")
    top = [(a, b) for a, b in zip(top_steps, tops) if b > 0]
    if top:
        ax.plot(*zip(*top), color="#2ca02c", alpha=0.35, linewidth=0.8, label="largest in the interval")
    _log_axis(ax, list(n) + [b for _, b in top])
    ax.set_xlabel("update")
    _integer_x(ax)
    ax.set_ylabel("gradient norm")
    ax.grid(alpha=0.3)
    ax.legend()
    return Picture(title, caption, png=_png(fig))

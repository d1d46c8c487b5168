"""Attention maps of a sequence-to-sequence model as heatmap PNGs: where each output token looked.

:func:`plot_attention_map` draws the weights ``alpha[t, s]`` (output step ``t`` attending to source
position ``s``; each row sums to 1) as a grid: source tokens along x, left to right; output tokens
along y, the first at the top, so the map reads like the two texts. The colour scale is fixed to
[0, 1] (weights are probabilities), so maps of different inputs compare by eye.

The figure is laid out in inches from the token counts, not by ``tight_layout``: each cell is a
square of 0.18 to 0.4 inch (smaller for longer sequences), the margins fit the longest tick label,
and the returned :class:`AttentionPlot` says where the cells landed in the image, in pixels. Tick
labels stay readable: a space is drawn as ``␣``, a tab as ``⇥``, a line break as ``↵``, other
control characters by their escape, tokens longer than 16 characters are cut with ``…``, and
``$`` is escaped so matplotlib does not read it as mathematics. The PNG is rendered with the Agg
backend in memory (no pyplot, no global state) and written atomically
(:func:`~rnnkit.data.atomic.atomic_write`).
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Tuple, Union

import numpy as np

from .._checks import InvalidTypeError, InvalidValueError, MissingFileError, describe
from ..data.atomic import atomic_write

__all__ = ["plot_attention_map", "AttentionPlot"]

PathLike = Union[str, "os.PathLike[str]"]

DPI = 100
_CMAP = "viridis"
_MAX_LABEL = 16  # characters of a tick label before it is cut


@dataclass(frozen=True)
class AttentionPlot:
    """What :func:`plot_attention_map` wrote.

    Attributes:
        path: the PNG file.
        size: (width, height) of the image in pixels.
        cells: the heatmap's box in the image, (left, top, right, bottom) in pixels from the top-left
            corner; cell (t, s) spans columns left + s*w .. left + (s+1)*w with w = (right-left)/S,
            and rows top + t*h .. top + (t+1)*h with h = (bottom-top)/T.
    """

    path: Path
    size: Tuple[int, int]
    cells: Tuple[float, float, float, float]


def _label(token: str) -> str:
    shown = token.replace(" ", "\u2423").replace("\t", "\u21e5").replace("\n", "\u21b5").replace("\r", "\\r")
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)
    if len(shown) > _MAX_LABEL:
        shown = shown[: _MAX_LABEL - 1] + "\u2026"
    return shown.replace("$", r"\$") or "''"


def _tokens(name: str, tokens: object) -> Sequence[str]:
    if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)):
        raise InvalidTypeError(f"{name} must be a list of str tokens, got {describe(tokens)}")
    if not tokens:
        raise InvalidValueError(f"{name} is empty: an attention map needs at least one token on each side")
    for i, token in enumerate(tokens):
        if not isinstance(token, str):
            raise InvalidTypeError(f"{name}[{i}] must be a str, got {describe(token)}")
    return tokens


def _weights(weights: object, n_out: int, n_src: int) -> np.ndarray:
    if hasattr(weights, "detach"):  # a torch tensor
        weights = weights.detach().cpu().numpy()
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidTypeError(f"weights must be a (T_out, S) array of numbers, got {describe(weights)}") from None
    if w.shape != (n_out, n_src):
        raise InvalidValueError(
            f"weights must have shape (T_out, S) = ({n_out}, {n_src}) for {n_out} output and {n_src} source tokens, "
            f"got {w.shape}"
        )
    bad = ~np.isfinite(w) | (w < -1e-6) | (w > 1 + 1e-6)
    if bad.any():
        t, s = (int(i) for i in np.argwhere(bad)[0])
        raise InvalidValueError(
            f"attention weights must lie in [0, 1]; weights[{t}, {s}] is {float(w[t, s])!r} "
            f"({int(bad.sum())} values outside)"
        )
    return np.clip(w, 0.0, 1.0)


def _png_size(data: bytes) -> Tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def plot_attention_map(
    source_tokens: Sequence[str],
    output_tokens: Sequence[str],
    weights,
    path: PathLike,
    title: str = "",
) -> AttentionPlot:
    """Write the attention map ``weights`` (T_out, S) -- a NumPy array, nested lists or a tensor,
    values in [0, 1] -- as a PNG heatmap at ``path`` (which must end in ``.png``, in a folder that
    exists), source tokens along x and output tokens along y (see the module docstring)."""
    src = _tokens("source_tokens", source_tokens)
    out = _tokens("output_tokens", output_tokens)
    w = _weights(weights, len(out), len(src))
    if not isinstance(title, str):
        raise InvalidTypeError(f"title must be a str, got {describe(title)}")
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidTypeError(f"path must be a file path, got {describe(path)}")
    p = Path(os.fspath(path))
    if p.suffix.lower() != ".png":
        raise InvalidValueError(f"the attention map is a PNG; name the file with .png, got {str(p)!r}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise MissingFileError(f"the folder {str(folder)!r} for the attention map {p.name!r} does not exist")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_src, n_out = len(src), len(out)
    src_labels, out_labels = [_label(t) for t in src], [_label(t) for t in out]
    cell = min(0.4, max(0.18, 10.0 / max(n_src, n_out)))  # inches per cell
    font = min(10.0, max(6.0, cell * 72 * 0.6))  # points
    char = font / 72 * 0.62  # inches per character, about
    rotate = max(len(s) for s in src_labels) > 2
    src_extent = (max(len(s) for s in src_labels) * char if rotate else font / 72) + 0.1
    out_extent = max(len(s) for s in out_labels) * char + 0.1
    left = 0.25 + out_extent + 0.3  # tick labels, then the axis label "output"
    bottom = 0.25 + src_extent + 0.3
    top = 0.55 if title else 0.25
    right = 1.0  # the colour bar and its labels
    heat_w, heat_h = n_src * cell, n_out * cell
    fig_w, fig_h = left + heat_w + right, bottom + heat_h + top

    fig = Figure(figsize=(fig_w, fig_h), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((left / fig_w, bottom / fig_h, heat_w / fig_w, heat_h / fig_h))
    image = ax.imshow(w, cmap=_CMAP, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(n_src), labels=src_labels, rotation=90 if rotate else 0, fontsize=font)
    ax.set_yticks(range(n_out), labels=out_labels, fontsize=font)
    ax.tick_params(length=0)
    ax.set_xlabel("source", fontsize=9)
    ax.set_ylabel("output", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    cax = fig.add_axes(((left + heat_w + 0.15) / fig_w, bottom / fig_h, 0.15 / fig_w, heat_h / fig_h))
    fig.colorbar(image, cax=cax).ax.tick_params(labelsize=7)

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    data = buffer.getvalue()
    atomic_write(p, data)
    width, height = _png_size(data)
    sx, sy = width / fig_w, height / fig_h  # pixels per inch as rendered
    cells = (left * sx, top * sy, (left + heat_w) * sx, (top + heat_h) * sy)
    return AttentionPlot(p, (width, height), cells)

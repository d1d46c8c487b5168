"""Pictures and searches over recorded activity (:mod:`rnnkit.diagnostics.activity`).

* :func:`plot_text_heatmap` -- hidden units (rows) against the input text (columns, one character
  per column, the characters written on the axis): Karpathy, Johnson & Fei-Fei's "quote-detection
  cell" picture, for any units.
* :func:`units_tracking` -- the units whose activation best follows a signal the user gives, one
  value per step (inside quotes, position in the line, nesting depth...): Pearson correlation over
  the real steps, the top k by its absolute value. :func:`inside_quotes` and
  :func:`position_in_line` make the two classic signals from a text.
* :func:`plot_gate_saturation` -- per gate, each unit's fraction of left-saturated (< 0.1) against
  right-saturated (> 0.9) values (Karpathy et al. 2015, figure 3).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .._checks import InvalidTypeError, InvalidValueError, describe, positive_int
from .figures import PathLike, new_figure, write_png

__all__ = ["plot_text_heatmap", "units_tracking", "inside_quotes", "position_in_line", "plot_gate_saturation"]

_SHOWN = {" ": "␣", "\n": "↵", "\t": "⇥", "$": r"\$"}


def _char_label(c: str) -> str:
    return _SHOWN.get(c, c if c.isprintable() else repr(c)[1:-1])


def plot_text_heatmap(
    values: Tensor,
    text: Sequence[str],
    units: Sequence[int],
    out_png: Optional[PathLike] = None,
    *,
    title: str = "hidden units over the text",
):
    """``values`` ``(T, H)`` (one sequence's activations, e.g. ``activity.hidden[(k, d)][0]``) for the
    ``units`` listed, against ``text`` (T characters or tokens, drawn on the x axis); colour = value
    in [-1, 1] (tanh range). Returns the Figure."""
    if not isinstance(values, Tensor) or values.dim() != 2:
        raise InvalidTypeError(f"values must be a (T, H) tensor, got {describe(values)}")
    if len(text) != values.shape[0]:
        raise InvalidValueError(f"text has {len(text)} characters but values has {values.shape[0]} steps")
    units = [int(u) for u in units]
    if not units or any(not 0 <= u < values.shape[1] for u in units):
        raise InvalidValueError(f"units must be indices in [0, {values.shape[1]}), got {units}")
    grid = values[:, units].T.float().numpy()  # (U, T)
    T = grid.shape[1]
    fig = new_figure((max(4.0, 0.13 * T + 1.6), 0.32 * len(units) + 1.3))
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(grid, aspect="auto", cmap="coolwarm", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks(range(T), labels=[_char_label(c) for c in text], fontsize=7, family="monospace")
    ax.tick_params(axis="x", length=0)
    ax.set_yticks(range(len(units)), labels=[f"unit {u}" for u in units], fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01)
    fig.tight_layout()
    write_png(fig, out_png)
    return fig


def units_tracking(
    hidden: Tensor, signal: Tensor, top_k: int = 5, mask: Optional[Tensor] = None
) -> List[Tuple[int, float]]:
    """The ``top_k`` units ``(unit, r)`` whose activation correlates most with ``signal``, by ``|r|``.

    ``hidden`` ``(T, H)`` or ``(B, T, H)``; ``signal`` ``(T,)`` or ``(B, T)``; ``mask`` (like signal,
    bool) the steps to use (default all). A constant unit has r = 0."""
    top_k = positive_int("top_k", top_k)
    if not isinstance(hidden, Tensor) or hidden.dim() not in (2, 3):
        raise InvalidTypeError(f"hidden must be a (T, H) or (B, T, H) tensor, got {describe(hidden)}")
    signal = torch.as_tensor(signal, dtype=torch.float64)
    if tuple(signal.shape) != tuple(hidden.shape[:-1]):
        raise InvalidValueError(
            f"signal must have shape {tuple(hidden.shape[:-1])} (one value per step), got {tuple(signal.shape)}"
        )
    h = hidden.reshape(-1, hidden.shape[-1]).double()
    s = signal.reshape(-1)
    if mask is not None:
        keep = torch.as_tensor(mask, dtype=torch.bool).reshape(-1)
        h, s = h[keep], s[keep]
    if s.numel() < 2 or float(s.std()) == 0:
        raise InvalidValueError("the signal is constant over the steps used: nothing to correlate with")
    hc, sc = h - h.mean(0), s - s.mean()
    denom = hc.norm(dim=0) * sc.norm()
    r = torch.where(denom > 0, (hc * sc.unsqueeze(1)).sum(0) / denom.clamp_min(1e-300), torch.zeros_like(denom))
    order = torch.argsort(r.abs(), descending=True)[:top_k]
    return [(int(i), float(r[i])) for i in order]


def inside_quotes(text: str, quote: str = '"') -> Tensor:
    """1.0 at each character inside a pair of ``quote`` characters (the quotes themselves included)."""
    out, inside = [], False
    for c in text:
        if c == quote:
            inside = not inside
            out.append(1.0)
        else:
            out.append(1.0 if inside else 0.0)
    return torch.tensor(out)


def position_in_line(text: str) -> Tensor:
    """Each character's column: 0 after a line break, counting up."""
    out, col = [], 0
    for c in text:
        out.append(float(col))
        col = 0 if c == "\n" else col + 1
    return torch.tensor(out)


def plot_gate_saturation(
    saturation: Dict[str, Tuple[Tensor, Tensor]], out_png: Optional[PathLike] = None, *, title: str = "gate saturation"
):
    """One panel per gate: each unit a dot at (fraction < 0.1, fraction > 0.9) -- the output of
    :func:`rnnkit.diagnostics.activity.gate_saturation` for one (layer, direction)."""
    if not saturation:
        raise InvalidValueError("no gates to plot")
    fig = new_figure((2.6 * len(saturation) + 0.4, 2.9))
    for i, (name, (left, right)) in enumerate(saturation.items()):
        ax = fig.add_subplot(1, len(saturation), i + 1)
        ax.scatter(left.numpy(), right.numpy(), s=8, alpha=0.6)
        ax.plot([0, 1], [1, 0], color="gray", linewidth=0.6, linestyle=":")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("fraction < 0.1", fontsize=8)
        if i == 0:
            ax.set_ylabel("fraction > 0.9", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    write_png(fig, out_png)
    return fig

"""Unit search, the signals, and the activity pictures (decoded back, of the expected size)."""

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit._checks import InvalidValueError
from rnnkit.diagnostics.activity import gate_saturation, record_activity
from rnnkit.diagnostics.activity_plots import (
    inside_quotes,
    plot_gate_saturation,
    plot_text_heatmap,
    position_in_line,
    units_tracking,
)


def test_signals_from_text():
    assert inside_quotes('a "bc" d').tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    assert position_in_line("ab\ncd").tolist() == [0, 1, 2, 0, 1]


def test_units_tracking_finds_the_planted_unit():
    torch.manual_seed(0)
    signal = inside_quotes('x "quoted words" y "more" z' * 3)
    hidden = torch.randn(len(signal), 16) * 0.5
    hidden[:, 11] = 2 * signal - 1 + 0.05 * torch.randn(len(signal))  # unit 11 tracks the quotes
    hidden[:, 3] = -hidden[:, 11]  # unit 3 tracks them negatively
    top = units_tracking(hidden, signal, top_k=2)
    assert {u for u, _ in top} == {3, 11}
    r = dict(top)
    assert r[11] > 0.95 and r[3] < -0.95
    assert r[11] == pytest.approx(float(np.corrcoef(hidden[:, 11].numpy(), signal.numpy())[0, 1]))
    with pytest.raises(InvalidValueError, match="constant"):
        units_tracking(hidden, torch.zeros(len(signal)))
    with pytest.raises(InvalidValueError, match="shape"):
        units_tracking(hidden, signal[:-1])


def test_units_tracking_uses_only_the_masked_steps():
    hidden = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 5.0], [3.0, -9.0]])
    signal = torch.tensor([0.0, 1.0, 2.0, 3.0])
    assert units_tracking(hidden, signal, top_k=1, mask=torch.tensor([True, True, True, False]))[0][0] == 0


def _png_size(fig):
    from rnnkit.diagnostics.figures import png_bytes

    data = png_bytes(fig)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_pictures_render(tmp_path):
    torch.manual_seed(1)
    layer = rnnkit.LSTM(3, 6, batch_first=True)
    act = record_activity(layer, lambda m: m(torch.randn(2, 12, 3)))[""]
    text = 'say "hi" ok.'
    fig = plot_text_heatmap(act.hidden[(0, 0)][0], text, [0, 2, 5], tmp_path / "text.png")
    width, height = _png_size(fig)
    assert width > height > 0 and (tmp_path / "text.png").stat().st_size > 1000
    fig = plot_gate_saturation(gate_saturation(act)[(0, 0)], tmp_path / "sat.png")
    assert _png_size(fig)[0] > 400
    with pytest.raises(InvalidValueError, match="characters"):
        plot_text_heatmap(act.hidden[(0, 0)][0], "short", [0])
    with pytest.raises(InvalidValueError, match="units"):
        plot_text_heatmap(act.hidden[(0, 0)][0], text, [6])

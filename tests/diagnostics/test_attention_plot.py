"""Attention heatmaps: a PNG of the right size, source along x and output along y, bad input named."""

import warnings

import numpy as np
import pytest
import torch
from matplotlib import colormaps
from matplotlib.image import imread

from rnnkit._checks import InvalidTypeError, InvalidValueError, MissingFileError
from rnnkit.diagnostics.attention_plot import AttentionPlot, plot_attention_map


def cell_centre(plot, t, s, n_out, n_src):
    left, top, right, bottom = plot.cells
    x = left + (s + 0.5) * (right - left) / n_src
    y = top + (t + 0.5) * (bottom - top) / n_out
    return int(round(y)), int(round(x))


def test_one_hot_weights_land_in_their_cell(tmp_path):
    src, out = ["a", "b", "c", "d"], ["X", "Y", "Z"]
    w = np.zeros((3, 4))
    w[1, 2] = 1.0  # output "Y" looks at source "c"
    w[0, 0] = 0.5
    plot = plot_attention_map(src, out, w, tmp_path / "map.png", title="one hot")
    assert isinstance(plot, AttentionPlot) and plot.path == tmp_path / "map.png"
    data = plot.path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(plot.path)  # (H, W, 4) floats in [0, 1]
    assert pixels.shape[:2] == (plot.size[1], plot.size[0])
    viridis = colormaps["viridis"]
    for t in range(3):
        for s in range(4):
            colour = pixels[cell_centre(plot, t, s, 3, 4)][:3]
            np.testing.assert_allclose(colour, viridis(w[t, s])[:3], atol=0.02, err_msg=f"cell ({t}, {s})")


def test_size_grows_with_the_token_counts(tmp_path):
    sizes = {}
    for n_src, n_out in [(3, 3), (12, 3), (3, 12)]:
        w = np.full((n_out, n_src), 1.0 / n_src)
        src, out = [chr(97 + i) for i in range(n_src)], [chr(65 + i) for i in range(n_out)]
        plot = plot_attention_map(src, out, w, tmp_path / "m.png")
        sizes[(n_src, n_out)] = plot.size
        left, top, right, bottom = plot.cells
        assert 0 < left < right <= plot.size[0] and 0 < top < bottom <= plot.size[1]
        assert (right - left) / n_src == pytest.approx((bottom - top) / n_out, rel=0.02)  # square cells
    assert sizes[(12, 3)][0] > sizes[(3, 3)][0] and sizes[(12, 3)][1] == sizes[(3, 3)][1]
    assert sizes[(3, 12)][1] > sizes[(3, 3)][1]


def test_awkward_tokens_render_without_warnings_and_atomically(tmp_path):
    src = [" ", "$", "\t", "é", "<unk>", "x" * 40, "\x07"]
    out = ["$5 and $6", "\n", "<eos>"]
    w = torch.softmax(torch.randn(3, 7), dim=-1)  # a tensor, as a model gives it
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph or a mathtext error would warn or raise
        plot_attention_map(src, out, w, tmp_path / "odd.png")
    assert [p.name for p in tmp_path.iterdir()] == ["odd.png"]  # no temporary file left behind


def test_bad_input_is_named(tmp_path):
    ok = np.full((2, 3), 1 / 3)
    src, out, path = ["a", "b", "c"], ["x", "y"], tmp_path / "m.png"
    with pytest.raises(InvalidValueError, match=r"\(T_out, S\) = \(2, 3\).*got \(3, 2\)"):
        plot_attention_map(src, out, ok.T, path)
    bad = ok.copy()
    bad[1, 2] = -0.5
    with pytest.raises(InvalidValueError, match=r"weights\[1, 2\] is -0.5"):
        plot_attention_map(src, out, bad, path)
    bad[1, 2] = np.nan
    with pytest.raises(InvalidValueError, match=r"weights\[1, 2\]"):
        plot_attention_map(src, out, bad, path)
    with pytest.raises(InvalidValueError, match="source_tokens is empty"):
        plot_attention_map([], out, np.zeros((2, 0)), path)
    with pytest.raises(InvalidTypeError, match="list of str tokens"):
        plot_attention_map("abc", out, ok, path)
    with pytest.raises(InvalidValueError, match=r"\.png"):
        plot_attention_map(src, out, ok, tmp_path / "m.pdf")
    with pytest.raises(MissingFileError, match="nowhere"):
        plot_attention_map(src, out, ok, tmp_path / "nowhere" / "m.png")
    assert not list(tmp_path.iterdir())

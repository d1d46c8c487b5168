"""The HTML report of a run: written by every train verb and by `rnnkit report`, escaped, atomic.

Each task is trained once, tiny, through the command line (module fixtures); the tests read the
page with Python's HTML parser: the sections by id, the embedded pictures decoded and measured.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnkit.cli import app
from rnnkit.diagnostics import report as report_module
from rnnkit.diagnostics.report import render_report, write_report
from rnnkit.diagnostics.report_pictures import png_size
from rnnkit.diagnostics.report_sections import SECTION_IDS

pytest.importorskip("jinja2")

SMALL = ["--hidden-size", "8", "--embedding-size", "8", "--epochs", "1"]
LM = ["--hidden-size", "16", "--num-layers", "1", "--embedding-size", "8", "--bptt", "16", "--batch-size", "4"]
LM += ["--max-steps", "20", "--val-every", "10", "--checkpoint-every", "10", "--sample-length", "0"]
HOSTILE = '<script>alert("x")</script>'
HOSTILE_TOKEN = "<img/src=x/onerror=alert(1)>"


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


class Page(HTMLParser):
    """Section ids, images (src, width, height), the text of absent-picture notes and every tag seen."""

    def __init__(self, html: str):
        super().__init__()
        self.sections, self.images, self.absent, self.tags = [], [], [], []
        self._in_absent = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "img":
            self.images.append((a["src"], int(a["width"]), int(a["height"])))
        self._in_absent = a.get("class") == "absent"

    def handle_data(self, data):
        if self._in_absent:
            self.absent.append(data)
            self._in_absent = False


def decoded_images(page: Page):
    """Each embedded image decoded by Pillow: (its size, the size the page gives it)."""
    from PIL import Image

    sizes = []
    for src, width, height in page.images:
        assert src.startswith("data:image/png;base64,"), src[:40]
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # decodes every pixel: a truncated image fails here
            sizes.append((im.size, (width, height)))
    return sizes


def fingerprint(folder: Path) -> dict:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    (root / "corpus.txt").write_text("the quick brown fox jumps over the lazy dog.\n" * 60, encoding="utf-8")
    rows = [f"{2000 + i // 12}-{i % 12 + 1:02d}-01,{10 + np.sin(i / 2) + 0.01 * i:.4f}" for i in range(72)]
    (root / "sales.csv").write_text("month,sales\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with open(root / "reviews.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["review", "sentiment"])
        for i in range(40):
            w.writerow([f"it was {['great', 'love', 'fine'][i % 3]} {HOSTILE_TOKEN}", "pos"])
            w.writerow([f"it was {['bad', 'awful', 'poor'][i % 3]}", HOSTILE])
    (root / "tags.conll").write_text(
        "".join(f"Alice\tB-PER\nlikes\tO\nRome\tB-LOC\n{HOSTILE_TOKEN}\tO\n\n" for _ in range(40)), encoding="utf-8"
    )
    words = ("abc", "bca", "cab", "acb", "bac", "cba") * 8
    (root / "pairs.tsv").write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    return root


TRAIN = {
    "lm": lambda d, out: ["train", "lm", "--text", d / "corpus.txt", "--out", out, *LM],
    "forecast": lambda d, out: (
        ["train", "forecast", "--csv", d / "sales.csv", "--time-col", "month"]
        + ["--target", "sales", "--horizon", "3", "--input-length", "12", "--max-epochs", "2", "--out", out]
    ),
    "classify": lambda d, out: (
        ["train", "classify", "--data", d / "reviews.csv", "--text-col", "review"]
        + ["--label-col", "sentiment", "--level", "word", "--out", out, *SMALL]
    ),
    "tag": lambda d, out: ["train", "tag", "--data", d / "tags.conll", "--out", out, *SMALL],
    "seq2seq": lambda d, out: ["train", "seq2seq", "--pairs", d / "pairs.tsv", "--out", out, *SMALL, "--beam", "1"],
}
# the pictures each task's report must show, by their heading
PICTURES = {
    "lm": {"Loss curves", "Gradient norm over training", "Sample", "Gradient flow through time"},
    "forecast": {"Loss curves", "Gradient norm over training", "Forecast"},
    "classify": {"Loss curves", "Gradient norm over training", "Confusion matrix"},
    "tag": {"Loss curves", "Gradient norm over training", "Gradient flow through time"},
    "seq2seq": {"Loss curves", "Gradient norm over training", "Attention map", "Gradient flow through time"},
}
RUNS = {}


def trained(task: str, data: Path, tmp_path_factory) -> Path:
    if task not in RUNS:
        out = tmp_path_factory.mktemp(task) / "run"
        code, output = invoke(*TRAIN[task](data, out))
        assert code == 0, output
        assert f"report: {out / 'report.html'}" in output, output
        RUNS[task] = out
    return RUNS[task]


@pytest.mark.slow
@pytest.mark.parametrize("task", list(TRAIN))
def test_every_train_verb_writes_a_report_with_every_section(task, data, tmp_path_factory):
    out = trained(task, data, tmp_path_factory)
    html = (out / "report.html").read_text(encoding="utf-8")
    page = Page(html)
    assert page.sections == list(SECTION_IDS)
    titles = set(re.findall(r"<h3>([^<]+)</h3>", html))
    assert PICTURES[task] <= titles, titles
    assert not page.absent, page.absent  # every picture of a good run is drawn
    assert page.images and all(size == shown for size, shown in decoded_images(page))
    assert "script" not in page.tags and "http://" not in html and "https://" not in html  # self-contained
    if task == "lm":
        assert "tokens sampled from the model" in html


@pytest.mark.slow
def test_user_text_is_escaped(data, tmp_path_factory):
    """Labels and tokens from the user's files show as text; none becomes a tag."""
    for task in ("classify", "tag"):
        html = (trained(task, data, tmp_path_factory) / "report.html").read_text(encoding="utf-8")
        page = Page(html)
        assert "script" not in page.tags and page.tags.count("img") == len(page.images)
        assert HOSTILE not in html and HOSTILE_TOKEN not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in (RUNS["classify"] / "report.html").read_text()
    assert "&lt;img/src=x/onerror=alert(1)&gt;" in (RUNS["tag"] / "report.html").read_text()


@pytest.mark.slow
def test_report_command_rewrites_only_the_report(data, tmp_path_factory):
    out = trained("classify", data, tmp_path_factory)
    (out / "report.html").unlink()
    before = fingerprint(out)
    code, output = invoke("report", out)
    assert code == 0, output
    assert output.strip() == str(out / "report.html")
    after = fingerprint(out)
    assert after.pop(str(out / "report.html"))
    assert after == before
    assert not list(out.glob(".report.html.*"))  # no temporary file left behind


@pytest.mark.slow
def test_missing_and_damaged_pictures_are_said_not_fatal(data, tmp_path_factory):
    out = trained("forecast", data, tmp_path_factory)
    cls = trained("classify", data, tmp_path_factory)
    (out / "forecast.png").unlink()
    (cls / "confusion_matrix.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    pages = [Page(render_report(folder)) for folder in (out, cls)]
    assert any("forecast.png is not in the run folder" in a for a in pages[0].absent), pages[0].absent
    assert any("confusion_matrix.png cannot be shown: not a PNG image" in a for a in pages[1].absent)
    assert all(size == shown for page in pages for size, shown in decoded_images(page))


@pytest.mark.slow
def test_lm_gradient_flow_says_why_when_the_corpus_is_gone(data, tmp_path_factory, tmp_path):
    import shutil

    run = tmp_path / "lm"
    shutil.copytree(trained("lm", data, tmp_path_factory), run)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a different text\n" * 50)
    settings = (run / "run_settings.json").read_text().replace(str(data / "corpus.txt"), str(corpus))
    (run / "run_settings.json").write_text(settings)
    page = Page(render_report(run))
    assert any("has changed since the run" in a for a in page.absent), page.absent
    corpus.unlink()
    page = Page(render_report(run))
    assert any("is no longer there" in a for a in page.absent), page.absent


@pytest.mark.slow
def test_a_failing_report_warns_and_keeps_the_model(data, tmp_path, monkeypatch):
    def broken(run_dir):
        raise RuntimeError("the renderer broke")

    monkeypatch.setattr(report_module, "write_report", broken)
    out = tmp_path / "run"
    code, output = invoke(*TRAIN["tag"](data, out))
    assert code == 0, output
    assert "warning: the report was not written (RuntimeError: the renderer broke)" in output
    assert f"rnnkit report {out}" in output
    assert (out / "model.safetensors").is_file() and not (out / "report.html").exists()


def test_an_interrupted_write_keeps_the_old_report(tmp_path, monkeypatch):
    """The page is written atomically: a failure while writing leaves the previous report whole."""
    from rnnkit.data import atomic

    run = tmp_path / "run"
    run.mkdir()
    (run / "report.html").write_text("the old report")
    monkeypatch.setattr(report_module, "render_report", lambda run_dir: "<p>new</p>" * 1000)

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_report(run)
    assert (run / "report.html").read_text() == "the old report"
    assert sorted(p.name for p in run.iterdir()) == ["report.html"]


def test_png_size_reads_the_header_and_refuses_what_is_not_png():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2), dpi=50)
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert png_size(buffer.getvalue()) == (150, 100)
    for bad in (b"", b"GIF89a" + bytes(30), buffer.getvalue()[:20]):
        with pytest.raises(ValueError, match="not a PNG"):
            png_size(bad)


@pytest.mark.slow
def test_valid_json_of_unexpected_shape_still_renders(data, tmp_path_factory, tmp_path):
    """Objects whose fields are of another shape than a train verb writes: shown as they are, no crash."""
    import json
    import shutil

    for task, name, doc in (
        ("lm", "run_settings.json", {"recipe": [1, 2], "corpus": "gone"}),
        ("classify", "metrics.json", {"accuracy": "high", "per_class": {"a": [1], "b": None}, "confusion": 3}),
        ("tag", "run.json", {"recipe": 5, "sizes": [1, 2], "data": {"nested": [HOSTILE]}}),
    ):
        run = tmp_path / task
        shutil.copytree(trained(task, data, tmp_path_factory), run)
        (run / name).write_text(json.dumps(doc))
        html = render_report(run)
        assert Page(html).sections == list(SECTION_IDS)
        assert HOSTILE not in html

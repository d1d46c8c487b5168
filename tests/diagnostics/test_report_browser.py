"""The report as a person sees it: each task's page opened in headless Chromium.

The browser is driven through the DevTools protocol (a WebSocket to ``--remote-debugging-port``):
the page is loaded from its file, every ``<img>`` must have decoded (``complete`` and
``naturalWidth`` > 0, at the size the page states), and a screenshot of the whole page must come
back at the expected size and not be blank. Skipped, saying so, where no Chromium is installed
(CI installs Debian's ``chromium``: see ``.ci/run``).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from .test_report import TRAIN, data, trained  # noqa: F401 -- the tiny runs, shared with test_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH = 1200


def find_browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """Headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self, executable: str, timeout: float = 60.0):
        from websockets.sync.client import connect

        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="rnnkit-chromium-")
        args = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        args += ["--no-first-run", "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0"]
        args += [f"--user-data-dir={self.profile}", "about:blank"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not start its DevTools server")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as r:  # local only
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.connection = contextlib.ExitStack()
        self.socket = self.connection.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout)
        )
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method: str, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=self.timeout))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message.get("method"))

    def wait_for(self, event: str):
        while event not in self.events:
            message = json.loads(self.socket.recv(timeout=self.timeout))
            self.events.append(message.get("method"))

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"]["value"]

    def open(self, path: Path, width: int = WIDTH, height: int = 900) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.events.clear()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def screenshot(self) -> bytes:
        """A PNG of the whole page (WIDTH x the page's height)."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        clip = {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}
        shot = self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        try:
            if getattr(self, "connection", None) is not None:
                self.connection.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


IMAGES = """Array.from(document.images).map(i => ({
    complete: i.complete, natural: [i.naturalWidth, i.naturalHeight],
    stated: [Number(i.getAttribute('width')), Number(i.getAttribute('height'))], shown: i.getBoundingClientRect().width,
    alt: i.alt}))"""
PAGE = """({sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
    width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
    text: document.body.innerText.length})"""


def check_rendered(browser: Browser, report: Path):
    """Open ``report``; assert every image decoded and the page is laid out; return the screenshot."""
    from PIL import Image

    browser.open(report)
    images = browser.evaluate(IMAGES)
    assert images, "the page shows no image"
    for im in images:
        assert im["complete"] and im["natural"][0] > 0 and im["natural"][1] > 0, f"not decoded: {im}"
        assert im["natural"] == im["stated"], im
        assert 0 < im["shown"] <= WIDTH, im
    page = browser.evaluate(PAGE)
    assert page["sections"] == ["overview", "settings", "data", "training", "metrics", "pictures", "time"]
    assert page["width"] <= WIDTH, "the page is wider than the window (a horizontal scroll bar)"
    assert page["text"] > 500
    png = browser.screenshot()
    with Image.open(io.BytesIO(png)) as shot:
        shot.load()
        assert shot.size == (WIDTH, page["height"])
        grey = shot.convert("L")
        histogram = grey.histogram()
        background = max(histogram) / sum(histogram)
        assert background < 0.9, f"{background:.0%} of the screenshot is one shade: blank?"
        assert len([n for n in histogram if n]) > 64, "too few shades for a page of text and plots"
    return png


@pytest.fixture(scope="module")
def browser():
    executable = find_browser()
    if executable is None:
        pytest.skip(
            "no Chromium browser installed (looked for "
            + ", ".join(BROWSERS)
            + "); on Debian: apt-get install chromium"
        )
    b = Browser(executable)
    yield b
    b.close()


@pytest.mark.slow
@pytest.mark.parametrize("task", list(TRAIN))
def test_each_report_renders_in_chromium(task, browser, data, tmp_path_factory):  # noqa: F811
    out = trained(task, data, tmp_path_factory)
    png = check_rendered(browser, out / "report.html")
    shots = os.environ.get("RNNKIT_REPORT_SCREENSHOTS")  # where to keep them for a person to look at
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        (Path(shots) / f"{task}.png").write_bytes(png)


@pytest.mark.slow
def test_a_broken_image_is_caught(browser, tmp_path):
    """The check itself can fail: a page whose image does not decode is refused."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<html><body><p>text</p><img src="data:image/png;base64,iVBORw0KGgoAAAA=" width="10" height="10"></body></html>'
    )
    with pytest.raises(AssertionError, match="not decoded"):
        check_rendered(browser, page)

"""The viewers in headless Chromium: what a user clicks, and what the canvas then shows.

Set ``SEEDLENS_SCREENSHOT_DIR`` to keep the screenshots (``docs/images/`` holds the ones the README shows).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from seedlens.hub.api import create_app
from seedlens.hub.settings import HubSettings
from seedlens.hub.testing import LiveServer
from seedlens.viewer.run_app import create_run_app
from seedlens.viewer.run_session import RunSession

pytestmark = pytest.mark.browser

CANVAS_HASH = """(selector) => {
  const canvas = document.querySelector(selector);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let hash = 0;
  for (let i = 0; i < data.length; i += 3) hash = (hash * 31 + data[i]) >>> 0;
  return hash;
}"""


class Watched:
    """A page whose console errors and request hosts are recorded."""

    def __init__(self, browser, tmp_path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.tmp_path = tmp_path
        self.failed: list[int] = []  # statuses >= 400 (Chromium also logs each as a console error)
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.urls.append(r.url))
        self.page.on("response", lambda r: self.failed.append(r.status) if r.status >= 400 else None)

    def drawn(self, root: str = "#viewer") -> int:
        return int(self.page.evaluate(f"() => Number(document.querySelector('{root}').dataset.drawn || 0)"))

    def wait_drawn(self, more_than: int, root: str = "#viewer", timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            count = self.drawn(root)
            if count > more_than:
                return count
            time.sleep(0.05)
        raise AssertionError(f"{root} was not redrawn within {timeout} s")

    def canvas(self, selector: str) -> int:
        return int(self.page.evaluate(CANVAS_HASH, selector))

    def shot(self, name: str) -> None:
        folder = Path(os.environ.get("SEEDLENS_SCREENSHOT_DIR") or self.tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / name), full_page=True)

    def check_clean(self, provoked: tuple[int, ...] = ()) -> None:
        """No script error, no failed request but those the test provoked, no request to another host."""
        assert not self.errors, self.errors
        assert sorted(self.failed) == sorted(provoked), self.failed
        hosts = {urlparse(u).hostname for u in self.urls if urlparse(u).scheme in ("http", "https", "ws")}
        assert hosts <= {"127.0.0.1"}, hosts
        self.page.close()


@pytest.fixture
def watched(chromium, tmp_path):
    return lambda: Watched(chromium, tmp_path)


def _run_server(run: Path) -> LiveServer:
    return LiveServer(create_run_app(RunSession(run, device="cpu"))).start()


def test_a_run_sorts_by_score_opens_the_top_sample_and_its_sliders_change_the_canvas(volume_run, watched):
    server = _run_server(volume_run.run)
    try:
        view = watched()
        page = view.page
        page.goto(server.url + "/")
        page.wait_for_selector("body[data-ready=true]")
        page.click("th[data-key=score]")  # ascending
        page.click("th[data-key=score]")  # descending again
        scores = [float(t) for t in page.locator("#samples tbody td:nth-child(3)").all_inner_texts()]
        assert len(scores) == 4 and scores == sorted(scores, reverse=True)
        assert page.locator("#roc-caption").inner_text().startswith("ROC · AUROC")
        page.click("#samples tbody tr:first-child")
        view.wait_drawn(0)
        assert page.locator("canvas.plane").count() == 3
        top = page.locator("#samples tbody tr:first-child td").first.inner_text()
        assert page.locator("#sample-title").inner_text() == top

        axial = 'canvas.plane[data-axis="0"]'
        before, drawn = view.canvas(axial), view.drawn()
        page.locator('input.slice[data-axis="0"]').fill("3")
        drawn = view.wait_drawn(drawn)
        moved = view.canvas(axial)
        assert moved != before
        assert page.locator("#viewer figcaption").first.inner_text() == "axial 4 / 16"

        page.locator("#viewer .opacity").fill("100")
        drawn = view.wait_drawn(drawn)
        opaque = view.canvas(axial)
        page.locator("#viewer .opacity").fill("0")
        view.wait_drawn(drawn)
        assert len({moved, opaque, view.canvas(axial)}) == 3

        coronal = 'canvas.plane[data-axis="1"]'
        before, drawn = view.canvas(coronal), view.drawn()
        page.click(axial, position={"x": 20, "y": 30})  # moves the crosshair: the other planes follow
        view.wait_drawn(drawn)
        assert view.canvas(coronal) != before
        view.shot("viewer_run_volume.png")
        view.check_clean()
    finally:
        server.stop()


def test_a_cube_shows_the_spectrum_of_the_clicked_pixel(cube_run, watched):
    server = _run_server(cube_run.run)
    try:
        view = watched()
        page = view.page
        page.goto(server.url + "/#sample=1")
        page.wait_for_selector("body[data-ready=true]")
        view.wait_drawn(0)
        page.click("canvas.plane", position={"x": 100, "y": 120})
        page.wait_for_selector("#viewer .spectrum-readout:has-text('16 bands')")
        readout = page.locator("#viewer .spectrum-readout").inner_text()
        assert readout.startswith("pixel (y ") and "anomaly" in readout
        before, drawn = view.canvas("canvas.plane"), view.drawn()
        page.locator("#viewer .band").fill("5")
        view.wait_drawn(drawn)
        assert view.canvas("canvas.plane") != before
        caption = page.locator("#viewer .band-caption").inner_text()
        assert caption == "band 5" or caption.endswith(" nm")
        view.shot("viewer_run_cube.png")
        view.check_clean()
    finally:
        server.stop()


def test_the_hub_ui_signs_in_filters_and_shows_a_prediction_heatmap(ui_hub, watched, tmp_path):
    server = LiveServer(create_app(HubSettings(cache_dir=tmp_path / "cache"), hub=ui_hub.hub)).start()
    try:
        view = watched()
        page = view.page
        page.goto(server.url + "/ui")
        page.wait_for_selector("body[data-ready=sign-in]")
        assert page.locator("#sign-in").is_visible() and not page.locator("#list").is_visible()
        view.shot("viewer_hub_signin.png")
        page.fill("#token", "slh_not_a_token")
        page.click("#sign-in button[type=submit]")
        page.wait_for_selector("#sign-in-error:has-text('not valid')")
        page.fill("#token", ui_hub.read_token)
        page.click("#sign-in button[type=submit]")
        page.wait_for_selector("body[data-ready=list]")
        assert page.locator("#samples tbody tr").count() == 4

        page.fill("#where", 'germination = "dead"')
        page.click("#filter-form button[type=submit]")
        page.wait_for_selector("#page-facts:has-text('of 2 samples')")
        assert page.locator("#samples tbody tr").count() == 2
        view.shot("viewer_hub_list.png")
        page.fill("#where", "germination = ")
        page.click("#filter-form button[type=submit]")
        page.wait_for_selector("#list-error:has-text('expected')")
        page.fill("#where", 'germination = "dead"')
        page.click("#filter-form button[type=submit]")
        page.wait_for_selector("#page-facts:has-text('of 2 samples')")

        page.click("#samples tbody tr:first-child")
        page.wait_for_selector("body[data-ready=sample]")
        heat_panel = f'.prediction[data-model="{ui_hub.model}"]'
        page.wait_for_selector(f"{heat_panel} .viewer[data-drawn]")
        plain = view.canvas('.acquisition canvas.plane[data-axis="0"]')
        heated = view.canvas(f'{heat_panel} canvas.plane[data-axis="0"]')
        assert plain != heated  # the heatmap is drawn over the scan
        assert "score" in page.locator(heat_panel).inner_text()
        view.shot("viewer_hub_sample.png")

        assert page.evaluate("() => sessionStorage.getItem('seedlens-hub-token')") == ui_hub.read_token
        assert all(ui_hub.read_token not in url for url in [*view.urls, page.url])
        view.check_clean(provoked=(401, 400))  # the wrong token, the unfinished where
    finally:
        server.stop()

"""A fusion run in the viewer: predictions per sample, Shapley bars that add up, a heatmap per image-like modality."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from seedlens.hub.testing import LiveServer
from seedlens.viewer.fusion_session import FusionSession, is_fusion_run
from seedlens.viewer.run_app import create_run_app


@pytest.fixture(scope="module")
def fusion_client(fusion_run):
    manifest, run = fusion_run
    with TestClient(create_run_app(FusionSession(run, data=manifest, device="cpu"))) as client:
        yield client


def test_a_fusion_run_lists_its_predictions_and_explains_a_sample(fusion_client, fusion_run, volume_run):
    assert is_fusion_run(fusion_run[1]) and not is_fusion_run(volume_run.run)
    run = fusion_client.get("/api/run").json()
    assert run["kind"] == "fusion" and run["columns"][:3] == ["id", "germination", "oil_content"]
    assert len(run["samples"]) == 4 and run["roc"] is None
    sample = fusion_client.get("/api/samples/0").json()
    for target in sample["targets"].values():
        assert sum(target["contributions"].values()) == pytest.approx(target["prediction"] - target["base"], abs=1e-4)
    images = {m["name"]: m for m in sample["modalities"]}
    assert images and set(images) <= {"ct", "hsi", "rgb"}
    for name, layout in images.items():
        params = {"modality": name, "plane": 0, **({"axis": 0} if layout["kind"] == "volume" else {})}
        scan = fusion_client.get("/api/samples/0/scan.png", params=params)
        heat = fusion_client.get("/api/samples/0/heatmap.png", params=params)
        assert scan.status_code == heat.status_code == 200, (scan.text, heat.text)
        assert np.asarray(Image.open(io.BytesIO(heat.content))).shape[:2] == tuple(layout["spatial"][-2:])
    missing = fusion_client.get("/api/samples/0/scan.png", params={"plane": 0})
    assert missing.status_code == 400 and "modality must be one of" in missing.text


def test_the_fusion_page_draws_shapley_bars_and_modality_heatmaps(fusion_run, chromium):
    manifest, run = fusion_run
    server = LiveServer(create_run_app(FusionSession(run, data=manifest, device="cpu"))).start()
    try:
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/#sample=0")
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("canvas.shapley-bars").count() == 2
        page.wait_for_selector(".modality[data-drawn]")
        assert page.locator(".modality canvas.plane").count() >= 1
        assert not page.locator(".plots").is_visible()
        page.close()
        assert not errors, errors
    finally:
        server.stop()

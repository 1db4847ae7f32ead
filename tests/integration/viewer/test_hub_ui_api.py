"""The hub's /ui page and the picture routes it reads: token checks, layers, refusals of bad parameters."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from seedlens.hub.api import create_app
from seedlens.hub.settings import HubSettings


@pytest.fixture
def client(ui_hub, tmp_path):
    with TestClient(create_app(HubSettings(cache_dir=tmp_path / "cache"), hub=ui_hub.hub)) as served:
        yield served


def _auth(ui_hub) -> dict[str, str]:
    return {"Authorization": f"Bearer {ui_hub.read_token}"}


def _base(ui_hub, sample_id: str) -> str:
    blob = ui_hub.hub.sample(sample_id).acquisitions[0].blob
    return f"/api/v1/samples/{sample_id}/acquisitions/{blob}"


def test_the_page_is_public_but_every_picture_needs_a_token(client, ui_hub):
    page = client.get("/ui")
    assert page.status_code == 200 and "Sign in" in page.text and "slh_" not in page.text.replace('"slh_..."', "")
    assert client.get("/ui/static/hub.js").status_code == 200
    assert client.get("/ui/colour-bar.png").status_code == 200
    base = _base(ui_hub, "0003_void")
    for route in ("/layout", "/scan.png?axis=0&plane=0", "/spectrum?y=0&x=0", f"/heatmaps/{ui_hub.model}.png"):
        assert client.get(base + route).status_code == 401, route
        assert client.get(base + route, headers={"Authorization": "Bearer slh_wrong"}).status_code == 401


def test_a_stored_scan_and_its_prediction_heatmap_are_served_plane_by_plane(client, ui_hub):
    base = _base(ui_hub, "0003_void")
    layout = client.get(base + "/layout", params={"model": ui_hub.model}, headers=_auth(ui_hub)).json()
    assert layout["kind"] == "volume" and layout["spatial"] == [16, 16, 16] and layout["heatmaps"] == ["local"]
    planes = [np.asarray(Image.open(io.BytesIO(client.get(base + "/scan.png", params={"axis": 0, "plane": k},
                                                          headers=_auth(ui_hub)).content))) for k in (3, 8)]
    assert planes[0].shape == (16, 16) and not np.array_equal(*planes)
    heat = client.get(f"{base}/heatmaps/{ui_hub.model}.png", params={"axis": 2, "plane": 8}, headers=_auth(ui_hub))
    assert heat.status_code == 200 and np.asarray(Image.open(io.BytesIO(heat.content))).shape == (16, 16, 3)


@pytest.mark.parametrize(("route", "status", "words"), [
    ("/api/v1/samples/..%2F..%2Fetc/acquisitions/{blob}/scan.png?axis=0&plane=0", 404, ""),
    ("/api/v1/samples/0003_void/acquisitions/..%2F..%2Fpasswd/scan.png", 404, ""),
    ("/api/v1/samples/0003_void/acquisitions/{blob}/scan.png?axis=0&plane=99", 400, "[0, 15]"),
    ("/api/v1/samples/0003_void/acquisitions/{blob}/scan.png?axis=5&plane=0", 422, ""),
    ("/api/v1/samples/0003_void/acquisitions/{other}/scan.png?axis=0&plane=0", 404, "has no acquisition with blob"),
    ("/api/v1/samples/nope/acquisitions/{blob}/layout", 404, "nope"),
    ("/api/v1/samples/0003_void/acquisitions/{blob}/heatmaps/{unknown}.png?axis=0&plane=0", 404, "no model with uid"),
    ("/api/v1/samples/0003_void/acquisitions/{blob}/spectrum?y=0&x=0", 400, "needs a hyperspectral cube"),
    ("/ui/static/../routers/ui.py", 404, ""),
])
def test_bad_parameters_get_a_4xx_never_a_file_outside_the_hub(client, ui_hub, route, status, words):
    blob = ui_hub.hub.sample("0003_void").acquisitions[0].blob
    other = ui_hub.hub.sample("0000_normal").acquisitions[0].blob
    url = route.format(blob=blob, other=other, unknown="0" * 32)
    response = client.get(url, headers=_auth(ui_hub))
    assert response.status_code == status, response.text
    assert words in response.text

"""The run viewer's JSON and PNG endpoints: shapes, decisions, layers that change with the plane, refusals."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from seedlens.errors import DataSourceError
from seedlens.io import read
from seedlens.viewer.run_app import create_run_app
from seedlens.viewer.run_session import RunSession


def _pixels(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


@pytest.fixture(scope="module")
def volume_client(volume_run):
    with TestClient(create_run_app(RunSession(volume_run.run, device="cpu"))) as client:
        yield client


def test_the_run_lists_every_evaluated_sample_with_its_decision_and_defect_metrics(volume_client, volume_run):
    run = volume_client.get("/api/run").json()
    recorded = json.loads((volume_run.run / "samples.json").read_text())
    assert run["detector"] == "fcdd" and run["modality"] == "volume" and run["split"] == "test"
    assert [s["score"] for s in run["samples"]] == [s["score"] for s in recorded["samples"]]
    for row in run["samples"]:
        assert row["anomalous"] == (row["score"] >= run["threshold"])
    assert {"defects", "pixel_auroc", "aupro"} <= set(run["columns"])
    defective = [s for s in run["samples"] if s["defects"]]
    assert defective and all(0.0 <= s["pixel_auroc"] <= 1.0 for s in defective)
    assert run["roc"]["fpr"][0] == 0.0 and run["roc"]["tpr"][-1] == 1.0
    assert sum(run["histogram"]["normal"]) + sum(run["histogram"]["anomalous"]) == len(run["samples"])


def test_a_volume_is_served_plane_by_plane_on_its_own_grid(volume_client):
    info = volume_client.get("/api/samples/0").json()
    assert info["kind"] == "volume" and info["spatial"] == [16, 16, 16] and info["planes"] == [16, 16, 16]
    assert info["heatmaps"] == ["global", "local"] and len(info["spacing"]) == 3
    first = _pixels(volume_client.get("/api/samples/0/scan.png", params={"axis": 0, "plane": 2}))
    middle = _pixels(volume_client.get("/api/samples/0/scan.png", params={"axis": 0, "plane": 8}))
    assert first.shape == middle.shape == (16, 16) and not np.array_equal(first, middle)
    side = _pixels(volume_client.get("/api/samples/0/scan.png", params={"axis": 2, "plane": 8}))
    assert side.shape == (16, 16)
    heat = _pixels(volume_client.get("/api/samples/0/heatmap.png", params={"axis": 1, "plane": 8}))
    assert heat.shape == (16, 16, 3)
    local = volume_client.get("/api/samples/0/heatmap.png", params={"axis": 1, "plane": 8, "normalize": "global"})
    assert local.status_code == 200


def test_the_contour_layer_marks_the_defect_and_is_transparent_elsewhere(volume_client):
    run = volume_client.get("/api/run").json()
    index = next(s["index"] for s in run["samples"] if s["defects"])
    info = volume_client.get(f"/api/samples/{index}").json()
    assert info["has_mask"]
    layers = [_pixels(volume_client.get(f"/api/samples/{index}/mask.png", params={"axis": 0, "plane": k}))
              for k in range(16)]
    assert all(layer.shape == (16, 16, 4) for layer in layers)
    drawn = [int((layer[..., 3] > 0).sum()) for layer in layers]
    assert max(drawn) > 0 and min(drawn) == 0  # the defect is on some planes, not on all


@pytest.mark.parametrize(("path", "params", "status", "words"), [
    ("/api/samples/99", {}, 404, "no sample 99"),
    ("/api/samples/-1", {}, 422, ""),
    ("/api/samples/..%2F..%2Fetc/scan.png", {}, 404, ""),
    ("/api/samples/0/scan.png", {"axis": 0, "plane": 16}, 400, "[0, 15]"),
    ("/api/samples/0/scan.png", {"axis": 3, "plane": 0}, 422, ""),
    ("/api/samples/0/scan.png", {"plane": 0}, 400, "axis must be 0, 1 or 2"),
    ("/api/samples/0/heatmap.png", {"axis": 0, "plane": 0, "normalize": "max"}, 422, ""),
    ("/api/samples/0/spectrum", {"y": 1, "x": 1}, 400, "needs a hyperspectral cube"),
    ("/static/../run_app.py", {}, 404, ""),
])
def test_bad_requests_are_refused_with_a_4xx_that_says_why(volume_client, path, params, status, words):
    response = volume_client.get(path, params=params)
    assert response.status_code == status, response.text
    assert words in response.text


def test_the_page_and_its_scripts_come_from_the_server_itself(volume_client):
    page = volume_client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("run.js", "slices.js", "viewer.css"):
        assert volume_client.get(f"/static/{name}").status_code == 200
    assert "http" not in volume_client.get("/static/run.js").text.replace("history", "")


def test_a_cube_gives_bands_false_colour_and_the_spectrum_of_a_pixel(cube_run):
    with TestClient(create_run_app(RunSession(cube_run.run, device="cpu"))) as client:
        info = client.get("/api/samples/1").json()
        assert info["kind"] == "cube" and info["bands"] == 16 and len(info["false_colour"]) == 3
        colour = _pixels(client.get("/api/samples/1/scan.png"))
        band = _pixels(client.get("/api/samples/1/scan.png", params={"band": 3}))
        assert colour.shape == (16, 16, 3) and band.shape == (16, 16)
        spectrum = client.get("/api/samples/1/spectrum", params={"y": 4, "x": 5}).json()
        cube, _ = read(info["path"])
        np.testing.assert_allclose(spectrum["values"], np.asarray(cube)[:, 4, 5], rtol=1e-6)
        assert len(spectrum["bands"]) == 16 and spectrum["unit"] in ("nm", "band")
        assert client.get("/api/samples/1/spectrum", params={"y": 16, "x": 0}).status_code == 400
        assert client.get("/api/samples/1/scan.png", params={"band": 16}).status_code == 400


def test_a_run_never_evaluated_says_how_to_get_samples(tmp_path, volume_run):
    import shutil

    run = shutil.copytree(volume_run.run, tmp_path / "run")
    (run / "samples.json").unlink()
    with pytest.raises(DataSourceError, match=r"samples.json: no evaluated samples here; run `seedlens eval"):
        RunSession(run, device="cpu")
    session = RunSession(run, data=volume_run.manifest, device="cpu")
    assert len(session.rows) == 4 and session.source == str(volume_run.manifest)

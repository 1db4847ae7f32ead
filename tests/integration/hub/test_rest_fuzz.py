"""Fuzzing the REST filters and parameters: malformed input is a 4xx, never a 500."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedlens.hub import HubSettings, create_app

PIECES = st.sampled_from(["species", "lot", "oil", "tag", "modality", "project", "split", "sample_id", "x", "=",
                          "!=", "<=", ">", "in", "not", "and", "or", "contains", "null", "(", ")", "[", "]", ",",
                          '"wheat"', "'L1'", '"%_\\\\"', "42", "-1e308", "1e400", '"', "\\", "!", "\x00", "é",
                          "😀", "%00", "%ff"])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)  # a URL cannot carry surrogates
WHERE = st.one_of(TEXT, st.lists(PIECES, max_size=16).map(" ".join))
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FUZZ_LIGHT = settings(FUZZ, max_examples=50)  # several requests per example


@pytest.fixture
def api(loaded):
    token = loaded.create_token("fuzz", "admin")[1]
    client = TestClient(create_app(HubSettings(max_upload_bytes=4096), hub=loaded),
                        headers={"Authorization": f"Bearer {token}"})
    with client:
        yield client


def no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])


@FUZZ
@given(where=WHERE)
def test_where_filter_never_500(api, where):
    response = api.get("/api/v1/samples", params={"where": where})
    no_server_error(response)
    assert response.status_code in (200, 400, 422)
    no_server_error(api.get("/api/v1/predictions", params={"where": where}))
    no_server_error(api.post("/api/v1/bundles", json={"where": where}))


@FUZZ_LIGHT
@given(cursor=TEXT, limit=st.integers(-5, 10**12), project=TEXT, sample_id=TEXT.filter(bool), rng=TEXT)
def test_other_parameters_never_500(api, cursor, limit, project, sample_id, rng):
    no_server_error(api.get("/api/v1/samples", params={"cursor": cursor, "limit": limit, "project": project}))
    no_server_error(api.get(f"/api/v1/samples/{quote(sample_id, safe='')}", params={"project": project}))
    digest = api.get("/api/v1/samples/s000").json()["acquisitions"][0]["blob"]
    no_server_error(api.get(f"/api/v1/blobs/{digest}", headers={"Range": rng.encode("ascii", "ignore").decode()}))
    no_server_error(api.put(f"/api/v1/samples/{quote(sample_id, safe='')}",
                            json={"lot": project, "traits": {"w": limit}}))
    no_server_error(api.post("/api/v1/samples/fz/acquisitions", content=sample_id.encode(),
                             params={"filename": project or "f.npy", "modality": "image"}))


@FUZZ_LIGHT
@given(body=st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10) | st.integers(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
))
def test_json_bodies_never_500(api, body):
    for method, path in (("PUT", "/api/v1/samples/fz"), ("POST", "/api/v1/models"), ("POST", "/api/v1/tokens"),
                         ("POST", "/api/v1/bundles"), ("POST", "/api/v1/models/" + "0" * 32 + "/predictions")):
        no_server_error(api.request(method, path, json=body))


@pytest.mark.parametrize("raw", [b'{"metrics": {"auc": NaN}}', b'{"config": {"x": [Infinity]}}', b"{", b"\xff",
                                 b'{"name": "' + b"x" * 300 + b'"}'])
def test_raw_model_bodies_are_rejected_cleanly(api, raw):
    response = api.post("/api/v1/models", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422), response.text


def test_where_on_the_live_server(loaded, live_server):
    token = loaded.create_token("live", "read")[1]
    server = live_server(create_app(HubSettings(), hub=loaded))
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        for where in ('lot = "L1" and', "\x00", "((((", "oil > 'x'", "tag in ()", "%ff%fe", "modality = 3",
                      "a" * 9000, 'species = "' + "\\" * 3 + '"'):
            response = client.get("/api/v1/samples", params={"where": where})
            assert 400 <= response.status_code < 500, (where, response.status_code)
        for raw in ("%ff%fe%00", "%ed%a0%80", "%c0%af"):
            response = client.get(f"/api/v1/samples?where={raw}")
            assert 400 <= response.status_code < 500, raw

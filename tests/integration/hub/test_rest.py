"""The REST API on a real uvicorn server: auth, listing, blobs (Range/ETag), uploads, predictions, bundles."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import httpx
import numpy as np
import pytest

from seedlens.hub import HubClient, HubSettings, HubSource, create_app
from seedlens.hub.bundle import verify_bundle
from seedlens.hub.errors import AuthError, ExprError, ReadOnlyHubError
from seedlens.hub.hub import Hub
from seedlens.hub.remote import RemoteHub
from seedlens.hub.tokens import StaticTokens, generate
from seedlens.io import read

LIMIT = 64 * 1024


@pytest.fixture
def served(loaded, live_server):
    tokens = {scope: loaded.create_token(f"t-{scope}", scope)[1] for scope in ("read", "write", "admin")}
    revoked = loaded.create_token("old", "admin")[1]
    loaded.revoke_token("old")
    app = create_app(HubSettings(max_upload_bytes=LIMIT, max_page_size=4), hub=loaded)
    server = live_server(app)
    clients = {scope: httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {t}"})
               for scope, t in tokens.items()}
    clients["anon"] = httpx.Client(base_url=server.url)
    clients["revoked"] = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {revoked}"})
    clients["wrong"] = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer " + generate()[2]})
    yield {"url": server.url, "hub": loaded, "tokens": tokens, **clients}
    for client in clients.values():
        client.close()


def test_health_needs_no_token_and_everything_else_does(served):
    assert served["anon"].get("/health").json()["status"] == "ok"
    for name in ("anon", "revoked", "wrong"):
        response = served[name].get("/api/v1/samples")
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"] == "Bearer"
    assert served["anon"].get("/api/v1/samples", headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert served["read"].get("/api/v1/samples").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "need"),
    [
        ("PUT", "/api/v1/samples/s000", "write"),
        ("POST", "/api/v1/blobs", "write"),
        ("POST", "/api/v1/models", "write"),
        ("GET", "/api/v1/tokens", "admin"),
        ("POST", "/api/v1/tokens", "admin"),
        ("DELETE", "/api/v1/tokens/t-read", "admin"),
    ],
)
def test_too_small_scope_is_403(served, method, path, need):
    smaller = "read" if need == "write" else "write"
    response = served[smaller].request(method, path, json={})
    assert response.status_code == 403
    assert f"this needs '{need}'" in response.json()["detail"]


def test_list_filter_paginate(served):
    client = served["read"]
    page = client.get("/api/v1/samples", params={"limit": 100, "count": "true"}).json()
    assert len(page["items"]) == 4 and page["total"] == 6  # max_page_size caps the limit
    rest = client.get("/api/v1/samples", params={"cursor": page["next_cursor"], "limit": 4}).json()
    assert [s["sample_id"] for s in rest["items"]] == ["s004", "s005"] and rest["next_cursor"] is None
    page = client.get("/api/v1/samples", params={"where": 'oil >= 43 and tag = "c"'}).json()
    assert [s["sample_id"] for s in page["items"]] == ["s003", "s004", "s005"]
    item = page["items"][0]
    assert set(item) == {"project", "sample_id", "species", "genotype", "lot", "harvest", "split", "germination",
                         "tags", "traits", "acquisitions"}
    assert item["traits"] == {"oil": 43.0} and item["acquisitions"][0]["modality"] == "image"


def test_filter_errors_are_400_with_position(served):
    response = served["read"].get("/api/v1/samples", params={"where": 'species = "wheat" and lott = "L1"'})
    assert response.status_code == 400
    body = response.json()
    assert body["position"] == 22 and "unknown field 'lott'" in body["detail"]
    assert served["read"].get("/api/v1/samples", params={"cursor": "bogus!"}).status_code == 400
    assert served["read"].get("/api/v1/samples", params={"limit": 0}).status_code == 422


def test_sample_detail_and_traversal(served):
    client = served["read"]
    assert client.get("/api/v1/samples/s001").json()["germination"] == "normal"
    assert client.get("/api/v1/samples/nope").status_code == 404
    for bad in ("/api/v1/samples/..%2F..%2Fetc", "/api/v1/blobs/..%2F..%2Fcatalog.sqlite",
                "/api/v1/blobs/" + "A" * 64, "/api/v1/samples/%2e%2e"):
        status = client.get(bad).status_code
        assert 400 <= status < 500, (bad, status)


def test_blob_download_range_etag(served):
    client = served["read"]
    digest = client.get("/api/v1/samples/s000").json()["acquisitions"][0]["blob"]
    url = f"/api/v1/blobs/{digest}"
    full = client.get(url)
    assert full.status_code == 200 and hashlib.sha256(full.content).hexdigest() == digest
    size = len(full.content)
    assert full.headers["etag"] == f'"{digest}"' and full.headers["accept-ranges"] == "bytes"
    assert int(full.headers["content-length"]) == size

    part = client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == full.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{size}"
    tail = client.get(url, headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == full.content[-16:]
    assert tail.headers["content-range"] == f"bytes {size - 16}-{size - 1}/{size}"
    assert client.get(url, headers={"Range": f"bytes=-{size * 2}"}).content == full.content
    assert client.get(url, headers={"Range": "bytes=100-"}).content == full.content[100:]
    unsatisfiable = client.get(url, headers={"Range": f"bytes={size}-"})
    assert unsatisfiable.status_code == 416 and unsatisfiable.headers["content-range"] == f"bytes */{size}"
    assert client.get(url, headers={"Range": "bytes=-0"}).status_code == 416
    assert client.get(url, headers={"Range": "bytes=5-2"}).status_code == 200  # invalid: ignored
    assert client.get(url, headers={"Range": "bytes=0-1,4-5"}).status_code == 200  # several: whole blob
    assert client.get(url, headers={"Range": "pages=1-2"}).status_code == 200
    assert client.get(url, headers={"Range": "bytes=0-3", "If-Range": '"other"'}).status_code == 200

    cached = client.get(url, headers={"If-None-Match": f'"{digest}"'})
    assert cached.status_code == 304 and cached.content == b""
    assert client.get(url, headers={"If-None-Match": 'W/"x", *'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    head = client.head(url)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) == size
    assert client.get("/api/v1/blobs/" + "0" * 64).status_code == 404


def test_corrupt_blob_is_not_served(served):
    hub = served["hub"]
    digest = hub.sample("s002").acquisitions[0].blob
    with open(hub.store.path_of(digest), "ab") as handle:
        handle.write(b"!")
    response = served["read"].get(f"/api/v1/blobs/{digest}")
    assert response.status_code == 500 and "changed or truncated" in response.json()["detail"]


def test_upload(served, seeds, tmp_path):
    client = served["write"]
    data = (seeds["folder"] / "s000.npy").read_bytes()
    params = {"filename": "new.npy", "modality": "image", "project": "uploads"}
    created = client.post("/api/v1/samples/u1/acquisitions", params=params, content=data)
    assert created.status_code == 201, created.text
    assert created.json()["sample"]["project"] == "uploads" and created.json()["created"] is True
    again = client.post("/api/v1/samples/u1/acquisitions", params=params, content=data)
    assert again.status_code == 200 and again.json()["created"] is False

    too_big = client.post("/api/v1/samples/u2/acquisitions", params=params, content=b"x" * (LIMIT + 1))
    assert too_big.status_code == 413 and "SEEDLENS_MAX_UPLOAD_BYTES" in too_big.json()["detail"]
    streamed = client.post("/api/v1/samples/u2/acquisitions", params=params,
                           content=iter([b"x" * 40000, b"x" * 40000]))  # chunked: no Content-Length
    assert streamed.status_code == 413
    corrupt = client.post("/api/v1/samples/u3/acquisitions", params=params, content=data[:70])
    assert corrupt.status_code == 422 and "new.npy" in corrupt.json()["detail"]
    for name in ("../x.npy", "a/b.npy", ".hidden.npy", "x\x00.npy"):
        response = client.post("/api/v1/samples/u4/acquisitions", params={**params, "filename": name}, content=data)
        assert response.status_code == 400, name
    bad_id = client.post("/api/v1/samples/..%5Cx/acquisitions", params=params, content=data)
    assert 400 <= bad_id.status_code < 500
    assert client.post("/api/v1/samples/u5/acquisitions", params={**params, "modality": "voxel"},
                       content=data).status_code == 422
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        info = tarfile.TarInfo("../../evil.npy")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    response = client.post("/api/v1/samples/u6/acquisitions", params={**params, "filename": "s.tar"},
                           content=evil.getvalue())
    assert response.status_code == 400 and "escapes its folder" in response.json()["detail"]
    assert served["hub"].count('project = "uploads"') == 1
    assert served["hub"].verify().ok


def test_models_predictions_and_python_client(served, tmp_path):
    remote = Hub.open(served["url"], token=served["tokens"]["write"])
    assert isinstance(remote, RemoteHub)
    source = HubSource(remote, where='species = "wheat"', cache_dir=tmp_path / "cache")
    records = source.records()
    assert len(records) == 4 and read(records[0].path)[0].shape == (1, 8, 8)
    model = remote.register_model({"detector": "fcdd"}, {"auroc": 0.91}, source.where, source.data_hash, name="r1")
    heatmap = np.arange(64, dtype=np.float32).reshape(1, 8, 8)
    written = remote.write_predictions(model, [(r.meta["sample_id"], 0.25 * i, heatmap if i == 0 else None)
                                               for i, r in enumerate(records)])
    assert written == 4
    stored = remote.predictions(model.uid, where='lot = "L0"')
    assert [(p.sample_id, p.score) for p in stored] == [("s000", 0.0), ("s001", 0.25)]
    assert stored[0].heatmap is not None and stored[0].blob == records[0].meta["blob"]
    remote.fetch_blob(stored[0].heatmap, tmp_path / "h.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "h.npy"), heatmap)
    assert remote.model(model.uid).data_hash == source.data_hash
    with pytest.raises(ExprError) as info:
        remote.samples("oil ~ 3")
    assert info.value.position == 4
    reader = Hub.open(served["url"], token=served["tokens"]["read"])
    with pytest.raises(AuthError, match="this needs 'write'"):
        reader.register_model({}, {})
    remote.close()
    reader.close()


def test_client_download_resumes_and_reads_ranges(served, tmp_path):
    client = HubClient(served["url"], served["tokens"]["read"])
    digest = client.sample("s003").acquisitions[0].blob
    whole = client.read_range(digest, 0)
    assert client.read_range(digest, -8) == whole[-8:] and client.read_range(digest, 2, 5) == whole[2:6]
    dest = tmp_path / "blob.npy"
    part = dest.with_name(f".{dest.name}.{digest[:16]}.part")
    part.write_bytes(whole[:50])
    assert client.download(digest, dest).read_bytes() == whole and not part.exists()
    client.close()


def test_bundle_endpoint_and_tokens_admin(served, tmp_path):
    client = HubClient(served["url"], served["tokens"]["admin"])
    out = client.bundle(tmp_path / "b.tar", 'lot = "L1"')
    assert verify_bundle(out).ok
    with Hub.open(out) as bundle:
        assert [s.sample_id for s in bundle.samples()] == ["s002", "s003"]
    created = client.create_token("ci-reader", "read")
    assert created.token.startswith("slh_") and created.scope == "read"
    assert "ci-reader" in [t.name for t in client.tokens()]
    reader = httpx.Client(base_url=served["url"], headers={"Authorization": f"Bearer {created.token}"})
    assert reader.get("/api/v1/info").status_code == 200
    client.revoke_token("ci-reader")
    assert reader.get("/api/v1/info").status_code == 401
    reader.close()
    client.close()


def test_served_bundle_is_read_only(loaded, tmp_path, live_server):
    bundle = Hub.open(loaded.bundle(tmp_path / "b"))
    token = generate()[2]
    static = StaticTokens()
    static.add(token, "bundle-reader", "read")
    server = live_server(create_app(HubSettings(), hub=bundle, static_tokens=static))
    client = HubClient(server.url, token)
    assert client.health()["read_only"] is True
    assert len(client.samples_page().items) == 6
    stranger = httpx.get(f"{server.url}/api/v1/info", headers={"Authorization": "Bearer " + generate()[2]})
    assert stranger.status_code == 401
    writer = StaticTokens()
    write_token = generate()[2]
    writer.add(write_token, "w", "write")
    server2 = live_server(create_app(HubSettings(), hub=bundle, static_tokens=writer))
    response = httpx.put(f"{server2.url}/api/v1/samples/x", json={}, headers={"Authorization": f"Bearer {write_token}"})
    assert response.status_code == 403 and "read-only" in response.json()["detail"]
    with pytest.raises(ReadOnlyHubError):
        HubClient(server2.url, write_token).put_blob(b"x")
    client.close()
    bundle.close()


def test_openapi_schema_is_the_contract(served):
    schema = served["anon"].get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/health", "/api/v1/samples", "/api/v1/samples/{sample_id}",
                 "/api/v1/samples/{sample_id}/acquisitions", "/api/v1/blobs/{digest}", "/api/v1/blobs",
                 "/api/v1/models", "/api/v1/models/{uid}/predictions",
                 "/api/v1/predictions", "/api/v1/bundles", "/api/v1/tokens", "/api/v1/tokens/{name}"):
        assert path in paths, path
    assert set(paths["/api/v1/blobs/{digest}"]) >= {"get", "head"}
    assert schema["components"]["securitySchemes"]["token"] == {
        "type": "http", "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["token"]["description"]}
    assert "security" not in paths["/health"]["get"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if path != "/health":
                assert operation["security"] == [{"token": []}], (path, method)
    text = str(schema["components"]["schemas"])
    for internal in ("secret_hash", "key_id", "project_id", "sample_pk", "model_pk", "acquisition_pk", "blob_hash"):
        assert internal not in text, internal
    sample = schema["components"]["schemas"]["SampleOut"]["properties"]
    assert "id" not in sample and "sample_id" in sample


def test_cli_against_a_served_hub(served, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from seedlens.cli import main
    from seedlens.hub.dataset import materialize
    from seedlens.hub.testing import write_dicom_series, write_labels

    main._attach_groups()
    runner = CliRunner()
    monkeypatch.setenv("SEEDLENS_HUB", served["url"])
    monkeypatch.setenv("SEEDLENS_TOKEN", served["tokens"]["admin"])
    folder = tmp_path / "ct"
    for i in range(2):
        write_dicom_series(folder / f"p{i}", n_slices=2, seed=i)
    labels = write_labels(tmp_path / "ct.csv", [{"sample_id": "p0", "lot": "X1", "dose": "1.5", "tags": "ct"},
                                                {"sample_id": "p1", "lot": "X2", "dose": "2"},
                                                {"sample_id": "nobody", "lot": "X3"}])

    def run(*args):
        return runner.invoke(main.app, ["hub", *args], catch_exceptions=False)

    result = run("import", str(folder), "--modality", "volume", "--labels", str(labels), "--project", "ct")
    assert result.exit_code == 0, result.output
    assert "2 sample(s) and 2 acquisition(s) added" in result.stdout and "nobody" in result.stderr
    again = run("import", str(folder), "--modality", "volume", "--labels", str(labels), "--project", "ct")
    assert "0 sample(s) and 0 acquisition(s) added, 2 already present, 0 label update(s)" in again.stdout
    hub = served["hub"]
    p0 = hub.sample("p0", project="ct")
    assert p0.lot == "X1" and p0.traits == {"dose": 1.5} and p0.tags == ["ct"]
    assert p0.acquisitions[0].source_name == "p0" and p0.acquisitions[0].kind == "tar"
    path = materialize(hub, p0.acquisitions[0], tmp_path / "cache")
    import pydicom

    assert all("PatientName" not in pydicom.dcmread(f) for f in path.iterdir())
    result = run("split", "--by", "lot", "--ratios", "50,50", "--where", 'project = "ct"')
    assert result.exit_code == 0 and "train: 1 sample(s)" in result.stdout
    token = run("token", "create", "--scope", "read", "--name", "remote-made").stdout.strip()
    assert token.startswith("slh_") and "remote-made\tread\tactive" in run("token", "list").stdout
    listing = run("ls", "--where", 'dose > 1.7', "--json")
    assert [s["sample_id"] for s in json.loads(listing.stdout)] == ["p1"]

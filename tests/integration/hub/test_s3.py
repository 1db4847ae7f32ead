"""The blob store on S3 (a moto server on loopback), with SQLite and PostgreSQL catalogs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seedlens.hub import Hub, HubSettings, HubSource, create_app
from seedlens.hub.client import HubClient
from seedlens.hub.errors import BlobCorruptError
from seedlens.hub.store import BlobStore
from seedlens.hub.testing import make_bucket, s3_options
from seedlens.io import read

pytestmark = pytest.mark.s3


@pytest.fixture(params=["sqlite", "postgres"])
def s3_hub(request, moto_endpoint, tmp_path, seeds, monkeypatch):
    options = s3_options(moto_endpoint)
    monkeypatch.setenv("SEEDLENS_STORE_OPTIONS", json.dumps(options))
    url = str(tmp_path / "hub") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = f"s3://{make_bucket(moto_endpoint)}/blobs"
    hub = Hub.init(url, store=store, storage_options=options)
    hub.import_dir(seeds["folder"], "image", labels=seeds["labels"])
    yield hub
    hub.close()


def test_blobs_live_in_the_bucket_and_read_back(s3_hub, moto_endpoint, seeds, tmp_path):
    assert s3_hub.store.url.startswith("s3://") and s3_hub.store.atomic_put
    digests = sorted(s3_hub.store.iter_digests())
    assert len(digests) == 6
    bucket = BlobStore(s3_hub.store.url, s3_options(moto_endpoint))  # an independent reader sees the same blobs
    assert sorted(bucket.iter_digests()) == digests and bucket.verify(digests[0])
    with Hub.open(s3_hub.location) as again:  # store options come from SEEDLENS_STORE_OPTIONS
        records = HubSource(again, cache_dir=tmp_path / "cache").records()
    for record in records:
        np.testing.assert_array_equal(read(record.path)[0], seeds["arrays"][record.meta["sample_id"]])
    assert s3_hub.verify().ok
    again_report = s3_hub.import_dir(seeds["folder"], "image")
    assert again_report.new_blobs == 0 and again_report.added_acquisitions == 0


def test_changed_object_is_detected(s3_hub, tmp_path):
    digest = s3_hub.sample("s001").acquisitions[0].blob
    s3_hub.store.fs.pipe_file(s3_hub.store.path_of(digest), b"overwritten")
    s3_hub.store.fs.invalidate_cache()
    assert any(f"blob {digest} changed" in p for p in s3_hub.verify().problems)
    with pytest.raises(BlobCorruptError):
        s3_hub.fetch_blob(digest, tmp_path / "x.npy")


def test_bundle_merge_and_serve_from_s3(s3_hub, moto_endpoint, tmp_path, live_server):
    bundle = s3_hub.bundle(tmp_path / "b.tar", 'lot = "L2"')
    target = Hub.init(tmp_path / "local")
    assert target.merge(bundle).blobs == 2 and target.verify().ok
    target.close()
    token = s3_hub.create_token("s3", "read")[1]
    server = live_server(create_app(HubSettings(), hub=s3_hub))
    with HubClient(server.url, token) as client:
        digest = client.sample("s004").acquisitions[0].blob
        whole = client.read_range(digest, 0)
        assert client.read_range(digest, 3, 9) == whole[3:10] and client.read_range(digest, -5) == whole[-5:]

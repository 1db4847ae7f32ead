"""Settings, default hub resolution, opening/initialising hubs, and migrations vs the ORM models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from seedlens.errors import ConfigError
from seedlens.hub import Hub, HubSettings
from seedlens.hub.catalog import migrate
from seedlens.hub.catalog.models import Base
from seedlens.hub.errors import CatalogVersionError, HubNotFoundError
from seedlens.hub.settings import read_default_hub, resolve_hub, user_config_path, write_default_hub


def test_settings_from_env(tmp_path):
    env = {"SEEDLENS_HUB": "/x", "SEEDLENS_TOKEN": "slh_t", "SEEDLENS_MAX_UPLOAD_BYTES": "1000",
           "SEEDLENS_STORE_OPTIONS": '{"anon": true}', "XDG_CACHE_HOME": str(tmp_path)}
    settings = HubSettings.from_env(env)
    assert settings.hub == "/x" and settings.token_value() == "slh_t" and settings.max_upload_bytes == 1000
    assert settings.store_options == {"anon": True} and settings.cache_dir == tmp_path / "seedlens" / "hub"
    assert "slh_t" not in repr(settings)
    with pytest.raises(ConfigError, match="SEEDLENS_STORE_OPTIONS must be a JSON object"):
        HubSettings.from_env({"SEEDLENS_STORE_OPTIONS": "{"})
    with pytest.raises(ConfigError, match="max_upload_bytes"):
        HubSettings.from_env({"SEEDLENS_MAX_UPLOAD_BYTES": "-1"})


def test_default_hub_precedence(isolated_env, monkeypatch, tmp_path):
    with pytest.raises(HubNotFoundError, match="seedlens hub init"):
        resolve_hub(None)
    path = write_default_hub(str(tmp_path / "a"))
    assert path == user_config_path() and str(path).startswith(str(isolated_env / "config"))
    assert read_default_hub() == str(tmp_path / "a") == resolve_hub(None)
    monkeypatch.setenv("SEEDLENS_HUB", str(tmp_path / "b"))
    assert resolve_hub(None) == str(tmp_path / "b")
    assert resolve_hub(tmp_path / "c") == str(tmp_path / "c")


def test_open_errors(tmp_path):
    with pytest.raises(HubNotFoundError, match="no hub at"):
        Hub.open(tmp_path)
    with pytest.raises(ConfigError, match="needs --store"):
        Hub.init("postgresql+psycopg://nobody@127.0.0.1:1/x")


def test_init_is_idempotent_and_records_the_store(tmp_path):
    hub = Hub.init(tmp_path / "h")
    hub_id = hub.hub_info()["hub_id"]
    hub.close()
    again = Hub.init(tmp_path / "h")
    assert again.hub_info()["hub_id"] == hub_id and again.store.root == str(tmp_path / "h")
    again.close()
    with pytest.raises(ConfigError, match="already uses store"):
        Hub.init(tmp_path / "h", store=str(tmp_path / "elsewhere"))


def test_sqlite_url_hub_keeps_blobs_next_to_the_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'cat.db'}"
    with Hub.init(url) as hub:
        assert hub.store.root == str(tmp_path / "cat.db.blobs")
    with Hub.open(url) as hub:
        assert hub.count() == 0


def test_catalog_revision_is_checked(tmp_path):
    hub = Hub.init(tmp_path / "h")
    with hub.engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = 'zzz'"))
    hub.close()
    with pytest.raises(CatalogVersionError, match="revision 'zzz'"):
        Hub.open(tmp_path / "h")


def test_migrations_match_the_models(hub):
    assert migrate.current_revision(hub.engine) == migrate.head_revision(hub.engine)
    with hub.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_init_upgrades_an_older_catalog(tmp_path):
    from alembic import command

    hub = Hub.init(tmp_path / "h")
    config = migrate._alembic_config(hub.engine)
    with hub.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    hub.close()
    with pytest.raises(CatalogVersionError, match=r"revision '0001'.*seedlens hub init"):
        Hub.open(tmp_path / "h")
    with Hub.init(tmp_path / "h") as upgraded:
        assert migrate.current_revision(upgraded.engine) == migrate.head_revision(upgraded.engine)
        with upgraded.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []

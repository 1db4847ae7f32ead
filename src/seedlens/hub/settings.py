"""Hub settings from the environment and the user's config file.

Environment variables (all optional):

* ``SEEDLENS_HUB``: the hub to use (a folder, a database URL, an ``http(s)://`` URL or a bundle).
* ``SEEDLENS_TOKEN``: the token sent to an ``http(s)://`` hub.
* ``SEEDLENS_MAX_UPLOAD_BYTES``: largest upload the REST API accepts (default 4 GiB).
* ``SEEDLENS_MAX_PAGE_SIZE``: largest page of samples one REST request returns (default 1000).
* ``SEEDLENS_CACHE_DIR``: where remote blobs and extracted bundles are cached
  (default ``$XDG_CACHE_HOME/seedlens/hub``).
* ``SEEDLENS_STORE_OPTIONS``: JSON object of fsspec storage options for the blob store
  (e.g. ``{"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}``).
* ``SEEDLENS_UI_CACHE_BYTES``: most bytes of opened scans and heatmaps the web interface (``/ui``) keeps in memory
  (default 1 GiB).

The default hub recorded by ``seedlens hub init`` lives in ``$XDG_CONFIG_HOME/seedlens/hub.yaml``
(``~/.config/seedlens/hub.yaml`` when ``XDG_CONFIG_HOME`` is unset).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from seedlens.config import load_yaml, save_yaml
from seedlens.errors import ConfigError
from seedlens.hub.errors import HubNotFoundError

GiB = 1024**3


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the user's seedlens config folder, honouring ``XDG_CONFIG_HOME``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "seedlens"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the default hub cache folder, honouring ``SEEDLENS_CACHE_DIR`` and ``XDG_CACHE_HOME``."""
    env = os.environ if env is None else env
    if env.get("SEEDLENS_CACHE_DIR"):
        return Path(env["SEEDLENS_CACHE_DIR"])
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seedlens" / "hub"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the folder of the embedded default hub, honouring ``XDG_DATA_HOME``."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "seedlens" / "hub"


class HubSettings(BaseModel):
    """Settings of the hub client, CLI and REST server.

    Attributes:
        hub: The hub to open: a folder, ``sqlite:///`` or ``postgresql+psycopg://`` URL, ``http(s)://`` URL
            or bundle (folder or ``.tar``). None means the default hub from the config file.
        token: Token for an ``http(s)://`` hub.
        max_upload_bytes: Largest request body the REST API accepts for an upload (413 beyond it).
        max_page_size: Largest ``limit`` of one REST listing.
        cache_dir: Local cache of remote blobs and extracted ``.tar`` bundles.
        store_options: fsspec storage options for the blob store (S3 endpoint, credentials...).
        read_only: Serve or open the hub read-only (bundles are always read-only).
        ui_cache_bytes: Most bytes of opened scans and heatmaps the web interface keeps in memory.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    hub: str | None = None
    token: SecretStr | None = None
    max_upload_bytes: int = Field(default=4 * GiB, gt=0)
    max_page_size: int = Field(default=1000, gt=0, le=100_000)
    cache_dir: Path = Field(default_factory=cache_dir)
    store_options: dict[str, Any] = Field(default_factory=dict)
    read_only: bool = False
    ui_cache_bytes: int = Field(default=GiB, gt=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> HubSettings:
        """Build settings from ``SEEDLENS_*`` variables; keyword arguments that are not None win.

        Raises:
            ConfigError: a variable has an invalid value (the message names it).
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {"cache_dir": cache_dir(env)}
        names = {
            "hub": "SEEDLENS_HUB",
            "token": "SEEDLENS_TOKEN",
            "max_upload_bytes": "SEEDLENS_MAX_UPLOAD_BYTES",
            "max_page_size": "SEEDLENS_MAX_PAGE_SIZE",
            "store_options": "SEEDLENS_STORE_OPTIONS",
            "ui_cache_bytes": "SEEDLENS_UI_CACHE_BYTES",
        }
        for field, var in names.items():
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            if field == "store_options":
                try:
                    values[field] = json.loads(raw)
                except json.JSONDecodeError as err:
                    raise ConfigError(f"{var} must be a JSON object; got {raw!r} ({err})") from err
            else:
                values[field] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise ConfigError(f"invalid hub settings: {problems}") from err

    def token_value(self) -> str | None:
        """Return the token as plain text (or None)."""
        return self.token.get_secret_value() if self.token is not None else None


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """Return the path of the user's hub config file."""
    return config_dir(env) / "hub.yaml"


def read_default_hub(env: Mapping[str, str] | None = None) -> str | None:
    """Return the default hub recorded by ``seedlens hub init``, or None."""
    path = user_config_path(env)
    if not path.is_file():
        return None
    value = load_yaml(path).get("default_hub")
    return str(value) if value else None


def write_default_hub(target: str, env: Mapping[str, str] | None = None) -> Path:
    """Record ``target`` as the default hub in the user's config file; return the file's path."""
    path = user_config_path(env)
    data = load_yaml(path) if path.is_file() else {}
    data["default_hub"] = target
    save_yaml(data, path)
    return path


def resolve_hub(explicit: str | os.PathLike[str] | None, settings: HubSettings | None = None) -> str:
    """Return which hub to open: ``explicit``, else ``SEEDLENS_HUB``, else the configured default.

    Raises:
        HubNotFoundError: none of them names a hub.
    """
    if explicit is not None and str(explicit) != "":
        return str(explicit)
    settings = settings or HubSettings.from_env()
    if settings.hub:
        return settings.hub
    default = read_default_hub()
    if default:
        return default
    raise HubNotFoundError(
        "no hub given: pass --hub PATH|URL, set SEEDLENS_HUB, or run `seedlens hub init` to create a default hub "
        f"(recorded in {user_config_path()})"
    )

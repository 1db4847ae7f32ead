"""Bundles: a query compiled into a self-contained, checksummed data container.

Layout (a folder, or the same files in an uncompressed ``.tar``)::

    manifest.json     format, version, query, counts, sha256 of the catalog and of every blob
    catalog.sqlite    the catalog subset (same schema as a hub; never any token)
    blobs/ab/cd/<sha256>

A bundle folder is itself a (read-only) hub: ``Hub.open(bundle)``, ``seedlens hub serve --bundle``,
``HubSource(bundle)`` and ``seedlens hub merge`` all take it. ``verify_bundle`` re-hashes everything
and reports changed, missing or extra blobs and a tampered catalog.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, insert, select

from seedlens import __version__
from seedlens.hub.catalog import migrate
from seedlens.hub.catalog.engine import CATALOG_FILE, create_catalog_engine, sqlite_url
from seedlens.hub.catalog.models import (
    Acquisition,
    Base,
    Model,
    Prediction,
    Project,
    Sample,
    Tag,
    Trait,
    TraitDef,
)
from seedlens.hub.catalog.queries import sample_filter
from seedlens.hub.errors import BundleError, InvalidNameError
from seedlens.hub.pack import safe_extract_member
from seedlens.hub.store import sha256_file
from seedlens.hub.verify import VerifyReport

if TYPE_CHECKING:
    from seedlens.hub.local import LocalHub

MANIFEST = "manifest.json"
TABLES = Base.metadata.tables
FORMAT = "seedlens-bundle"
VERSION = 1
CHUNK = 2000


def read_manifest(folder: Path) -> dict[str, Any]:
    """Return a bundle folder's manifest.

    Raises:
        BundleError: no manifest, not JSON, or not a seedlens bundle of a known version.
    """
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BundleError(f"{folder}: not a bundle (no {MANIFEST})") from None
    except (OSError, ValueError) as err:
        raise BundleError(f"{path}: unreadable manifest ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not a seedlens bundle manifest (format {manifest.get('format')!r})"
                          if isinstance(manifest, dict) else f"{path}: manifest must be a JSON object")
    if manifest.get("version") != VERSION:
        raise BundleError(f"{path}: bundle version {manifest.get('version')!r}; this seedlens reads version {VERSION}")
    if not isinstance(manifest.get("blobs"), dict) or not isinstance(manifest.get("catalog"), dict):
        raise BundleError(f"{path}: manifest lacks its 'blobs' or 'catalog' section")
    return manifest


def create_bundle(hub: LocalHub, out: Path, where: str | None = None, *, project: str | None = None) -> Path:
    """Write the samples matching ``where`` (and their blobs, models and predictions) as a bundle.

    Args:
        hub: The source hub.
        out: Folder to create, or a path ending in ``.tar`` for an archive.
        where: ``--where`` expression (None: every sample).
        project: Only this project.

    Returns:
        ``out``.

    Raises:
        BundleError: ``out`` exists and is not an empty folder.
        ExprError: malformed ``where``.
    """
    out = out.expanduser().resolve()
    archive = out.suffix == ".tar"
    if out.exists() and (out.is_file() or any(out.iterdir())):
        raise BundleError(f"{out} already exists; choose a new path for the bundle")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.part-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        with hub.session() as session:
            conditions = sample_filter(session, where, project)  # parse errors before any work
            source_id = hub.hub_info().get("hub_id", "")
            pks = list(session.scalars(select(Sample.id).where(*conditions).order_by(Sample.id)))
            digests = _copy_catalog(session, staging / CATALOG_FILE, pks, where, project, source_id)
        blobs: dict[str, int] = {}
        for digest in sorted(digests):
            target = staging / "blobs" / digest[:2] / digest[2:4] / digest
            hub.store.get_file(digest, target)
            blobs[digest] = target.stat().st_size
        catalog_hash, catalog_size = sha256_file(staging / CATALOG_FILE)
        manifest = {
            "format": FORMAT, "version": VERSION, "created_at": datetime.now(timezone.utc).isoformat(),
            "seedlens": __version__, "query": where, "project": project, "source_hub": source_id,
            "samples": len(pks), "catalog": {"path": CATALOG_FILE, "sha256": catalog_hash, "size": catalog_size},
            "blobs": blobs,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if archive:
            _write_archive(staging, out)
        else:
            if out.exists():
                out.rmdir()
            staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


def _rows(session: Any, table: Table, column: Any, keys: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        out.extend(dict(r) for r in session.execute(select(table).where(column.in_(chunk))).mappings())
    return out


def _copy_catalog(session: Any, path: Path, pks: list[int], where: str | None, project: str | None,
                  source_id: str) -> set[str]:
    """Create the bundle's catalog with the selected rows; return the blob hashes they use."""
    engine = create_catalog_engine(sqlite_url(path), wal=False)
    digests: set[str] = set()
    try:
        migrate.upgrade(engine)
        with engine.begin() as dest:
            info = {"format": FORMAT, "hub_id": uuid.uuid4().hex, "store_url": ".", "bundle_of": source_id,
                    "query": where or "", "project": project or "", "created_with": __version__}
            dest.execute(insert(TABLES["hub_info"]), [{"key": k, "value": v} for k, v in info.items()])
            samples = _rows(session, TABLES["samples"], Sample.id, pks)
            project_ids = sorted({r["project_id"] for r in samples})
            if project_ids:
                dest.execute(insert(TABLES["projects"]), _rows(session, TABLES["projects"], Project.id, project_ids))
            traits = _rows(session, TABLES["traits"], Trait.sample_pk, pks)
            names = sorted({r["name"] for r in traits})
            if names:
                dest.execute(insert(TABLES["trait_defs"]), _rows(session, TABLES["trait_defs"], TraitDef.name, names))
            predictions = _rows(session, TABLES["predictions"], Prediction.sample_pk, pks)
            model_ids = sorted({r["model_pk"] for r in predictions})
            if model_ids:
                dest.execute(insert(TABLES["models"]), _rows(session, TABLES["models"], Model.id, model_ids))
            acquisitions = _rows(session, TABLES["acquisitions"], Acquisition.sample_pk, pks)
            tags = _rows(session, TABLES["tags"], Tag.sample_pk, pks)
            for table, rows in ((TABLES["samples"], samples), (TABLES["acquisitions"], acquisitions),
                                (TABLES["traits"], traits), (TABLES["tags"], tags),
                                (TABLES["predictions"], predictions)):
                for start in range(0, len(rows), CHUNK):
                    dest.execute(insert(table), rows[start : start + CHUNK])
            digests.update(r["blob_hash"] for r in acquisitions)
            digests.update(r["heatmap_hash"] for r in predictions if r["heatmap_hash"])
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")
    finally:
        engine.dispose()
    return digests


def _write_archive(folder: Path, out: Path) -> None:
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        files = [folder / MANIFEST, folder / CATALOG_FILE]
        files += sorted(p for p in (folder / "blobs").rglob("*") if p.is_file()) if (folder / "blobs").exists() else []
        with open(tmp, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in files:
                info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
                info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o644
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            raw.flush()
            os.fsync(raw.fileno())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def extract_bundle(archive: Path, cache_dir: Path) -> Path:
    """Extract a ``.tar`` bundle into the cache (once per archive version); return the folder.

    Raises:
        BundleError: the archive is unreadable or has unsafe members.
    """
    archive = archive.resolve()
    stat = archive.stat()
    key = hashlib.sha256(f"{archive}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir / "bundles" / f"{archive.stem}-{key}"
    if (target / MANIFEST).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _extract_to(archive, target)
    return target


def _extract_to(archive: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for member in tar:
                safe_extract_member(tar, member, tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / MANIFEST).is_file():
                raise
    except (tarfile.TarError, InvalidNameError, OSError) as err:
        raise BundleError(f"{archive}: cannot extract the bundle ({err})") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def verify_bundle(path: str | Path) -> VerifyReport:
    """Re-hash every file of a bundle (folder or ``.tar``) against its manifest and catalog.

    Reports: a blob whose bytes changed, a blob missing from the folder, an extra file, a catalog that
    does not match the manifest's checksum, and catalog rows that use blobs the manifest lacks.
    """
    path = Path(path)
    if path.is_file():
        with tempfile.TemporaryDirectory(prefix="seedlens-verify-") as scratch:
            target = Path(scratch) / "bundle"
            try:
                _extract_to(path, target)
            except BundleError as err:
                return VerifyReport(target=str(path), problems=[str(err)])
            report = verify_bundle(target)
            report.target = str(path)
            return report
    report = VerifyReport(target=str(path))
    try:
        manifest = read_manifest(path)
    except BundleError as err:
        report.problems.append(str(err))
        return report
    catalog = path / CATALOG_FILE
    expected = manifest["catalog"].get("sha256")
    if not catalog.is_file():
        report.problems.append(f"catalog {CATALOG_FILE} is missing")
    elif sha256_file(catalog)[0] != expected:
        report.problems.append(f"catalog {CATALOG_FILE} was modified: its sha256 does not match the manifest")
    listed: dict[str, int] = manifest["blobs"]
    for digest, size in sorted(listed.items()):
        blob = path / "blobs" / digest[:2] / digest[2:4] / digest
        if not blob.is_file():
            report.problems.append(f"missing blob {digest} (listed in the manifest)")
            continue
        actual, actual_size = sha256_file(blob)
        report.checked += 1
        if actual != digest or actual_size != size:
            report.problems.append(f"blob {digest} changed: its bytes now hash to {actual} ({actual_size} bytes)")
    allowed = {MANIFEST, CATALOG_FILE}
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        if rel in allowed:
            continue
        parts = rel.split("/")
        if len(parts) == 4 and parts[0] == "blobs" and parts[3] in listed and parts[1:3] == [parts[3][:2],
                                                                                                parts[3][2:4]]:
            continue
        report.problems.append(f"extra file {rel} (not in the manifest)")
    if catalog.is_file() and not any("catalog" in p for p in report.problems):
        _check_catalog_refs(path, listed, report)
    return report


def _check_catalog_refs(path: Path, listed: dict[str, int], report: VerifyReport) -> None:
    from seedlens.hub.local import LocalHub
    from seedlens.hub.settings import HubSettings
    from seedlens.hub.verify import referenced_blobs

    try:
        hub = LocalHub._open_bundle(path, HubSettings.from_env())
    except Exception as err:
        report.problems.append(f"catalog {CATALOG_FILE} cannot be opened ({err})")
        return
    try:
        for digest, use in sorted(referenced_blobs(hub).items()):
            if digest not in listed:
                report.problems.append(f"catalog uses blob {digest} ({use}) that the manifest does not list")
    finally:
        hub.close()

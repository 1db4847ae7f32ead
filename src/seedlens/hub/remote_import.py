"""``seedlens hub import DIR --hub http://...``: import a folder into a served hub by uploading it.

Files are found and checked locally first, with the same rules and readers as a local import, so a
bad file aborts before anything is uploaded. DICOM is de-identified on this machine (unless
``--keep-phi``), so identifying data never leaves it; multi-file forms (DICOM series, ENVI pairs) are
uploaded as a deterministic ``.tar``. Each acquisition is one upload, stored atomically by the server;
rerunning after an interruption uploads only what is missing (the server answers 200 for the rest).
Labels are then written per sample (fields set, tags added, traits set).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from seedlens.errors import ReadError
from seedlens.hub import names
from seedlens.hub.dicom import deidentified_bytes
from seedlens.hub.discover import Candidate, Discovery
from seedlens.hub.errors import HubImportError, InvalidNameError, NotFoundError
from seedlens.hub.importer import ImportReport
from seedlens.hub.labels import Labels, read_labels
from seedlens.hub.pack import write_pack
from seedlens.hub.reading import read_array
from seedlens.hub.schemas import SampleIn, SampleOut
from seedlens.types import Modality

if TYPE_CHECKING:
    from seedlens.hub.remote import RemoteHub


def import_remote(hub: RemoteHub, folder: Path, modality: str | Modality, *, labels: str | Path | None = None,
                  id_pattern: str | None = None, project: str = "default", keep_phi: bool = False,
                  progress: Callable[[str], None] | None = None) -> ImportReport:
    """Upload every acquisition under ``folder`` to ``hub`` and apply the labels CSV.

    Raises:
        HubImportError: a file cannot be read or named; nothing was uploaded.
        LabelsError: the labels CSV is malformed; nothing was uploaded.
    """
    modality = Modality.parse(modality)
    project = names.check_project(project)
    if not folder.is_dir():
        raise HubImportError([f"{folder}: not a folder"])
    parsed = read_labels(labels) if labels is not None else None
    discovery = Discovery(folder, modality, id_pattern, (Path(labels),) if labels is not None else ())
    candidates = discovery.run()
    report = ImportReport(warnings=list(discovery.warnings))
    problems = list(discovery.problems)
    for candidate in candidates:
        try:
            names.check_sample_id(candidate.sample_id)
            read_array(candidate.read_path, modality)
        except InvalidNameError as err:
            problems.append(f"{folder / candidate.source_name}: {err}")
        except ReadError as err:
            problems.append(f"{err.path}: {err.problem}")
        except Exception as err:  # a reader bug must still name the file
            problems.append(f"{candidate.read_path}: cannot read as {modality.value} ({type(err).__name__}: {err})")
    if problems:
        raise HubImportError(problems)
    uploaded: dict[str, SampleOut] = {}
    with tempfile.TemporaryDirectory(prefix="seedlens-upload-") as scratch:
        for index, candidate in enumerate(candidates):
            path, filename = _upload_form(candidate, Path(scratch), keep_phi)
            result = hub.client.upload(path, sample_id=candidate.sample_id, modality=modality.value, project=project,
                                       filename=filename, keep_phi=keep_phi, source_name=candidate.source_name)
            if path.parent == Path(scratch):
                path.unlink()
            report.added_acquisitions += int(result.created)
            report.unchanged += int(not result.created)
            report.added_samples += int(result.sample_created)
            report.new_blobs += int(result.blob_created)
            uploaded[candidate.sample_id] = result.sample
            if progress and (index + 1) % 20 == 0:
                progress(f"uploaded {index + 1}/{len(candidates)}")
    if parsed is not None:
        _apply_labels(hub, parsed, uploaded, project, report)
    return report


def _upload_form(candidate: Candidate, scratch: Path, keep_phi: bool) -> tuple[Path, str]:
    """The file to upload and its name: the original, de-identified DICOM, or a pack ``.tar``."""
    if candidate.kind == "file":
        if candidate.dicom and not keep_phi:
            target = scratch / f"{candidate.sample_id}.dcm"
            target.write_bytes(deidentified_bytes(candidate.read_path))
            return target, target.name
        return candidate.read_path, candidate.read_path.name
    members: list[tuple[str, Path | bytes]] = [
        (name, deidentified_bytes(path) if candidate.dicom and not keep_phi else path)
        for name, path in candidate.members
    ]
    target = scratch / f"{candidate.sample_id}.tar"
    write_pack(members, target)
    return target, target.name


def _apply_labels(hub: RemoteHub, labels: Labels, uploaded: dict[str, SampleOut], project: str,
                  report: ImportReport) -> None:
    missing: list[str] = []
    for sample_id, row in labels.rows.items():
        current = uploaded.get(sample_id)
        if current is None:
            try:
                current = hub.sample(sample_id, project=project)
            except NotFoundError:
                missing.append(sample_id)
                continue
        traits = {name: labels.trait_value(name, raw) for name, raw in row.traits.items()}
        tags = sorted(set(current.tags) | set(row.tags))
        changed = any(current.field(k) != v for k, v in row.fields.items()) or tags != current.tags or any(
            current.traits.get(k) != v for k, v in traits.items())
        if changed:
            hub.client.put_sample(sample_id, SampleIn(**row.fields, tags=tags, traits=dict(traits)), project=project)
            report.updated_labels += 1
    if missing:
        report.warnings.append(f"{len(missing)} id(s) in {labels.path.name} have no file (not added): "
                               f"{', '.join(sorted(missing)[:20])}{' ...' if len(missing) > 20 else ''}")
    unlabelled = sorted(set(uploaded) - set(labels.rows))
    if unlabelled:
        report.warnings.append(f"{len(unlabelled)} file(s) have no row in {labels.path.name}: "
                               f"{', '.join(unlabelled[:20])}{' ...' if len(unlabelled) > 20 else ''}")

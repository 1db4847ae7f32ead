"""``seedlens hub import``: files -> blobs + catalog rows, idempotent and crash-safe.

Phase 1 reads and checks everything without writing: the labels CSV, every file name, and every new
file with the core readers (``seedlens.io.read``). Any problem aborts the import before anything is
stored, with one message listing every file and row at fault. Phase 2 stores in batches: blobs first
(atomic, content-addressed), then the batch's catalog rows in one transaction. A process killed at any
point therefore leaves no row without its blob and no partial blob; rerunning the import completes it,
and running it twice adds nothing.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from seedlens.errors import ReadError
from seedlens.hub import names
from seedlens.hub.catalog.models import Acquisition, Project, Sample, Tag, Trait, TraitDef
from seedlens.hub.dicom import deidentified_bytes
from seedlens.hub.discover import Candidate, Discovery
from seedlens.hub.errors import HubImportError, InvalidNameError
from seedlens.hub.labels import LabelRow, Labels, read_labels
from seedlens.hub.pack import write_pack
from seedlens.hub.provenance import ParentLink
from seedlens.hub.reading import ArrayFacts, facts, read_array
from seedlens.hub.schemas import UploadOut
from seedlens.hub.store import BlobStore, sha256_file
from seedlens.types import Modality

if TYPE_CHECKING:
    from seedlens.hub.hub import LocalHub

BATCH = 64


@dataclass
class ImportReport:
    """What an import did."""

    added_samples: int = 0
    added_acquisitions: int = 0
    unchanged: int = 0
    updated_labels: int = 0
    new_blobs: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the CLI."""
        return (f"{self.added_samples} sample(s) and {self.added_acquisitions} acquisition(s) added, "
                f"{self.unchanged} already present, {self.updated_labels} label update(s), "
                f"{self.new_blobs} new blob(s)")


@dataclass
class _Prepared:
    candidate: Candidate
    blob_path: Path
    temporary: bool
    digest: str
    size: int
    facts: ArrayFacts | None = None


def import_folder(
    hub: LocalHub,
    folder: str | Path,
    modality: str | Modality,
    *,
    labels: str | Path | None = None,
    id_pattern: str | None = None,
    project: str = "default",
    keep_phi: bool = False,
    progress: Callable[[str], None] | None = None,
    split_seeds: bool = False,
    split_options: dict[str, Any] | None = None,
) -> ImportReport:
    """Import every file under ``folder`` as ``modality`` acquisitions (see :meth:`LocalHub.import_dir`).

    With ``split_seeds``, every scan is also segmented into grains, each stored as its own sample linked to the
    scan (:mod:`seedlens.hub.seed_split`); a scan without a grain is a problem like an unreadable file.
    """
    hub.check_writable()
    folder = Path(folder)
    modality = Modality.parse(modality)
    project = names.check_project(project)
    if not folder.is_dir():
        raise HubImportError([f"{folder}: not a folder"])
    with hub.session() as session:
        existing_kinds = dict(session.execute(select(TraitDef.name, TraitDef.kind)).all())
    parsed = read_labels(labels, existing_kinds) if labels is not None else None
    exclude = (Path(labels),) if labels is not None else ()
    discovery = Discovery(folder, modality, id_pattern, exclude)
    candidates = discovery.run()
    report = ImportReport(warnings=list(discovery.warnings))
    shared = sorted(sid for sid, n in Counter(c.sample_id for c in candidates).items() if n > 1)
    if shared:
        report.warnings.append(f"{len(shared)} sample id(s) have several files, each stored as an acquisition: "
                               f"{', '.join(shared[:20])}{' ...' if len(shared) > 20 else ''}")
    problems = list(discovery.problems)
    for candidate in candidates:
        try:
            names.check_sample_id(candidate.sample_id)
        except InvalidNameError as err:
            problems.append(f"{folder / candidate.source_name}: {err}")
    if problems:
        raise HubImportError(problems)
    hub.store.clean_tmp()
    with tempfile.TemporaryDirectory(prefix="seedlens-seeds-") as scratch:
        seed_traits: dict[str, dict[str, float]] = {}
        if split_seeds:
            from seedlens.hub.seed_split import split_candidates

            seeds = split_candidates(candidates, modality, Path(scratch), lambda c: _digest(hub.store, c, keep_phi),
                                     split_options, progress)
            if seeds.problems:
                raise HubImportError(seeds.problems)
            clash = sorted({c.sample_id for c in candidates} & {c.sample_id for c in seeds.candidates})
            if clash:
                raise HubImportError([f"grain id {sid} is also the id of a scan in {folder}" for sid in clash])
            candidates = candidates + seeds.candidates
            seed_traits = seeds.traits
        _store(hub, candidates, modality, project, keep_phi, parsed, report, progress, seed_traits)
    return report


def _digest(store: BlobStore, candidate: Candidate, keep_phi: bool) -> str:
    """The blob hash a candidate will be stored under."""
    item = _blob_for(store, candidate, keep_phi)
    _cleanup([item])
    return item.digest


def _store(hub: LocalHub, candidates: list[Candidate], modality: Modality, project: str,
           keep_phi: bool, parsed: Labels | None, report: ImportReport, progress: Callable[[str], None] | None,
           seed_traits: dict[str, dict[str, float]]) -> None:
    """Phases 1 and 2 of :func:`import_folder`."""
    prepared = _prepare(hub, candidates, modality, project, keep_phi, report, progress)
    try:
        if parsed is not None:
            _label_warnings(hub, parsed, candidates, project, report)
        for start in range(0, len(prepared), BATCH):
            batch = prepared[start : start + BATCH]
            for item in batch:
                stored = hub.store.put_file(item.blob_path, move=item.temporary)
                item.temporary = False
                report.new_blobs += int(stored.created)
                if stored.digest != item.digest:  # the file changed under us
                    raise HubImportError([f"{item.candidate.read_path}: changed while importing; rerun the import"])
            with hub.session() as session:
                _write_batch(session, batch, modality, project, parsed, report)
            if progress:
                progress(f"stored {min(start + BATCH, len(prepared))}/{len(prepared)}")
        if parsed is not None:
            with hub.session() as session:
                _apply_remaining_labels(session, parsed, {c.sample_id for c in candidates}, project, report)
        if seed_traits:
            _apply_seed_traits(hub, seed_traits, project, report)
    finally:
        for item in prepared:
            if item.temporary:
                item.blob_path.unlink(missing_ok=True)


def _apply_seed_traits(hub: LocalHub, traits: dict[str, dict[str, float]], project: str,
                       report: ImportReport) -> None:
    """Store each grain's measured traits (unchanged values are left alone, so a rerun changes nothing)."""
    ids = list(traits)
    with hub.session() as session:
        for start in range(0, len(ids), 500):
            rows = session.execute(select(Sample.id, Sample.sample_id).join(Project, Project.id == Sample.project_id)
                                   .where(Project.name == project, Sample.sample_id.in_(ids[start:start + 500])))
            for pk, sample_id in rows:
                changed = False
                for name, value in traits[sample_id].items():
                    changed |= set_trait(session, pk, name, float(value), "num")
                report.updated_labels += int(changed)


def _prepare(hub: LocalHub, candidates: list[Candidate], modality: Modality, project: str, keep_phi: bool,
             report: ImportReport, progress: Callable[[str], None] | None) -> list[_Prepared]:
    """Phase 1: build each blob's bytes (packs, de-identified DICOM), hash, and read new ones."""
    prepared: list[_Prepared] = []
    problems: list[str] = []
    with hub.session() as session:
        known = {
            (sample_id, digest)
            for sample_id, digest in session.execute(
                select(Sample.sample_id, Acquisition.blob_hash)
                .join(Acquisition, Acquisition.sample_pk == Sample.id)
                .join(Project, Project.id == Sample.project_id)
                .where(Project.name == project, Acquisition.modality == modality.value)
            )
        }
    try:
        for index, candidate in enumerate(candidates):
            try:
                item = _blob_for(hub.store, candidate, keep_phi)
            except (ReadError, OSError, InvalidNameError) as err:
                problems.append(f"{candidate.read_path}: {getattr(err, 'problem', None) or err}")
                continue
            prepared.append(item)
            if (candidate.sample_id, item.digest) in known:
                report.unchanged += 1
                continue
            try:
                array, meta = read_array(candidate.read_path, modality)
                item.facts = facts(array, meta)
                del array
            except ReadError as err:
                problems.append(f"{err.path}: {err.problem}")
            except Exception as err:  # a reader bug must still name the file
                problems.append(f"{candidate.read_path}: cannot read as {modality.value} "
                                f"({type(err).__name__}: {err})")
            if progress and (index + 1) % 50 == 0:
                progress(f"checked {index + 1}/{len(candidates)}")
    except BaseException:
        _cleanup(prepared)
        raise
    if problems:
        _cleanup(prepared)
        raise HubImportError(problems)
    keep: list[_Prepared] = []
    for item in prepared:
        if item.facts is not None:
            keep.append(item)
        elif item.temporary:  # already stored: drop the temporary pack
            item.blob_path.unlink(missing_ok=True)
    return keep


def _cleanup(prepared: list[_Prepared]) -> None:
    for item in prepared:
        if item.temporary:
            item.blob_path.unlink(missing_ok=True)


def _tmp_file(store: BlobStore) -> Path:
    if store.local:
        return store.new_tmp_path()
    handle = tempfile.NamedTemporaryFile(prefix="seedlens-pack-", delete=False)  # noqa: SIM115
    handle.close()
    return Path(handle.name)


def _blob_for(store: BlobStore, candidate: Candidate, keep_phi: bool) -> _Prepared:
    if candidate.kind == "file" and not (candidate.dicom and not keep_phi):
        digest, size = sha256_file(candidate.read_path)
        return _Prepared(candidate, candidate.read_path, False, digest, size)
    tmp = _tmp_file(store)
    try:
        if candidate.kind == "file":
            tmp.write_bytes(deidentified_bytes(candidate.read_path))
        else:
            members: list[tuple[str, Path | bytes]] = []
            for name, path in candidate.members:
                members.append((name, deidentified_bytes(path) if candidate.dicom and not keep_phi else path))
            write_pack(members, tmp)
        digest, size = sha256_file(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _Prepared(candidate, tmp, True, digest, size)


def _get_project(session: Session, name: str) -> Project:
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        project = Project(name=name)
        session.add(project)
        session.flush()
    return project


def _write_batch(session: Session, batch: list[_Prepared], modality: Modality, project_name: str,
                 labels: Labels | None, report: ImportReport) -> None:
    project = _get_project(session, project_name)
    ids = sorted({item.candidate.sample_id for item in batch})
    samples = {s.sample_id: s for s in session.scalars(
        select(Sample).where(Sample.project_id == project.id, Sample.sample_id.in_(ids)))}
    for sample_id in ids:
        if sample_id not in samples:
            sample = Sample(project_id=project.id, sample_id=sample_id)
            session.add(sample)
            samples[sample_id] = sample
            report.added_samples += 1
    session.flush()
    for item in batch:
        sample = samples[item.candidate.sample_id]
        exists = session.scalar(select(Acquisition.id).where(
            Acquisition.sample_pk == sample.id, Acquisition.modality == modality.value,
            Acquisition.blob_hash == item.digest))
        if exists is not None:
            report.unchanged += 1
            continue
        assert item.facts is not None
        parent = item.candidate.parent
        session.add(Acquisition(
            sample_pk=sample.id, modality=modality.value, blob_hash=item.digest, blob_kind=item.candidate.kind,
            suffix=item.candidate.suffix if item.candidate.kind == "file" else "",
            entry=item.candidate.entry, source_name=item.candidate.source_name, size=item.size,
            shape=item.facts.shape, dtype=item.facts.dtype, spacing=item.facts.spacing,
            wavelengths=item.facts.wavelengths, device=item.facts.device,
            parent_sample_id=parent.sample_id if parent is not None else None,
            parent_blob=parent.blob if parent is not None else None,
            region=parent.region_json() if parent is not None else None,
            centroid=parent.centroid_json() if parent is not None else None,
        ))
        report.added_acquisitions += 1
    if labels is not None:
        for sample_id in ids:
            row = labels.rows.get(sample_id)
            if row is not None and apply_label_row(session, samples[sample_id], row, labels):
                report.updated_labels += 1


def apply_label_row(session: Session, sample: Sample, row: LabelRow, labels: Labels) -> bool:
    """Set a sample's fields, tags (added) and traits from a labels row; return True if anything changed."""
    changed = False
    for key, value in row.fields.items():
        if getattr(sample, key) != value:
            setattr(sample, key, value)
            changed = True
    have_tags = set(session.scalars(select(Tag.tag).where(Tag.sample_pk == sample.id)))
    for tag in row.tags:
        if tag not in have_tags:
            session.add(Tag(sample_pk=sample.id, tag=tag))
            changed = True
    for name, raw in row.traits.items():
        changed |= set_trait(session, sample.id, name, labels.trait_value(name, raw), labels.trait_kinds[name])
    return changed


def set_trait(session: Session, sample_pk: int, name: str, value: float | str | None, kind: str | None = None) -> bool:
    """Set (or with None remove) one trait value; create its definition if new. Return True if changed."""
    from seedlens.hub.errors import ConflictError

    definition = session.get(TraitDef, name)
    if definition is None:
        if value is None:
            return False
        definition = TraitDef(name=name, kind=kind or ("text" if isinstance(value, str) else "num"))
        session.add(definition)
        session.flush()
    if value is not None and definition.kind == "num" and isinstance(value, str):
        raise ConflictError(f"trait {name!r} is numeric; got the text {value!r}")
    trait = session.get(Trait, (sample_pk, name))
    if value is None:
        if trait is None:
            return False
        session.delete(trait)
        return True
    num = float(value) if definition.kind == "num" else None
    text = None if definition.kind == "num" else str(value)
    if trait is None:
        session.add(Trait(sample_pk=sample_pk, name=name, num_value=num, text_value=text))
        return True
    if trait.num_value == num and trait.text_value == text:
        return False
    trait.num_value, trait.text_value = num, text
    return True


def _label_warnings(hub: LocalHub, labels: Labels, candidates: list[Candidate], project: str,
                    report: ImportReport) -> None:
    file_ids = {c.sample_id for c in candidates}
    with hub.session() as session:
        stored = set(session.scalars(
            select(Sample.sample_id).join(Project, Project.id == Sample.project_id).where(
                Project.name == project, Sample.sample_id.in_(list(labels.rows)))))
    orphans = sorted(set(labels.rows) - file_ids - stored)
    unlabelled = sorted(file_ids - set(labels.rows))
    if orphans:
        report.warnings.append(f"{len(orphans)} id(s) in {labels.path.name} have no file (not added): "
                               f"{', '.join(orphans[:20])}{' ...' if len(orphans) > 20 else ''}")
    if unlabelled:
        report.warnings.append(f"{len(unlabelled)} file(s) have no row in {labels.path.name}: "
                               f"{', '.join(unlabelled[:20])}{' ...' if len(unlabelled) > 20 else ''}")


def _apply_remaining_labels(session: Session, labels: Labels, done: set[str], project_name: str,
                            report: ImportReport) -> None:
    """Labels for samples already in the catalog that had no file in this import."""
    rest = [sid for sid in labels.rows if sid not in done]
    if not rest:
        return
    project = session.scalar(select(Project).where(Project.name == project_name))
    if project is None:
        return
    for start in range(0, len(rest), 500):
        chunk = rest[start : start + 500]
        for sample in session.scalars(select(Sample).where(Sample.project_id == project.id,
                                                           Sample.sample_id.in_(chunk))):
            if apply_label_row(session, sample, labels.rows[sample.sample_id], labels):
                report.updated_labels += 1


def _pack_envi(path: Path, scratch: Path) -> Path:
    """An ENVI header or data file given alone: a pack of both (a header-only blob could never be read back)."""
    from seedlens.io import _envi

    header = path if _envi.is_header(path) else _envi.header_for(path)
    data = _envi.data_for(header) if header is not None else None
    if header is None or data is None:
        return path
    return write_pack([(header.name, header), (data.name, data)], scratch / f"{header.stem}.tar")


def import_file(hub: LocalHub, path: Path, *, sample_id: str, modality: str | Modality, project: str = "default",
                source_name: str | None = None, keep_phi: bool = False,
                parent: ParentLink | None = None) -> UploadOut:
    """Add one file as an acquisition of ``sample_id`` (used by uploads); see :meth:`LocalHub.add_file`.

    A ``.tar`` file holds a multi-file form (a DICOM series, an ENVI header and data file...): it is
    extracted safely (no links, no paths leaving the folder) and must contain exactly one acquisition. An ENVI
    header (or data file) given alone is packed with its companion first. ``parent`` makes the new acquisition
    a derived one (cut out of the parent acquisition, see :mod:`seedlens.hub.provenance`); an acquisition that
    is already stored is left as it is.
    """
    from seedlens.hub.catalog import queries
    from seedlens.hub.pack import extract_pack

    hub.check_writable()
    modality = Modality.parse(modality)
    sample_id = names.check_sample_id(sample_id)
    project = names.check_project(project)
    source_name = source_name or path.name
    with tempfile.TemporaryDirectory(prefix="seedlens-upload-") as scratch:
        path = _pack_envi(path, Path(scratch))
        if path.suffix.lower() == ".tar":
            import tarfile

            folder = Path(scratch) / "upload"
            try:
                extract_pack(path, folder)
            except tarfile.TarError as err:
                raise HubImportError([f"{source_name}: not a valid tar archive ({err})"]) from err
            discovery = Discovery(folder, modality)
            candidates = discovery.run()
            if discovery.problems:
                raise HubImportError([f"{source_name}: {p}" for p in discovery.problems])
            if len(candidates) != 1:
                raise HubImportError([f"{source_name}: a .tar upload must hold one acquisition; found "
                                      f"{len(candidates)}"])
            candidate = candidates[0]
        else:
            from seedlens.hub.dicom import is_dicom
            from seedlens.hub.discover import full_suffix

            dicom = is_dicom(path)
            candidate = Candidate(sample_id, source_name, "file", path,
                                  suffix=".dcm" if dicom else full_suffix(path.name), dicom=dicom)
        candidate.sample_id = sample_id
        candidate.source_name = source_name
        candidate.parent = parent
        try:
            item = _blob_for(hub.store, candidate, keep_phi)
        except (ReadError, OSError, InvalidNameError) as err:
            raise HubImportError([f"{source_name}: {getattr(err, 'problem', None) or err}"]) from err
        created = sample_created = blob_created = False
        try:
            with hub.session() as session:
                known = session.scalar(
                    select(Acquisition.id).join(Sample, Sample.id == Acquisition.sample_pk)
                    .join(Project, Project.id == Sample.project_id)
                    .where(Project.name == project, Sample.sample_id == sample_id,
                           Acquisition.modality == modality.value, Acquisition.blob_hash == item.digest))
            if known is None:
                try:
                    array, meta = read_array(candidate.read_path, modality)
                    item.facts = facts(array, meta)
                    del array
                except ReadError as err:
                    raise HubImportError([f"{source_name}: {err.problem}"]) from err
                except Exception as err:  # a reader bug must still name the file
                    raise HubImportError([f"{source_name}: cannot read as {modality.value} "
                                          f"({type(err).__name__}: {err})"]) from err
                blob_created = hub.store.put_file(item.blob_path, move=item.temporary).created
                item.temporary = False
                batch = ImportReport()
                with hub.session() as session:
                    _write_batch(session, [item], modality, project, None, batch)
                created, sample_created = True, batch.added_samples > 0
        finally:
            _cleanup([item])
    with hub.session() as session:
        view = queries.get_view(session, sample_id, project)
        match = next(a for a in view.acquisitions if a.modality == modality.value and a.blob == item.digest)
        return UploadOut(sample=view, acquisition=match, created=created, sample_created=sample_created,
                         blob_created=blob_created)

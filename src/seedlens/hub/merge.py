"""``seedlens hub merge SOURCE``: bring a bundle's (or another local hub's) content into a hub.

Rows are matched by natural keys, so merging twice adds nothing: projects by name, samples by
(project, sample_id), acquisitions by (sample, modality, blob), traits by (sample, name), tags by
(sample, tag), models by uid, predictions by (model, sample). An acquisition's parent link (seed
provenance: parent sample id + blob, region, centroid) is natural keys too and is copied as it is.
Missing sample fields, traits and parent links are filled in; values that differ are kept as they are
in the target and reported. Blobs are copied (verified) before the rows that use them are committed.
Tokens are never merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from seedlens.hub.catalog.models import Acquisition, Model, Prediction, Project, Sample, Tag, Trait, TraitDef
from seedlens.hub.errors import BundleError, ConflictError

if TYPE_CHECKING:
    from seedlens.hub.local import LocalHub

FIELDS = ("species", "genotype", "lot", "harvest", "split", "germination")
BATCH = 500


@dataclass
class MergeReport:
    """What a merge added and which differing values it kept."""

    source: str
    samples: int = 0
    acquisitions: int = 0
    traits: int = 0
    tags: int = 0
    models: int = 0
    predictions: int = 0
    blobs: int = 0
    conflicts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the CLI."""
        return (f"merged {self.source}: {self.samples} sample(s), {self.acquisitions} acquisition(s), "
                f"{self.traits} trait value(s), {self.tags} tag(s), {self.models} model(s), "
                f"{self.predictions} prediction(s), {self.blobs} new blob(s); {len(self.conflicts)} conflict(s) kept")


def merge_into(target: LocalHub, source: str | Path | LocalHub) -> MergeReport:
    """Merge ``source`` into ``target`` (see module docstring).

    Raises:
        BundleError: the source is a bundle that fails verification.
        ConflictError: a trait is numeric in one hub and text in the other.
    """
    from seedlens.hub.bundle import verify_bundle
    from seedlens.hub.local import LocalHub

    target.check_writable()
    if isinstance(source, LocalHub):
        src, owned = source, False
    else:
        path = Path(source)
        if path.is_file() or (path / "manifest.json").is_file():
            check = verify_bundle(path)
            if not check.ok:
                raise BundleError(f"{path} failed verification; not merged:\n" +
                                  "\n".join(f"  - {p}" for p in check.problems[:20]))
        src, owned = LocalHub.from_location(str(path), read_only=True), True
    report = MergeReport(source=src.location)
    try:
        _merge(target, src, report)
    finally:
        if owned:
            src.close()
    return report


def _merge(target: LocalHub, src: LocalHub, report: MergeReport) -> None:
    with src.session() as s_session, target.session() as t_session:
        src_kinds = dict(s_session.execute(select(TraitDef.name, TraitDef.kind)).all())
        for name, kind in src_kinds.items():
            current = t_session.get(TraitDef, name)
            if current is None:
                t_session.add(TraitDef(name=name, kind=kind))
            elif current.kind != kind:
                raise ConflictError(f"trait {name!r} is {kind} in {src.location} but {current.kind} in "
                                    f"{target.location}; not merged")
        for model in s_session.scalars(select(Model)):
            if t_session.scalar(select(Model.id).where(Model.uid == model.uid)) is None:
                t_session.add(Model(uid=model.uid, name=model.name, modality=model.modality, config=model.config,
                                    metrics=model.metrics, query=model.query, data_hash=model.data_hash,
                                    created_at=model.created_at))
                report.models += 1
    last = 0
    while True:
        with src.session() as s_session:
            batch = list(s_session.scalars(
                select(Sample).where(Sample.id > last).order_by(Sample.id).limit(BATCH)
                .options(selectinload(Sample.acquisitions), selectinload(Sample.traits), selectinload(Sample.tags))))
            if not batch:
                return
            last = batch[-1].id
            predictions = list(s_session.scalars(
                select(Prediction).where(Prediction.sample_pk.in_([s.id for s in batch]))
                .options(selectinload(Prediction.model), selectinload(Prediction.acquisition))))
            digests = {a.blob_hash for s in batch for a in s.acquisitions}
            digests |= {p.heatmap_hash for p in predictions if p.heatmap_hash}
            for digest in sorted(digests):  # blobs before rows
                if not target.store.exists(digest):
                    tmp = Path(target.store.new_tmp_path()) if target.store.local else None
                    if tmp is None:
                        import tempfile

                        tmp = Path(tempfile.mkdtemp(prefix="seedlens-merge-")) / digest
                    src.store.get_file(digest, tmp)
                    target.store.put_file(tmp, move=True)
                    tmp.unlink(missing_ok=True)
                    report.blobs += 1
            with target.session() as t_session:
                mapping = {s.id: _merge_sample(t_session, s, report) for s in batch}
                for prediction in predictions:
                    _merge_prediction(t_session, prediction, mapping[prediction.sample_pk], report)


def _merge_sample(session: Session, src: Sample, report: MergeReport) -> Sample:
    project = session.scalar(select(Project).where(Project.name == src.project.name))
    if project is None:
        project = Project(name=src.project.name)
        session.add(project)
        session.flush()
    sample = session.scalar(select(Sample).where(Sample.project_id == project.id, Sample.sample_id == src.sample_id)
                            .options(selectinload(Sample.acquisitions), selectinload(Sample.traits),
                                     selectinload(Sample.tags)))
    key = f"{project.name}/{src.sample_id}"
    if sample is None:
        sample = Sample(project_id=project.id, sample_id=src.sample_id)
        session.add(sample)
        session.flush()
        report.samples += 1
    for name in FIELDS:
        mine, theirs = getattr(sample, name), getattr(src, name)
        if theirs is None:
            continue
        if mine is None:
            setattr(sample, name, theirs)
        elif mine != theirs:
            report.conflicts.append(f"{key}: {name} is {mine!r} here, {theirs!r} in the source (kept {mine!r})")
    have = {(a.modality, a.blob_hash): a for a in sample.acquisitions}
    for acq in src.acquisitions:
        mine_acq = have.get((acq.modality, acq.blob_hash))
        if mine_acq is not None:
            _merge_parent(mine_acq, acq, key, report)
            continue
        session.add(Acquisition(
            sample_pk=sample.id, modality=acq.modality, blob_hash=acq.blob_hash, blob_kind=acq.blob_kind,
            suffix=acq.suffix, entry=acq.entry, source_name=acq.source_name, size=acq.size, shape=acq.shape,
            dtype=acq.dtype, spacing=acq.spacing, wavelengths=acq.wavelengths, device=acq.device,
            parent_sample_id=acq.parent_sample_id, parent_blob=acq.parent_blob, region=acq.region,
            centroid=acq.centroid, created_at=acq.created_at))
        report.acquisitions += 1
    traits = {t.name: t for t in sample.traits}
    for trait in src.traits:
        current = traits.get(trait.name)
        if current is None:
            session.add(Trait(sample_pk=sample.id, name=trait.name, num_value=trait.num_value,
                              text_value=trait.text_value))
            report.traits += 1
        elif current.value != trait.value:
            report.conflicts.append(f"{key}: trait {trait.name} is {current.value!r} here, {trait.value!r} in the "
                                    f"source (kept {current.value!r})")
    tags = {t.tag for t in sample.tags}
    for tag in src.tags:
        if tag.tag not in tags:
            session.add(Tag(sample_pk=sample.id, tag=tag.tag))
            report.tags += 1
    session.flush()
    return sample


def _merge_parent(mine: Acquisition, theirs: Acquisition, key: str, report: MergeReport) -> None:
    """Fill in a parent link the target's acquisition lacks; report one that differs (the target's is kept)."""
    if theirs.parent_sample_id is None:
        return
    link = ("parent_sample_id", "parent_blob", "region", "centroid")
    if mine.parent_sample_id is None:
        for name in link:
            setattr(mine, name, getattr(theirs, name))
        return
    if any(getattr(mine, name) != getattr(theirs, name) for name in link):
        report.conflicts.append(
            f"{key}: the {mine.modality} acquisition {mine.blob_hash[:12]} was cut from {mine.parent_sample_id} "
            f"{mine.region} here, from {theirs.parent_sample_id} {theirs.region} in the source (kept this hub's)")


def _merge_prediction(session: Session, src: Prediction, sample: Sample, report: MergeReport) -> None:
    model_pk = session.scalar(select(Model.id).where(Model.uid == src.model.uid))
    assert model_pk is not None
    exists = session.scalar(select(Prediction.id).where(Prediction.model_pk == model_pk,
                                                        Prediction.sample_pk == sample.id))
    if exists is not None:
        return
    acquisition_pk = None
    if src.acquisition is not None:
        acquisition_pk = session.scalar(select(Acquisition.id).where(
            Acquisition.sample_pk == sample.id, Acquisition.modality == src.acquisition.modality,
            Acquisition.blob_hash == src.acquisition.blob_hash))
    session.add(Prediction(model_pk=model_pk, sample_pk=sample.id, acquisition_pk=acquisition_pk, score=src.score,
                           heatmap_hash=src.heatmap_hash, created_at=src.created_at))
    report.predictions += 1

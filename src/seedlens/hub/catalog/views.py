"""ORM rows -> API schemas (the only place that knows both)."""

from __future__ import annotations

from typing import Any

from seedlens.hub.catalog.models import Acquisition, Model, Prediction, Sample
from seedlens.hub.schemas import AcquisitionOut, ModelOut, ParentOut, PredictionOut, SampleOut


def parent_out(sample_id: str | None, blob: str | None, region: list[Any] | None,
               centroid: list[Any] | None) -> ParentOut | None:
    """Return the public view of an acquisition's parent link (None for an original scan)."""
    if sample_id is None or blob is None:
        return None
    return ParentOut(sample_id=sample_id, blob=blob, region=region, centroid=centroid)


def acquisition_out(row: Acquisition) -> AcquisitionOut:
    """Return the public view of an acquisition."""
    return AcquisitionOut(
        modality=row.modality, blob=row.blob_hash, kind=row.blob_kind, suffix=row.suffix,  # type: ignore[arg-type]
        entry=row.entry, source_name=row.source_name, size=row.size, shape=list(row.shape or []), dtype=row.dtype,
        spacing=row.spacing, wavelengths=row.wavelengths, device=row.device, created_at=row.created_at,
        parent=parent_out(row.parent_sample_id, row.parent_blob, row.region, row.centroid),
    )


def sample_out(row: Sample) -> SampleOut:
    """Return the public view of a sample with its tags, traits and acquisitions."""
    return SampleOut(
        project=row.project.name, sample_id=row.sample_id, species=row.species, genotype=row.genotype, lot=row.lot,
        harvest=row.harvest, split=row.split, germination=row.germination, tags=[t.tag for t in row.tags],
        traits={t.name: v for t in row.traits if (v := t.value) is not None},
        acquisitions=[acquisition_out(a) for a in row.acquisitions],
    )


def model_out(row: Model) -> ModelOut:
    """Return the public view of a model."""
    return ModelOut(uid=row.uid, name=row.name, modality=row.modality, config=row.config or {},
                    metrics=row.metrics or {}, query=row.query, data_hash=row.data_hash, created_at=row.created_at)


def prediction_out(row: Prediction) -> PredictionOut:
    """Return the public view of a prediction."""
    return PredictionOut(
        model=row.model.uid, project=row.sample.project.name, sample_id=row.sample.sample_id, score=row.score,
        heatmap=row.heatmap_hash, blob=row.acquisition.blob_hash if row.acquisition is not None else None,
        created_at=row.created_at,
    )

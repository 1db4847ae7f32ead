"""Pydantic schemas of what the hub returns and accepts: the REST API's contract and the Python views.

They are separate from the ORM models (:mod:`seedlens.hub.catalog.models`): no primary key, project
key or token hash ever appears here.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seedlens.hub import names

TraitValue = float | str


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ParentOut(_Out):
    """The acquisition a derived acquisition was cut out of (seed provenance), by natural keys."""

    sample_id: str = Field(description="the parent sample's id, in the same project as this sample")
    blob: str = Field(description="sha256 of the parent acquisition's blob")
    region: list[list[int]] | None = Field(
        default=None, description="bounding box in the parent's voxels: one [start, stop) pair per array axis"
    )
    centroid: list[float] | None = Field(default=None, description="centroid in the parent's voxels, one per axis")


class AcquisitionOut(_Out):
    """One scan of a sample and the blob that holds it."""

    modality: str = Field(description="image, volume, cube or table")
    blob: str = Field(description="sha256 of the stored blob (download it from /api/v1/blobs/{blob})")
    kind: Literal["file", "tar"] = Field(
        description="file: the original file's bytes; tar: a deterministic tar of a multi-file form "
        "(DICOM series folder, ENVI header + data)"
    )
    suffix: str = Field(description="file extension to give the materialised file, e.g. .nii.gz")
    entry: str = Field("", description="for tar blobs: the path inside the tar that the reader opens ('' = folder)")
    source_name: str = Field("", description="the imported file or folder, relative to the import folder")
    size: int
    shape: list[int]
    dtype: str
    spacing: list[float] | None = None
    wavelengths: list[float] | None = None
    device: str | None = None
    created_at: datetime | None = None
    parent: ParentOut | None = Field(
        default=None, description="where this acquisition was cut out of (null: it is an original scan)"
    )


class SampleOut(_Out):
    """A sample with its labels, traits, tags and acquisitions."""

    project: str
    sample_id: str
    species: str | None = None
    genotype: str | None = None
    lot: str | None = None
    harvest: str | None = None
    split: str | None = None
    germination: str | None = None
    tags: list[str] = Field(default_factory=list)
    traits: dict[str, TraitValue] = Field(default_factory=dict)
    acquisitions: list[AcquisitionOut] = Field(default_factory=list)

    def field(self, name: str) -> str | float | None:
        """Return a sample column or trait value by name (None when missing)."""
        if name in ("project", "sample_id", "species", "genotype", "lot", "harvest", "split", "germination"):
            value: str | float | None = getattr(self, name)
            return value
        return self.traits.get(name)


class SamplePage(_Out):
    """One page of a sample listing; pass ``next_cursor`` as ``cursor`` to get the next one."""

    items: list[SampleOut]
    next_cursor: str | None = None
    total: int | None = Field(default=None, description="number of matching samples, when count=true was asked")


class SampleIn(BaseModel):
    """Fields to set on a sample (created if missing). Omitted or null fields are left unchanged."""

    model_config = ConfigDict(extra="forbid")

    species: str | None = None
    genotype: str | None = None
    lot: str | None = None
    harvest: str | None = None
    split: str | None = None
    germination: str | None = None
    tags: list[str] | None = Field(default=None, max_length=1000, description="replaces the sample's tags when given")
    traits: dict[str, TraitValue | None] | None = Field(
        None, description="trait values to set; a null value removes the trait"
    )

    @field_validator("species", "genotype", "lot", "harvest")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        return None if value is None else names.check_label(value, "field value")

    @field_validator("split")
    @classmethod
    def _split(cls, value: str | None) -> str | None:
        return None if value is None else names.check_split(value)

    @field_validator("germination")
    @classmethod
    def _germination(cls, value: str | None) -> str | None:
        return None if value is None else names.check_germination(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else sorted({names.check_tag(t) for t in value})

    @field_validator("traits")
    @classmethod
    def _traits(cls, value: dict[str, TraitValue | None] | None) -> dict[str, TraitValue | None] | None:
        if value is None:
            return None
        out: dict[str, TraitValue | None] = {}
        for key, item in value.items():
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"trait {key!r} must be a finite number; got {item}")
            if isinstance(item, str):
                item = names.check_label(item, f"trait {key!r}", 1024)
            out[names.normalize_trait_name(key)] = item
        return out


class FieldOut(_Out):
    """A field usable in ``where`` expressions."""

    name: str
    kind: Literal["text", "num", "multi"]


class ModelIn(BaseModel):
    """A model to register."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255)
    modality: str | None = Field(default=None, max_length=16)
    config: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    query: str | None = Field(default=None, max_length=8192)
    data_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @field_validator("config", "metrics")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json_finite(value, "")
        return value


def _check_json_finite(value: Any, where: str) -> None:
    """Raise ValueError on NaN/Infinity anywhere in a JSON value (PostgreSQL's JSON refuses them)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where or 'value'} must be a finite number; got {value}")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_json_finite(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_finite(item, f"{where}[{index}]")


class ModelOut(_Out):
    """A registered model."""

    uid: str
    name: str | None = None
    modality: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    query: str | None = None
    data_hash: str | None = None
    created_at: datetime | None = None


class PredictionIn(BaseModel):
    """One score (higher = more anomalous) for a sample, with an optional heatmap blob."""

    model_config = ConfigDict(extra="forbid")

    sample_id: str
    score: float
    heatmap: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                                description="sha256 of an uploaded heatmap blob")
    blob: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                             description="the acquisition's blob that was scored")

    @field_validator("sample_id")
    @classmethod
    def _sample(cls, value: str) -> str:
        return names.check_sample_id(value)

    @field_validator("score")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"score must be a finite number; got {value}")
        return value


class PredictionsIn(BaseModel):
    """A batch of predictions for one model."""

    model_config = ConfigDict(extra="forbid")

    project: str | None = None
    items: list[PredictionIn] = Field(max_length=100_000)


class PredictionOut(_Out):
    """A stored prediction."""

    model: str = Field(description="the model's uid")
    project: str
    sample_id: str
    score: float
    heatmap: str | None = None
    blob: str | None = None
    created_at: datetime | None = None


class BlobOut(_Out):
    """A stored blob."""

    blob: str
    size: int
    created: bool


class UploadOut(_Out):
    """The result of an upload: the sample and the acquisition it now has."""

    sample: SampleOut
    acquisition: AcquisitionOut
    created: bool = Field(description="a new acquisition was added (false: the identical one was already there)")
    sample_created: bool = Field(default=False, description="the sample did not exist before")
    blob_created: bool = Field(default=False, description="the bytes were not in the store before")


class SplitIn(BaseModel):
    """A grouped split to compute and store."""

    model_config = ConfigDict(extra="forbid")

    by: str = Field(max_length=64, description="field whose groups never straddle two splits (lot, a trait...)")
    ratios: str = Field(default="60,20,20", max_length=64)
    seed: int = Field(default=0, ge=0, le=2**32)
    where: str | None = Field(default=None, max_length=8192)
    project: str | None = Field(default=None, max_length=128)
    names: list[str] | None = Field(default=None, max_length=5)


class SplitOut(_Out):
    """Samples and groups per split."""

    by: str
    samples: dict[str, int]
    groups: dict[str, int]
    warnings: list[str] = Field(default_factory=list)


class TokenIn(BaseModel):
    """A token to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128)
    scope: Literal["read", "write", "admin"] = "read"


class TokenOut(_Out):
    """A token's name and scope (never its secret)."""

    name: str
    scope: str
    created_at: datetime | None = None
    revoked: bool = False


class TokenCreated(TokenOut):
    """A newly created token; ``token`` is shown once and never stored."""

    token: str


class BundleIn(BaseModel):
    """Which samples a bundle holds."""

    model_config = ConfigDict(extra="forbid")

    where: str | None = Field(default=None, max_length=8192)
    project: str | None = None


class HubInfoOut(_Out):
    """Facts about a hub."""

    version: str
    read_only: bool
    bundle: bool
    samples: int
    acquisitions: int
    projects: list[str]
    fields: list[FieldOut]


class ErrorOut(_Out):
    """An error answer; ``position`` points into the ``where`` expression for EXPR errors."""

    detail: str
    position: int | None = None

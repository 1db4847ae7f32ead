"""Models and predictions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel

from seedlens.hub.api.deps import HubDep, ReadToken, WriteToken
from seedlens.hub.schemas import ErrorOut, ModelIn, ModelOut, PredictionOut, PredictionsIn

router = APIRouter(prefix="/api/v1", tags=["models"])

Uid = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the model's uid")]
ERRORS: dict[int | str, dict[str, object]] = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}}


class WrittenOut(BaseModel):
    """How many predictions were stored."""

    written: int


@router.get("/models", response_model=list[ModelOut], summary="Registered models")
def list_models(hub: HubDep, _: ReadToken) -> list[ModelOut]:
    """Return every model, oldest first."""
    return hub.models()


@router.post("/models", response_model=ModelOut, status_code=status.HTTP_201_CREATED, summary="Register a model")
def register_model(hub: HubDep, _: WriteToken, body: ModelIn) -> ModelOut:
    """Record a trained model's config, metrics, query and data hash."""
    return hub.register_model(body.config, body.metrics, body.query, body.data_hash, name=body.name,
                              modality=body.modality)


@router.get("/models/{uid}", response_model=ModelOut, responses=ERRORS, summary="One model")
def get_model(hub: HubDep, _: ReadToken, uid: Uid) -> ModelOut:
    """Return one model."""
    return hub.model(uid)


@router.post("/models/{uid}/predictions", response_model=WrittenOut, responses=ERRORS,
             summary="Store predictions of a model")
def write_predictions(hub: HubDep, _: WriteToken, uid: Uid, body: PredictionsIn) -> WrittenOut:
    """Store scores (higher = more anomalous) and heatmap blob hashes; a repeat replaces the earlier one."""
    return WrittenOut(written=hub.write_predictions(uid, body.items, project=body.project))


@router.get("/predictions", response_model=list[PredictionOut], responses=ERRORS, summary="Stored predictions")
def list_predictions(
    hub: HubDep,
    _: ReadToken,
    model: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$")] = None,
    where: Annotated[str | None, Query(max_length=8192)] = None,
    project: Annotated[str | None, Query(max_length=128)] = None,
) -> list[PredictionOut]:
    """Return predictions, optionally of one model and for samples matching ``where``."""
    return hub.predictions(model, where=where, project=project)

"""Grouped splits computed by the server (``seedlens hub split --hub http://...``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from seedlens.hub.api.deps import HubDep, WriteToken
from seedlens.hub.schemas import ErrorOut, SplitIn, SplitOut

router = APIRouter(prefix="/api/v1", tags=["samples"])


@router.post("/splits", response_model=SplitOut, responses={400: {"model": ErrorOut}},
             summary="Assign train/val/test splits grouped by a field")
async def split(hub: HubDep, _: WriteToken, body: SplitIn) -> SplitOut:
    """Group matching samples by ``by`` and store their split; no group straddles two splits."""
    report = await run_in_threadpool(hub.split, body.by, body.ratios, seed=body.seed, where=body.where,
                                     project=body.project, names=body.names)
    return SplitOut(by=report.by, samples=report.samples, groups=report.groups, warnings=report.warnings)

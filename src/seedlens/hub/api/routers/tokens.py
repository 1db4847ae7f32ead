"""Token administration (admin scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from seedlens.hub.api.deps import AdminToken, HubDep
from seedlens.hub.schemas import ErrorOut, TokenCreated, TokenIn, TokenOut

router = APIRouter(prefix="/api/v1", tags=["tokens"])


@router.get("/tokens", response_model=list[TokenOut], summary="List tokens (never their secrets)")
def list_tokens(hub: HubDep, _: AdminToken) -> list[TokenOut]:
    """Return every token's name, scope and state."""
    return hub.tokens()


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED,
             responses={409: {"model": ErrorOut}}, summary="Create a token (its text is shown once)")
def create_token(hub: HubDep, _: AdminToken, body: TokenIn) -> TokenCreated:
    """Create a token; only its hash is stored."""
    info, token = hub.create_token(body.name, body.scope)
    return TokenCreated(**info.model_dump(), token=token)


@router.delete("/tokens/{name}", response_model=TokenOut, responses={404: {"model": ErrorOut}},
               summary="Revoke a token")
def revoke_token(hub: HubDep, _: AdminToken, name: Annotated[str, Path(max_length=128)]) -> TokenOut:
    """Revoke a token by name; it is refused from then on."""
    return hub.revoke_token(name)

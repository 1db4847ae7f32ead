"""API tokens: ``slh_<key id>_<secret>``; only sha256(secret) is stored, compared in constant time.

Scopes are ordered: ``read`` < ``write`` < ``admin``; a token allows its scope and every smaller one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from seedlens.hub.catalog.models import ApiToken, utcnow
from seedlens.hub.errors import ConflictError, InvalidNameError, NotFoundError

SCOPES = ("read", "write", "admin")
PREFIX = "slh"
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
_DUMMY_HASH = hashlib.sha256(b"seedlens-dummy").hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """What the server knows about an authenticated token (never the secret)."""

    name: str
    scope: str
    created_at: datetime | None = None
    revoked: bool = False


def check_scope(scope: str) -> str:
    """Return ``scope`` if known, else raise :class:`InvalidNameError` listing the scopes."""
    if scope not in SCOPES:
        raise InvalidNameError(f"unknown token scope {scope!r}; expected one of: {', '.join(SCOPES)}")
    return scope


def scope_allows(have: str, need: str) -> bool:
    """Return True if a token of scope ``have`` may do what needs scope ``need``."""
    return SCOPES.index(check_scope(have)) >= SCOPES.index(check_scope(need))


def hash_secret(secret: str) -> str:
    """Return the stored form of a secret: its sha256 hex digest."""
    return hashlib.sha256(secret.encode()).hexdigest()


def generate() -> tuple[str, str, str]:
    """Return ``(key_id, secret, token)`` for a new token; the secret has 256 bits of entropy."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"{PREFIX}_{key_id}_{secret}"


def split_token(token: str) -> tuple[str, str] | None:
    """Return ``(key_id, secret)`` of a well-formed token, else None."""
    match = _TOKEN.match(token or "")
    return (match.group(1), match.group(2)) if match else None


def create_token(session: Session, name: str, scope: str) -> tuple[TokenInfo, str]:
    """Create a token; return its info and the token text (shown once, never stored).

    Raises:
        InvalidNameError: bad name or scope.
        ConflictError: a token with this name exists.
    """
    check_scope(scope)
    if not _NAME.match(name or ""):
        raise InvalidNameError(
            f"invalid token name {name!r}: use 1-128 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    if session.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
        raise ConflictError(f"a token named {name!r} already exists; revoke it or pick another name")
    key_id, secret, token = generate()
    row = ApiToken(key_id=key_id, name=name, scope=scope, secret_hash=hash_secret(secret), created_at=utcnow())
    session.add(row)
    session.flush()
    return TokenInfo(name, scope, row.created_at), token


def revoke_token(session: Session, name: str) -> TokenInfo:
    """Revoke the token ``name`` (idempotent).

    Raises:
        NotFoundError: no token has this name.
    """
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        known = ", ".join(session.scalars(select(ApiToken.name).order_by(ApiToken.name)).all()) or "none"
        raise NotFoundError(f"no token named {name!r}; known tokens: {known}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return TokenInfo(row.name, row.scope, row.created_at, revoked=True)


def list_tokens(session: Session) -> list[TokenInfo]:
    """Return every token's name, scope and state (no secrets)."""
    rows = session.scalars(select(ApiToken).order_by(ApiToken.name)).all()
    return [TokenInfo(r.name, r.scope, r.created_at, r.revoked_at is not None) for r in rows]


def authenticate(session: Session, token: str) -> TokenInfo | None:
    """Return the token's info if ``token`` is valid and not revoked, else None (constant-time compare)."""
    parts = split_token(token)
    key_id, secret = parts if parts else ("", token or "")
    row = session.scalar(select(ApiToken).where(ApiToken.key_id == key_id)) if parts else None
    expected = row.secret_hash if row is not None else _DUMMY_HASH
    ok = hmac.compare_digest(expected, hash_secret(secret))
    if row is None or not ok or row.revoked_at is not None:
        return None
    return TokenInfo(row.name, row.scope, row.created_at)


class StaticTokens:
    """Tokens held in memory (``seedlens hub serve --bundle``: bundles never contain tokens)."""

    def __init__(self) -> None:
        self._by_key: dict[str, tuple[str, TokenInfo]] = {}

    def add(self, token: str, name: str, scope: str) -> None:
        """Accept ``token`` with ``scope``.

        Raises:
            InvalidNameError: the token is not of the form ``slh_<16 hex>_<43 chars>``.
        """
        parts = split_token(token)
        if parts is None:
            raise InvalidNameError("token must look like slh_<16 hex digits>_<43 characters>; create one with "
                                   "`seedlens hub token create`")
        self._by_key[parts[0]] = (hash_secret(parts[1]), TokenInfo(name, check_scope(scope)))

    def authenticate(self, token: str) -> TokenInfo | None:
        """Return the token's info if it is one of ours, else None."""
        parts = split_token(token)
        key_id, secret = parts if parts else ("", token or "")
        expected, info = self._by_key.get(key_id, (_DUMMY_HASH, None))
        ok = hmac.compare_digest(expected, hash_secret(secret))
        return info if ok and info is not None else None

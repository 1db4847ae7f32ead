"""Tokens: hashed at rest, scopes ordered, revocation, malformed tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from seedlens.hub.catalog.models import ApiToken
from seedlens.hub.errors import ConflictError, InvalidNameError, NotFoundError
from seedlens.hub.tokens import StaticTokens, generate, hash_secret, scope_allows, split_token


def test_scopes_are_ordered():
    assert scope_allows("admin", "write") and scope_allows("write", "read") and scope_allows("read", "read")
    assert not scope_allows("read", "write") and not scope_allows("write", "admin")
    with pytest.raises(InvalidNameError, match="unknown token scope"):
        scope_allows("root", "read")


def test_tokens_are_stored_hashed_and_revocable(hub):
    info, token = hub.create_token("alice", "write")
    assert info.scope == "write" and token.startswith("slh_")
    _, secret = split_token(token)
    with hub.session() as session:
        row = session.scalar(select(ApiToken))
        assert row.secret_hash == hash_secret(secret) and secret not in (row.secret_hash, row.key_id, row.name)
    assert hub.authenticate(token).name == "alice"
    assert hub.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert hub.authenticate("slh_0000000000000000_" + "x" * 43) is None
    assert hub.authenticate("not a token") is None
    hub.revoke_token("alice")
    assert hub.authenticate(token) is None
    assert [t.revoked for t in hub.tokens()] == [True]


def test_token_names_are_unique_and_checked(hub):
    hub.create_token("bob", "read")
    with pytest.raises(ConflictError, match="already exists"):
        hub.create_token("bob", "admin")
    with pytest.raises(InvalidNameError):
        hub.create_token("../bob", "read")
    with pytest.raises(NotFoundError, match="known tokens: bob"):
        hub.revoke_token("carol")


def test_static_tokens():
    tokens = StaticTokens()
    token = generate()[2]
    tokens.add(token, "reader", "read")
    assert tokens.authenticate(token).scope == "read"
    assert tokens.authenticate(generate()[2]) is None
    with pytest.raises(InvalidNameError):
        tokens.add("short", "x", "read")

"""Seed provenance: an acquisition records the parent acquisition it was cut out of (natural keys, no FK).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # new nullable columns only: on SQLite the batch adds them in place (ALTER TABLE ADD COLUMN), no table copy
    with op.batch_alter_table("acquisitions") as batch:
        batch.add_column(sa.Column("parent_sample_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("parent_blob", sa.String(64), nullable=True))
        batch.add_column(sa.Column("region", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("centroid", sa.JSON(), nullable=True))
        batch.create_index(op.f("ix_acquisitions_parent_sample_id"), ["parent_sample_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_acquisitions_parent_sample_id"), table_name="acquisitions")
    columns = ("centroid", "region", "parent_blob", "parent_sample_id")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.dialect.dbapi.sqlite_version_info >= (3, 35):  # type: ignore[union-attr]
        # native DROP COLUMN: a batch copy drops and recreates the table, and with foreign keys on that
        # drop would set every predictions.acquisition_pk to NULL
        for column in columns:
            op.execute(sa.text(f'ALTER TABLE acquisitions DROP COLUMN "{column}"'))
        return
    with op.batch_alter_table("acquisitions") as batch:
        for column in columns:
            batch.drop_column(column)

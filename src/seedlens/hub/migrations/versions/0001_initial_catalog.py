"""Initial catalog: projects, samples, acquisitions, traits, tags, models, predictions, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _created() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "hub_info",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_hub_info")),
    )
    op.create_table(
        "projects",
        sa.Column("id", PK, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_table(
        "samples",
        sa.Column("id", PK, nullable=False),
        sa.Column("project_id", PK, nullable=False),
        sa.Column("sample_id", sa.String(255), nullable=False),
        sa.Column("species", sa.String(255), nullable=True),
        sa.Column("genotype", sa.String(255), nullable=True),
        sa.Column("lot", sa.String(255), nullable=True),
        sa.Column("harvest", sa.String(255), nullable=True),
        sa.Column("split", sa.String(64), nullable=True),
        sa.Column("germination", sa.String(64), nullable=True),
        _created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_samples_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_samples")),
        sa.UniqueConstraint("project_id", "sample_id", name=op.f("uq_samples_project_id_sample_id")),
    )
    for column in ("project_id", "sample_id", "species", "genotype", "lot", "harvest", "split", "germination"):
        op.create_index(op.f(f"ix_samples_{column}"), "samples", [column])

    op.create_table(
        "acquisitions",
        sa.Column("id", PK, nullable=False),
        sa.Column("sample_pk", PK, nullable=False),
        sa.Column("modality", sa.String(16), nullable=False),
        sa.Column("blob_hash", sa.String(64), nullable=False),
        sa.Column("blob_kind", sa.String(8), nullable=False),
        sa.Column("suffix", sa.String(32), nullable=False),
        sa.Column("entry", sa.String(255), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("shape", sa.JSON(), nullable=False),
        sa.Column("dtype", sa.String(32), nullable=False),
        sa.Column("spacing", sa.JSON(), nullable=True),
        sa.Column("wavelengths", sa.JSON(), nullable=True),
        sa.Column("device", sa.String(255), nullable=True),
        _created(),
        sa.ForeignKeyConstraint(
            ["sample_pk"], ["samples.id"], name=op.f("fk_acquisitions_sample_pk_samples"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acquisitions")),
        sa.UniqueConstraint(
            "sample_pk", "modality", "blob_hash", name=op.f("uq_acquisitions_sample_pk_modality_blob_hash")
        ),
    )
    for column in ("sample_pk", "modality", "blob_hash"):
        op.create_index(op.f(f"ix_acquisitions_{column}"), "acquisitions", [column])

    op.create_table(
        "trait_defs",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_trait_defs")),
    )
    op.create_table(
        "traits",
        sa.Column("sample_pk", PK, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("num_value", sa.Float(), nullable=True),
        sa.Column("text_value", sa.String(1024), nullable=True),
        sa.ForeignKeyConstraint(["name"], ["trait_defs.name"], name=op.f("fk_traits_name_trait_defs")),
        sa.ForeignKeyConstraint(
            ["sample_pk"], ["samples.id"], name=op.f("fk_traits_sample_pk_samples"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sample_pk", "name", name=op.f("pk_traits")),
    )
    op.create_index("ix_traits_name_num_value", "traits", ["name", "num_value"])
    op.create_index("ix_traits_name_text_value", "traits", ["name", "text_value"])

    op.create_table(
        "tags",
        sa.Column("sample_pk", PK, nullable=False),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_pk"], ["samples.id"], name=op.f("fk_tags_sample_pk_samples"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sample_pk", "tag", name=op.f("pk_tags")),
    )
    op.create_index(op.f("ix_tags_tag"), "tags", ["tag"])

    op.create_table(
        "models",
        sa.Column("id", PK, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("modality", sa.String(16), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("data_hash", sa.String(64), nullable=True),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("uid", name=op.f("uq_models_uid")),
    )
    op.create_table(
        "predictions",
        sa.Column("id", PK, nullable=False),
        sa.Column("model_pk", PK, nullable=False),
        sa.Column("sample_pk", PK, nullable=False),
        sa.Column("acquisition_pk", PK, nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("heatmap_hash", sa.String(64), nullable=True),
        _created(),
        sa.ForeignKeyConstraint(
            ["acquisition_pk"], ["acquisitions.id"], name=op.f("fk_predictions_acquisition_pk_acquisitions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_pk"], ["models.id"], name=op.f("fk_predictions_model_pk_models"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sample_pk"], ["samples.id"], name=op.f("fk_predictions_sample_pk_samples"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint("model_pk", "sample_pk", name=op.f("uq_predictions_model_pk_sample_pk")),
    )
    for column in ("model_pk", "sample_pk", "acquisition_pk", "heatmap_hash"):
        op.create_index(op.f(f"ix_predictions_{column}"), "predictions", [column])

    op.create_table(
        "tokens",
        sa.Column("id", PK, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        _created(),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("key_id", name=op.f("uq_tokens_key_id")),
        sa.UniqueConstraint("name", name=op.f("uq_tokens_name")),
    )


def downgrade() -> None:
    for table in ("tokens", "predictions", "models", "tags", "traits", "trait_defs", "acquisitions", "samples",
                  "projects", "hub_info"):
        op.drop_table(table)

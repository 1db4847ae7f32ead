"""Covering indexes for --where filters on traits, tags and modality (index-only semi-joins).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_traits_name_num_value", table_name="traits")
    op.drop_index("ix_traits_name_text_value", table_name="traits")
    op.drop_index("ix_tags_tag", table_name="tags")
    op.drop_index("ix_acquisitions_modality", table_name="acquisitions")
    op.create_index("ix_traits_name_num_value_sample_pk", "traits", ["name", "num_value", "sample_pk"])
    op.create_index("ix_traits_name_text_value_sample_pk", "traits", ["name", "text_value", "sample_pk"])
    op.create_index("ix_tags_tag_sample_pk", "tags", ["tag", "sample_pk"])
    op.create_index("ix_acquisitions_modality_sample_pk", "acquisitions", ["modality", "sample_pk"])


def downgrade() -> None:
    op.drop_index("ix_acquisitions_modality_sample_pk", table_name="acquisitions")
    op.drop_index("ix_tags_tag_sample_pk", table_name="tags")
    op.drop_index("ix_traits_name_text_value_sample_pk", table_name="traits")
    op.drop_index("ix_traits_name_num_value_sample_pk", table_name="traits")
    op.create_index("ix_acquisitions_modality", "acquisitions", ["modality"])
    op.create_index("ix_tags_tag", "tags", ["tag"])
    op.create_index("ix_traits_name_text_value", "traits", ["name", "text_value"])
    op.create_index("ix_traits_name_num_value", "traits", ["name", "num_value"])

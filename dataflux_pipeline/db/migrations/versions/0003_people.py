"""People found by face clustering, and which face belongs to whom.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("total", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    op.create_table(
        "person_faces",
        sa.Column("segment_id", sa.String(length=200), nullable=False),
        sa.Column("asset_id", sa.String(length=80), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("embedding", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("segment_id", name=op.f("pk_person_faces")),
    )
    op.create_index(op.f("ix_person_faces_asset_id"), "person_faces", ["asset_id"])
    op.create_index(op.f("ix_person_faces_person_id"), "person_faces", ["person_id"])


def downgrade() -> None:
    op.drop_table("person_faces")
    op.drop_table("people")

"""A folder path's inode, so that a rename is recognised without hashing the file again.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("source_paths", sa.Column("inode", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_paths") as batch:
        batch.drop_column("inode")

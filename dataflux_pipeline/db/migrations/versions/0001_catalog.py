"""The live catalog: sources, source paths, assets, stale rows, exclusions, events,
counters and partition locks.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("copy", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(128)),
        sa.Column("group", sa.String(128)),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
    )
    op.create_table(
        "source_paths",
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("asset_id", sa.String(80)),
        sa.Column("batch", sa.String(128)),
        sa.Column("error", sa.Text()),
        sa.Column("first_seen", TZ, nullable=False),
        sa.Column("last_seen", TZ, nullable=False),
        sa.Column("removed_at", TZ),
        sa.PrimaryKeyConstraint("source_id", "path", name="pk_source_paths"),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name="fk_source_paths_source_id_sources"
        ),
    )
    op.create_index("ix_source_paths_state", "source_paths", ["state"])
    op.create_index("ix_source_paths_asset_id", "source_paths", ["asset_id"])
    op.create_table(
        "assets",
        sa.Column("asset_id", sa.String(80), nullable=False),
        sa.Column("media_type", sa.String(16)),
        sa.Column("mime_type", sa.String(128)),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("xxh128", sa.String(32)),
        sa.Column("store_path", sa.Text()),
        sa.Column("source_id", sa.String(64)),
        sa.Column("path", sa.String(4096)),
        sa.Column("file_name", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("duration_s", sa.Float()),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("analyzers", sa.JSON(), nullable=False),
        sa.Column("analysis_partition", sa.String(128)),
        sa.Column("pending_partition", sa.String(128)),
        sa.Column("analysis_run", sa.String(64)),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("index_dirty", sa.Boolean(), nullable=False),
        sa.Column("reanalyze", sa.Boolean(), nullable=False),
        sa.Column("arrived_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("removed_at", TZ),
        sa.Column("deleted_at", TZ),
        sa.Column("deleted_by", sa.String(128)),
        sa.Column("purged_at", TZ),
        sa.PrimaryKeyConstraint("asset_id", name="pk_assets"),
    )
    for column in (
        "status",
        "analysis_partition",
        "pending_partition",
        "live",
        "index_dirty",
        "reanalyze",
    ):
        op.create_index(f"ix_assets_{column}", "assets", [column])
    op.create_table(
        "stale_rows",
        sa.Column("asset_id", sa.String(80), nullable=False),
        sa.Column("partition", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("asset_id", "partition", name="pk_stale_rows"),
    )
    op.create_table(
        "exclusions",
        sa.Column("asset_id", sa.String(80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(128)),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("asset_id", name="pk_exclusions"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("asset_id", sa.String(80)),
        sa.Column("source_id", sa.String(64)),
        sa.Column("path", sa.String(4096)),
        sa.Column("actor", sa.String(128)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    for column in ("at", "kind", "asset_id"):
        op.create_index(f"ix_events_{column}", "events", [column])
    op.create_table(
        "counters",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_counters"),
    )
    op.create_table(
        "partition_locks",
        sa.Column("partition", sa.String(128), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("partition", name="pk_partition_locks"),
    )


def downgrade() -> None:
    for table in (
        "partition_locks",
        "counters",
        "events",
        "exclusions",
        "stale_rows",
        "assets",
        "source_paths",
        "sources",
    ):
        op.drop_table(table)

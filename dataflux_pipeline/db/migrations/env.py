"""Alembic runs migrations on the connection the app hands it (see db.engine.migrate)."""

from alembic import context

from dataflux_pipeline.db.engine import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,  # revisions are written by hand, as plain operations
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

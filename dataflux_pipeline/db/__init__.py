"""The app's relational state: the live catalog, and the people, shares and collections
that use it. SQLite under DATAFLUX_HOME by default, PostgreSQL in production, through
SQLAlchemy 2; Alembic migrations run when a process first opens the database."""

from dataflux_pipeline.db.engine import Base, Database, database_for

__all__ = ["Base", "Database", "database_for"]

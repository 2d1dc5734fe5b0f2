"""The audit log: sign-ins, uploads, deletions, shares, role and key changes, readable
by admins. Written in the same breath as the change it records."""

from __future__ import annotations

from sqlalchemy import select

from dataflux_pipeline.accounts.models import AuditEntry
from dataflux_pipeline.db import Database


def record(
    db: Database,
    actor: str | None,
    action: str,
    target: str | None = None,
    address: str | None = None,
    **detail,
) -> None:
    with db.session() as s:
        s.add(AuditEntry(actor=actor, action=action, target=target, address=address, detail=detail))


def entries(
    db: Database, limit: int, offset: int, action: str | None = None
) -> tuple[list[AuditEntry], bool]:
    """Newest first; (entries, whether more follow)."""
    with db.reading() as s:
        query = select(AuditEntry).order_by(AuditEntry.id.desc())
        if action:
            query = query.where(AuditEntry.action == action)
        rows = list(s.scalars(query.offset(offset).limit(limit + 1)))
    return rows[:limit], len(rows) > limit

"""Slowing down password guessing, per account and per address: after a few failures in
a window, each further attempt waits twice as long as the last, up to a cap; a success
or the window's end clears it, so the real user is never locked out for good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dataflux_pipeline.accounts.models import LoginFailure
from dataflux_pipeline.db import Database

FREE_ATTEMPTS = 5
WINDOW = timedelta(minutes=15)
MAX_WAIT = timedelta(minutes=5)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def wait_s(db: Database, keys: list[str]) -> float:
    """Seconds until any of these keys may try again (0: now)."""
    now = datetime.now(UTC)
    worst = 0.0
    with db.reading() as s:
        for key in keys:
            row = s.get(LoginFailure, key)
            if row is not None and row.blocked_until is not None:
                worst = max(worst, (_aware(row.blocked_until) - now).total_seconds())
    return max(0.0, worst)


def failed(db: Database, keys: list[str]) -> None:
    now = datetime.now(UTC)
    with db.session() as s:
        for key in keys:
            row = s.get(LoginFailure, key)
            if row is None or now - _aware(row.first_at) > WINDOW:
                row = s.merge(LoginFailure(key=key, count=0, first_at=now, blocked_until=None))
            row.count += 1
            over = row.count - FREE_ATTEMPTS
            if over > 0:
                row.blocked_until = now + min(MAX_WAIT, timedelta(seconds=2 ** (over - 1)))


def succeeded(db: Database, account_key: str) -> None:
    with db.session() as s:
        row = s.get(LoginFailure, account_key)
        if row is not None:
            s.delete(row)

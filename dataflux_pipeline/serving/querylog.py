"""Which searches people run and which find nothing, for the overview page: one JSON line
per search in a file per day under `<home>/logs/queries/`, which DuckDB reads as a table
(`read_json_auto`). Who searched is not kept: the overview needs the words, not the
people. Appends are single writes, so several service processes can share the files."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 200
KEEP_DAYS = 90


class QueryLog:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def record(self, query: str, total: int, took_ms: float, mode: str) -> None:
        """Append one search; a full disk must not fail the search, so errors are logged."""
        now = datetime.now(UTC)
        line = json.dumps(
            {
                "at": now.isoformat(timespec="seconds"),
                "query": " ".join(query.lower().split())[:MAX_QUERY_CHARS],
                "total": total,
                "took_ms": round(took_ms, 2),
                "mode": mode,
            }
        )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{now:%Y-%m-%d}.jsonl"
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("query log not written: %s", exc)

    def files(self, days: int) -> list[str]:
        """The day files of the last `days` days (older ones are removed on the way)."""
        if not self.folder.is_dir():
            return []
        today = datetime.now(UTC).date()
        keep, out = today - timedelta(days=KEEP_DAYS), []
        for path in sorted(self.folder.glob("*.jsonl")):
            try:
                day = datetime.strptime(path.stem, "%Y-%m-%d").date()
            except ValueError:
                continue
            if day < keep:
                path.unlink(missing_ok=True)
            elif day > today - timedelta(days=days):
                out.append(str(path))
        return out

"""Relevance judgements from people: a hit was relevant to their query, or was not.
Exported in the format the search evaluation reads, so real judgements grow it."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from dataflux_pipeline.accounts.models import Feedback
from dataflux_pipeline.db import Database


def record(
    db: Database,
    user_id: int | None,
    query: str,
    asset_id: str,
    relevant: bool,
    segment_id: str | None = None,
    comment: str | None = None,
) -> int:
    with db.session() as s:
        row = Feedback(
            user_id=user_id,
            query=" ".join(query.split())[:1000],
            asset_id=asset_id,
            segment_id=segment_id,
            relevant=relevant,
            comment=(comment or "")[:2000] or None,
        )
        s.add(row)
        s.flush()
        return row.id


def judged_set(db: Database, names: dict[str, str]) -> list[dict]:
    """tests/eval/queries.json's shape: query, type, relevant {file stem: grade}. When
    people disagree about a hit, the majority decides (a tie counts as relevant)."""
    votes: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    with db.reading() as s:
        for row in s.scalars(select(Feedback).order_by(Feedback.id)):
            votes[row.query][row.asset_id].append(row.relevant)
    out = []
    for query, hits in sorted(votes.items()):
        relevant = {Path(names.get(a, a)).stem: 1 for a, v in hits.items() if sum(v) * 2 >= len(v)}
        judged = {Path(names.get(a, a)).stem for a in hits}
        if relevant:
            out.append(
                {
                    "query": query,
                    "type": "feedback",
                    "relevant": relevant,
                    "judged": sorted(judged),
                }
            )
    return out


def export(db: Database, names: dict[str, str], target: Path) -> int:
    data = judged_set(db, names)
    target.write_text(json.dumps(data, indent=1) + "\n")
    return len(data)

"""Reciprocal rank fusion of ranked segment lists, grouping per asset, and highlights.

Fusion works on ranks, not scores: BM25 and cosine similarities of different models are
not on one scale, ranks are. Assets are fused on their best rank in each list (an asset
whose title matches the words and whose body matches the meaning gets credit from both
lists even when different segments match), segments inside an asset on their own ranks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dataflux_pipeline.serving.schemas import SegmentHit

_STOP = """a an and are as at be by do does for from has have how i in is it its of on or so
that the their there this to was what when where which who why will with you your"""
STOPWORDS = frozenset(_STOP.split())


@dataclass
class Leg:
    """One ranked list: `kind` is "vector" (rows carry `_distance`) or "bm25" (`_score`)."""

    kind: str
    space: str
    rows: list[dict[str, Any]]
    weights: list[float] | None = None  # per row, scales its RRF contribution (default 1)
    coverage: list[float] | None = None  # per BM25 row, the share of query terms it holds

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.space}"


@dataclass
class Candidate:
    row: dict[str, Any]
    space: str
    fused: float = 0.0
    vector_score: float | None = None
    text_score: float | None = None
    coverage: float = 0.0
    matched_by: list[str] = field(default_factory=list)


@dataclass
class Group:
    asset_id: str
    score: float
    segments: list[Candidate]
    cosine: float = 0.0  # best vector similarity of its segments (0: no vector hit)
    coverage: float = 0.0  # best share of query terms a text hit of it holds
    gap: float = 0.0  # how far its cosine is below the best hit's of the query


def fuse(legs: list[Leg], k: int = 60) -> list[Group]:
    """Assets best first. With one list the score is that list's own (cosine or BM25);
    with several it is the RRF sum scaled to [0, 1] (1: first in every list)."""
    legs = [leg for leg in legs if leg.rows]
    segments: dict[str, Candidate] = {}
    asset_rrf: dict[str, float] = {}
    asset_native: dict[str, float] = {}
    cosine: dict[str, float] = {}
    covered: dict[str, float] = {}
    for leg in legs:
        asset_rank: dict[str, tuple[int, float]] = {}
        weights = leg.weights or [1.0] * len(leg.rows)
        cover = leg.coverage or [0.0] * len(leg.rows)
        for rank, (row, weight) in enumerate(zip(leg.rows, weights, strict=True)):
            sid = row["segment_id"]
            cand = segments.get(sid)
            if cand is None:
                cand = segments[sid] = Candidate(row, leg.space)
            cand.fused += weight / (k + rank + 1)
            cand.matched_by.append(leg.name)
            asset = row["asset_id"]
            if leg.kind == "vector":
                sim = round(1.0 - float(row["_distance"]), 6)
                cand.vector_score = max(sim, cand.vector_score or -1.0)
                native = sim
                cosine[asset] = max(sim, cosine.get(asset, 0.0))
            else:
                cand.text_score = round(float(row["_score"]), 6)
                cand.coverage = max(cand.coverage, cover[rank])
                native = cand.text_score
                covered[asset] = max(cover[rank], covered.get(asset, 0.0))
            if asset not in asset_rank:
                asset_rank[asset] = (len(asset_rank), weight)
                asset_native[asset] = max(native, asset_native.get(asset, -1e9))
            else:
                first, best = asset_rank[asset]
                asset_rank[asset] = (first, max(best, weight))
        for asset, (rank, weight) in asset_rank.items():
            asset_rrf[asset] = asset_rrf.get(asset, 0.0) + weight / (k + rank + 1)
    by_asset: dict[str, list[Candidate]] = {}
    for cand in segments.values():
        by_asset.setdefault(cand.row["asset_id"], []).append(cand)
    groups = []
    scale = len(legs) / (k + 1) if legs else 1.0
    for asset, cands in by_asset.items():
        cands.sort(key=lambda c: c.fused, reverse=True)
        if len(legs) == 1:
            score = asset_native[asset]
            for c in cands:
                c.fused = c.vector_score if c.vector_score is not None else c.text_score
        else:
            score = asset_rrf[asset] / scale
            for c in cands:
                c.fused = c.fused / scale
        groups.append(
            Group(asset, round(score, 6), cands, cosine.get(asset, 0.0), covered.get(asset, 0.0))
        )
    groups.sort(key=lambda g: (-g.score, g.asset_id))
    return groups


def coverage(text: str | None, stems: list[str]) -> float:
    """Share of the query's stemmed terms found in `text` (stems are word prefixes, save a
    final y->i, which is checked without the i)."""
    if not stems:
        return 1.0
    words = set(re.findall(r"\w+", (text or "").lower()))
    found = 0
    for stem in stems:
        probe = stem[:-1] if stem.endswith("i") and len(stem) > 3 else stem
        found += any(w.startswith(probe) for w in words)
    return found / len(stems)


def query_terms(query: str) -> list[str]:
    words = {w for w in re.findall(r"\w+", query.lower()) if w not in STOPWORDS}
    return sorted(words, key=len, reverse=True)


def term_pattern(terms: Iterable[str]) -> re.Pattern | None:
    """Whole words starting with a query term ("whale" marks "whales")."""
    terms = [t for t in terms if t]
    if not terms:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\w*", re.IGNORECASE)


def highlight(text: str | None, pattern: re.Pattern | None, width: int = 200) -> str | None:
    """The `width`-character window holding the most distinct query terms, with every
    match in it wrapped in <mark>."""
    if not text or pattern is None:
        return None
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    best, best_terms = 0, -1
    for m in matches:
        start = max(0, m.start() - width // 4)
        terms = {x.group(0).lower() for x in matches if start <= x.start() < start + width}
        if len(terms) > best_terms:
            best, best_terms = start, len(terms)
    start = text.rfind(" ", 0, best) + 1 if best else 0
    end = min(len(text), start + width)
    snippet = pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", text[start:end])
    return ("…" if start else "") + snippet + ("…" if end < len(text) else "")


def segment_hit(cand: Candidate, pattern: re.Pattern | None) -> SegmentHit:
    row = cand.row
    thumb = row.get("thumbnail")
    return SegmentHit(
        segment_id=row["segment_id"],
        kind=row.get("kind"),
        score=round(cand.fused, 6),
        vector_score=cand.vector_score,
        text_score=cand.text_score,
        start_s=row.get("start_s"),
        end_s=row.get("end_s"),
        page=row.get("page"),
        text=row.get("text"),
        highlight=highlight(row.get("text"), pattern),
        thumbnail=thumb,
        thumbnail_url=f"/{thumb}" if thumb else None,
        space=cand.space,
        matched_by=cand.matched_by,
    )

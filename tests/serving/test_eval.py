"""Ranking quality on the evaluation corpus (tests/eval), built by the real pipeline and
searched over HTTP: hybrid must beat full text alone and vectors alone. Building the
corpus runs an ingest, so every test here is slow."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from dataflux_pipeline.storage.index import IndexReader
from dataflux_pipeline.storage.tables import TableStore
from tests.eval import harness

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    settings, _, _ = harness.catalog()
    with harness.serve(settings) as url:
        yield url


def test_corpus_is_what_the_judgments_talk_about() -> None:
    settings, _, partition = harness.catalog()
    live = harness.live_assets(settings)
    stems = {Path(n).stem for n in live["file_name"]}
    judged = {s for q in harness.queries() for s in q["relevant"]}
    assert judged <= stems
    assert len(harness.queries()) >= 30
    # every primary is live and indexed from the one batch; sidecars are not contents
    assert set(live["status"]) == {"indexed"} and live.height == 41
    assert set(live["analysis_partition"]) == {partition}
    assert stems == {p.stem for p in harness.CORPUS.iterdir()}
    records = TableStore(settings.tables).read("assets")  # one intake record per file taken
    assert set(records["outcome"]) == {"ok"} and records.height == 41
    assert set(records["asset_id"]) == set(live["asset_id"])


def test_paraphrases_share_no_indexed_term_with_their_answer() -> None:
    """Checked with the full-text index's own tokenizer (stemming, stop words)."""
    settings, _, _ = harness.catalog()
    index = IndexReader(settings.lancedb)
    rows = index.table("text").to_arrow().select(["file_name", "text"]).to_pylist()
    text_of: dict[str, str] = {}
    for r in rows:
        stem = Path(r["file_name"]).stem
        text_of[stem] = text_of.get(stem, "") + " " + (r["text"] or "")
    paraphrases = [q for q in harness.queries() if q["type"] == "paraphrase"]
    assert len(paraphrases) >= 20
    for q in paraphrases:
        terms = set(index.tokenize("text", q["query"]))
        for stem, grade in q["relevant"].items():
            if grade == 3:
                words = set(re.findall(r"\w+", text_of[stem].lower()))
                doc_terms = {t for w in words for t in index.tokenize("text", w)}
                assert not terms & doc_terms, (q["query"], stem, terms & doc_terms)


def test_hybrid_beats_text_only_and_vector_only(service: str) -> None:
    results = harness.evaluate(service)
    print("\n" + harness.table(results))
    hybrid, text, vector = results["hybrid"], results["text"], results["vector"]
    assert hybrid["ndcg"] > vector["ndcg"] and hybrid["ndcg"] > text["ndcg"]
    assert hybrid["recall"] >= vector["recall"] and hybrid["recall"] > text["recall"]
    # Each side does what it is for: names and codes are full text's, paraphrases vectors'.
    assert results["text/exact"]["ndcg"] == pytest.approx(1.0)
    assert results["hybrid/exact"]["ndcg"] == pytest.approx(1.0)
    assert results["vector/paraphrase"]["ndcg"] > 0.9 > 0.3 > results["text/paraphrase"]["ndcg"]
    assert hybrid["ndcg"] > 0.92


def test_eval_index_is_built_by_the_pipeline_with_full_text() -> None:
    settings, _, _ = harness.catalog()
    index = IndexReader(settings.lancedb)
    embeddings = TableStore(settings.tables).read("embeddings")
    expected = embeddings.filter(pl.col("space") == "text")["segment_id"].n_unique()
    info = index.info("text")
    assert info["rows"] == expected and info["fts"] and info["dim"] == 384
    assert info["ann"] is None  # 100 rows: far below the ANN threshold, searched exactly


def test_the_default_cut_off_keeps_relevant_hits_and_drops_the_rest() -> None:
    """On the evaluation set, hybrid with the default min_score against the fused ranking
    without a cut-off (what search returned before calibration): the share of returned
    hits that are relevant rises, and nDCG@10 does not drop."""
    from dataflux_pipeline.serving.fusion import fuse
    from dataflux_pipeline.serving.schemas import SearchRequest
    from dataflux_pipeline.serving.search import Searcher

    settings, _, _ = harness.catalog()
    searcher = Searcher(settings)
    stems = {v: k for k, v in harness.asset_ids(settings).items()}
    before, after = {"ndcg": [], "hits": 0, "good": 0}, {"ndcg": [], "hits": 0, "good": 0}
    for q in harness.queries():
        req = SearchRequest(query=q["query"], limit=10, include_segments=False)
        where, _ = searcher.where(None, None)
        fused = [stems[g.asset_id] for g in fuse(searcher.legs(req, where, 20), 60)[:10]]
        cut = [stems[r.asset_id] for r in searcher.search(req).results]
        for ranked, tally in ((fused, before), (cut, after)):
            tally["ndcg"].append(harness.ndcg(ranked, q["relevant"]))
            tally["hits"] += len(ranked)
            tally["good"] += sum(1 for s in ranked if q["relevant"].get(s, 0) > 0)
    precision = [t["good"] / t["hits"] for t in (before, after)]
    ndcg = [sum(t["ndcg"]) / len(t["ndcg"]) for t in (before, after)]
    assert precision[1] > 3 * precision[0], precision
    assert ndcg[1] >= ndcg[0], ndcg

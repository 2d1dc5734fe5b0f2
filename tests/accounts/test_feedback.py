"""Relevance judgements export in the evaluation set's format, majority per hit."""

from __future__ import annotations

import json

from dataflux_pipeline.accounts.feedback import export, record


def test_judgements_export_as_an_evaluation_set(db, tmp_path) -> None:
    names = {"a" * 64: "whale_song.ogg", "b" * 64: "bread_recipe.md"}
    record(db, 1, "whales  singing", "a" * 64, True)
    record(db, 2, "whales singing", "a" * 64, True)
    record(db, 3, "whales singing", "b" * 64, False)
    record(db, 1, "how to bake", "b" * 64, True)
    record(db, 2, "how to bake", "b" * 64, False)  # a tie counts as relevant
    record(db, 2, "nothing good", "b" * 64, False)  # no relevant hit: not a query to keep
    target = tmp_path / "judged.json"
    assert export(db, names, target) == 2
    data = {q["query"]: q for q in json.loads(target.read_text())}
    assert data["whales singing"]["relevant"] == {"whale_song": 1}
    assert data["whales singing"]["judged"] == ["bread_recipe", "whale_song"]
    assert data["how to bake"]["relevant"] == {"bread_recipe": 1}
    assert all(q["type"] == "feedback" for q in data.values())

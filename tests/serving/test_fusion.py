"""Reciprocal rank fusion, term coverage and highlights (serving.fusion), on hand-built
ranked lists whose fused scores are worked out here from the RRF formula."""

from __future__ import annotations

import pytest

from dataflux_pipeline.serving.fusion import (
    Candidate,
    Leg,
    coverage,
    fuse,
    highlight,
    query_terms,
    segment_hit,
    term_pattern,
)

K = 60


def row(segment_id: str, **fields) -> dict:
    return {"segment_id": segment_id, "asset_id": segment_id.split(":", 1)[0], **fields}


def test_one_list_keeps_its_own_scores() -> None:
    vector = Leg(
        "vector",
        "text",
        [
            row("a:chunk:0", _distance=0.2),
            row("b:chunk:0", _distance=0.5),
            row("a:chunk:1", _distance=0.6),
        ],
    )
    groups = fuse([vector, Leg("bm25", "text", [])], K)  # an empty list does not count
    assert [(g.asset_id, g.score) for g in groups] == [("a", 0.8), ("b", 0.5)]
    a = groups[0].segments
    assert [c.row["segment_id"] for c in a] == ["a:chunk:0", "a:chunk:1"]
    assert [(c.fused, c.vector_score, c.text_score) for c in a] == [
        (0.8, 0.8, None),
        (0.4, 0.4, None),
    ]
    assert a[0].matched_by == ["vector:text"]

    bm25 = fuse([Leg("bm25", "text", [row("c:cue:0", _score=7.25), row("d:cue:3", _score=2)])])
    assert [(g.asset_id, g.score, g.segments[0].fused) for g in bm25] == [
        ("c", 7.25, 7.25),
        ("d", 2.0, 2.0),
    ]


def test_two_lists_fuse_on_ranks_scaled_to_one() -> None:
    bm25 = Leg("bm25", "text", [row("b:chunk:0", _score=7.5), row("a:chunk:1", _score=3.0)])
    vector = Leg(
        "vector",
        "text",
        [
            row("a:chunk:0", _distance=0.1),
            row("c:chunk:0", _distance=0.3),
            row("b:chunk:0", _distance=0.4),
        ],
    )
    groups = fuse([bm25, vector], K)
    scale = 2 / (K + 1)  # first in both lists
    expected = {
        "a": (1 / (K + 2) + 1 / (K + 1)) / scale,  # 2nd in bm25 (another segment), 1st in vector
        "b": (1 / (K + 1) + 1 / (K + 3)) / scale,
        "c": (1 / (K + 2)) / scale,
    }
    assert [g.asset_id for g in groups] == ["a", "b", "c"]
    for g in groups:
        assert g.score == round(expected[g.asset_id], 6)
    assert groups[0].score == 0.991935 and groups[2].score == 0.491935

    a0, a1 = groups[0].segments
    assert a0.row["segment_id"] == "a:chunk:0" and a0.fused == pytest.approx(0.5)
    assert (a0.vector_score, a0.text_score, a0.matched_by) == (0.9, None, ["vector:text"])
    assert a1.fused == pytest.approx((1 / (K + 2)) / scale)
    assert (a1.vector_score, a1.text_score, a1.matched_by) == (None, 3.0, ["bm25:text"])
    (b0,) = groups[1].segments  # matched by both lists: both scores, both legs
    assert (b0.text_score, b0.vector_score) == (7.5, 0.6)
    assert b0.matched_by == ["bm25:text", "vector:text"]
    assert b0.fused == pytest.approx(expected["b"])


def test_weights_scale_a_list_contribution_and_an_asset_takes_its_best() -> None:
    # b's only full-text hit holds half the query terms: weight 0.5 ** 3
    bm25 = Leg("bm25", "text", [row("b:chunk:0", _score=9.0)], weights=[0.125])
    vector = Leg(
        "vector", "text", [row("a:chunk:0", _distance=0.2), row("b:chunk:0", _distance=0.3)]
    )
    groups = fuse([bm25, vector], K)
    scale = 2 / (K + 1)
    # b's weak full-text hit still adds to its second place in the vector list
    assert [g.asset_id for g in groups] == ["b", "a"]
    assert groups[0].score == round((0.125 / (K + 1) + 1 / (K + 2)) / scale, 6) == 0.554435
    assert groups[1].score == round((1 / (K + 1)) / scale, 6) == 0.5
    unweighted = fuse([Leg("bm25", "text", bm25.rows), vector], K)
    assert unweighted[0].asset_id == "b" and unweighted[0].score == 0.991935

    # an asset's first row fixes its rank; its best weight in that list counts
    weak_first = Leg(
        "bm25",
        "text",
        [row("a:chunk:1", _score=5.0), row("a:chunk:0", _score=4.0), row("b:chunk:0", _score=1)],
        weights=[0.1, 1.0, 1.0],
    )
    groups = fuse([weak_first, vector], K)
    assert groups[0].asset_id == "a"
    assert groups[0].score == round((1 / (K + 1) + 1 / (K + 1)) / scale, 6) == 1.0
    a_segments = {c.row["segment_id"]: c.fused for c in groups[0].segments}
    assert a_segments["a:chunk:1"] == pytest.approx((0.1 / (K + 1)) / scale)
    assert a_segments["a:chunk:0"] == pytest.approx((1 / (K + 2) + 1 / (K + 1)) / scale)


def test_ties_break_on_asset_id_and_no_lists_is_no_groups() -> None:
    legs = [
        Leg("vector", "text", [row("b:x:0", _distance=0.1), row("a:x:0", _distance=0.2)]),
        Leg("vector", "clip", [row("a:x:1", _distance=0.1), row("b:x:1", _distance=0.2)]),
    ]
    groups = fuse(legs, K)
    assert [g.asset_id for g in groups] == ["a", "b"] and groups[0].score == groups[1].score
    assert fuse([]) == [] and fuse([Leg("bm25", "text", [])]) == []


def test_coverage_counts_stems_as_word_prefixes() -> None:
    assert coverage("Whales migrate south every winter", ["whale", "migrat"]) == 1.0
    assert coverage("The night sky", ["whale", "sky"]) == 0.5
    assert coverage("Fresh berries", ["berri"]) == 1.0  # stemmer's y -> i, checked without i
    assert coverage("try it", ["tri"]) == 0.0  # three letters: kept as they are
    assert coverage("fishing", ["fish", "bait", "rod", "reel"]) == 0.25
    assert coverage(None, ["whale"]) == 0.0
    assert coverage("anything", []) == 1.0


def test_query_terms_drop_stop_words_longest_first() -> None:
    assert query_terms("What is the Whale singing?") == ["singing", "whale"]
    assert query_terms("how to do it") == []


def test_term_pattern_marks_whole_words_starting_with_a_term() -> None:
    pattern = term_pattern(["whale", "c++"])
    assert [m.group(0) for m in pattern.finditer("Whales like C++ code; narwhale no")] == [
        "Whales",
        "C++",
    ]
    assert term_pattern([]) is None and term_pattern(["", ""]) is None


def test_highlight_marks_terms_in_the_best_window() -> None:
    pattern = term_pattern(["whale", "song"])
    assert highlight("Blue whales sing long songs", pattern) == (
        "Blue <mark>whales</mark> sing long <mark>songs</mark>"
    )
    assert highlight("nothing to see", pattern) is None
    assert highlight(None, pattern) is None and highlight("whale", None) is None

    # a lone "whale" at the start loses to the window further on holding both terms
    text = "whale " + "filler " * 100 + "the whale and the song" + " filler" * 100
    found = highlight(text, pattern)
    later = text.index("the whale")  # 706
    start = text.rfind(" ", 0, later + 4 - 50) + 1  # a window starts on a word
    assert start == 657
    assert found.startswith("…filler ") and found.endswith("…")
    assert found.count("<mark>") == 2 and "<mark>whale</mark> and the <mark>song</mark>" in found
    plain = found.replace("<mark>", "").replace("</mark>", "")
    assert plain == "…" + text[start : start + 200] + "…"


def test_segment_hit_carries_scores_times_and_thumbnail_url() -> None:
    cand = Candidate(
        row("a:keyframe:2", kind="keyframe", start_s=4.0, end_s=6.5, text="A whale breaches")
        | {"thumbnail": "thumbnails/aa/a/kf2.jpg"},
        "visual",
        fused=0.12345678,
        vector_score=0.9,
        matched_by=["vector:visual"],
    )
    hit = segment_hit(cand, term_pattern(["whale"]))
    assert (hit.segment_id, hit.kind, hit.space, hit.score) == (
        "a:keyframe:2",
        "keyframe",
        "visual",
        0.123457,
    )
    assert (hit.start_s, hit.end_s, hit.vector_score, hit.text_score) == (4.0, 6.5, 0.9, None)
    assert hit.highlight == "A <mark>whale</mark> breaches"
    assert hit.thumbnail_url == "/thumbnails/aa/a/kf2.jpg" and hit.matched_by == ["vector:visual"]

"""The error rates that the speech and OCR tests hold models to."""

import pytest

from dataflux_pipeline.cli.samples.scoring import (
    character_error_rate,
    edit_distance,
    word_error_rate,
    words,
)


def test_edit_distance_counts_each_insertion_deletion_and_substitution() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance(["a", "b"], ["a", "b"]) == 0


def test_word_error_rate_ignores_case_and_punctuation_not_word_splits() -> None:
    assert words("Smoke-stack, SMOKESTACK!") == ["smoke", "stack", "smokestack"]
    # one substitution and one insertion over three reference words
    assert word_error_rate("the cat sat", "The bat sat on") == pytest.approx(2 / 3)
    assert word_error_rate("smokestack", "smoke stack") == 2.0


def test_character_error_rate_takes_whitespace_runs_as_one_space() -> None:
    assert character_error_rate("Open daily\n7am", "Open  daily 7am") == 0.0
    assert character_error_rate("bakery", "bakers") == pytest.approx(1 / 6)
    assert character_error_rate("", "noise") == 5.0

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataflux_pipeline.cli.samples import write_image
from dataflux_pipeline.models.clip import ClipEmbedder
from dataflux_pipeline.models.text import TextEmbedder, load_text_embedder
from dataflux_pipeline.settings import Settings

TEXTS = [
    "Humpback whales sing long songs that carry for miles under the sea.",
    "how to bake bread",
    "Saturn's rings are made of ice and rock. " * 60,  # longer than the 256-token limit
    "x",
    "Ünïcödé and emoji 🐋 survive tokenization",
]


def test_minilm_matches_sentence_transformers() -> None:
    from sentence_transformers import SentenceTransformer

    folder = Settings().text_model
    ours = load_text_embedder(folder, "cpu", 2).encode(TEXTS)
    theirs = SentenceTransformer(folder, device="cpu").encode(TEXTS, normalize_embeddings=True)
    assert ours.shape == (5, 384)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.9999, cosine
    assert load_text_embedder(folder, "cpu", 2) is load_text_embedder(folder, "cpu", 2)


def test_text_model_missing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="DATAFLUX_TEXT_MODEL"):
        TextEmbedder(tmp_path)


def test_clip_loading_code_on_a_tiny_random_model(tiny_clip: Path, tmp_path: Path) -> None:
    clip = ClipEmbedder(tiny_clip, device="cpu", batch_size=2)
    images = [write_image(tmp_path / f"{i}.jpg", (40 * i, 90, 200), seed=i) for i in range(3)]
    vectors = clip.encode_images(images)
    texts = clip.encode_texts(["a red ball", "a whale in the sea", "a red ball"])
    assert vectors.shape == (3, 16) and texts.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(texts[0], texts[2], atol=1e-6)  # same text, other batch padding
    assert not np.allclose(texts[0], texts[1])
    assert clip.encode_images([]).shape == (0, 16)

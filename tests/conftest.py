from __future__ import annotations

from pathlib import Path

import pytest

from dataflux_pipeline.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "data", settle_seconds=0.0, batch_size=64)


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES


def _byte_chars() -> list[str]:
    """CLIP's byte-to-unicode table, so the tokenizer can spell any text without merges."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    extra = [b for b in range(256) if b not in keep]
    return [chr(c) for c in keep] + [chr(256 + n) for n in range(len(extra))]


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """A random-weight CLIP built from a config, saved the way a real model folder is."""
    import json

    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    folder = tmp_path_factory.mktemp("tiny-clip")
    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)} | {
        c + "</w>": len(chars) + i for i, c in enumerate(chars)
    }
    bos, eos = len(vocab), len(vocab) + 1
    vocab |= {"<|startoftext|>": bos, "<|endoftext|>": eos}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))
    small = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config=small
        | {"vocab_size": len(vocab), "intermediate_size": 37, "max_position_embeddings": 77}
        | {"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": eos},
        vision_config=small | {"image_size": 32, "patch_size": 8, "intermediate_size": 37},
        projection_dim=16,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
    )
    processor.save_pretrained(folder)
    return folder

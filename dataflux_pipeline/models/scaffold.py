"""Random-weight models built from a config, for tests and benchmarks on machines that
cannot download weights. They exercise the real loading code; their outputs mean nothing."""

from __future__ import annotations

import json
from pathlib import Path

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 37,
}


def _byte_chars() -> list[str]:
    """CLIP's byte-to-unicode table, so the tokenizer can spell any text without merges."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    extra = [b for b in range(256) if b not in keep]
    return [chr(c) for c in keep] + [chr(256 + n) for n in range(len(extra))]


def clip_tokenizer(folder: Path):
    """A byte-level CLIP tokenizer with no merges, saved into `folder`."""
    from transformers import CLIPTokenizer

    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab |= {c + "</w>": len(chars) + i for i, c in enumerate(chars)}
    vocab |= {"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))


def random_clip(folder: Path, tiny: bool = True) -> Path:
    """A CLIP model folder: tiny (tests) or ViT-B/32-shaped (benchmarks), random weights."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = clip_tokenizer(folder)
    size = len(tokenizer.get_vocab())
    special = {"bos_token_id": size - 2, "eos_token_id": size - 1, "pad_token_id": size - 1}
    text = {"vocab_size": size, **special} | (
        TINY | {"max_position_embeddings": 77} if tiny else {}
    )
    vision = (
        TINY | {"image_size": 32, "patch_size": 8}
        if tiny
        else {"image_size": 224, "patch_size": 32}
    )
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16 if tiny else 512)
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    side = 32 if tiny else 224
    processor = CLIPImageProcessor(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}
    )
    CLIPProcessor(image_processor=processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder

"""The query-time text encoder: the pipeline's MiniLM, made cheaper for one short query.

A query is one sentence at batch size one, where eager PyTorch spends more time
dispatching ops than multiplying. On CPUs with AVX512-BF16 the service keeps a bfloat16
copy of the same weights, traced and frozen with TorchScript: 11.7 ms -> 6.2 ms a query on
the 2-core bench host, vectors within 1e-4 cosine of the float32 ones. The copy is checked
against the float32 model at load, alone and as a padded batch (the service embeds
concurrent queries together), and dropped (with a log line) if it strays."""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import torch

log = logging.getLogger(__name__)
PROBES = ["whales", "how long do you bake a loaf of bread", "INV-2024-0917 " * 20]
MIN_COSINE = 0.999
MAX_BATCH = 32  # queries per traced call; longer lists go through the float32 model


def bf16_supported() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class QueryEncoder:
    """`encode([text]) -> (1, dim)` unit vectors, like TextEmbedder.encode."""

    def __init__(self, embedder, fast: bool = True) -> None:
        self.embedder = embedder
        self.space, self.dim, self.name = embedder.space, embedder.dim, embedder.name
        self.traced = None
        if fast and embedder.device.type == "cpu" and bf16_supported():
            self.traced = self._trace()

    def _tokens(self, texts: list[str]) -> dict:
        return self.embedder.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.embedder.max_length,
            return_tensors="pt",
        )

    @torch.inference_mode()
    def _trace(self):
        import copy
        import warnings

        model = copy.deepcopy(self.embedder.model).to(torch.bfloat16).eval()
        # Traced on a padded pair, so the graph keeps the attention-mask path that padded
        # batches need (an unpadded trace would freeze it out).
        sample = self._tokens(PROBES[:2])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(
                    model, (sample["input_ids"], sample["attention_mask"]), strict=False
                )
            traced = torch.jit.freeze(traced)
        except Exception as exc:  # a model TorchScript cannot trace: stay on float32
            log.warning("query encoder: tracing failed (%s); using float32", exc)
            return None
        self.traced = traced
        reference = self.embedder.encode(PROBES)
        alone = np.concatenate([self._fast([text]) for text in PROBES])
        for got in (alone, self._fast(PROBES)):  # one at a time, and as one padded batch
            cosine = float(np.min(np.sum(got * reference, axis=1)))
            if cosine < MIN_COSINE:
                log.warning("query encoder: bf16 cosine %.5f; using float32", cosine)
                return None
        log.info("query encoder: bf16 TorchScript copy of %s", self.name)
        return traced

    @torch.inference_mode()
    def _fast(self, texts: list[str]) -> np.ndarray:
        tokens = self._tokens(texts)
        out = self.traced(tokens["input_ids"], tokens["attention_mask"])
        hidden = (out["last_hidden_state"] if isinstance(out, dict) else out[0]).float()
        mask = tokens["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.traced is None or len(texts) > MAX_BATCH:
            return self.embedder.encode(texts)
        return self._fast(texts)


@lru_cache(maxsize=2)
def query_encoder(folder: str, device: str, fast: bool) -> QueryEncoder:
    from dataflux_pipeline.models.text import load_text_embedder

    return QueryEncoder(load_text_embedder(folder, device), fast)

"""Near-duplicate images by perceptual-hash Hamming distance, across the whole catalog."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BLOCK = 100_000  # catalog hashes compared per step, so memory stays flat as it grows


def _as_ints(hashes: Sequence[str]) -> np.ndarray:
    return np.array([int(h, 16) for h in hashes], dtype=np.uint64)


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(x.view(np.uint8), axis=-1).reshape(*x.shape, 64).sum(-1)


def near_duplicates(
    new: Sequence[tuple[str, str]], catalog: Sequence[tuple[str, str]], max_distance: int
) -> list[tuple[str, str, int]]:
    """(new id, catalog id, distance) for every pair within `max_distance` bits, itself
    excluded. Inputs are (asset_id, 64-bit phash as hex)."""
    if not new or not catalog:
        return []
    new_ids, new_hashes = zip(*new, strict=True)
    cat_ids, cat_hashes = zip(*catalog, strict=True)
    a = _as_ints(new_hashes)
    pairs = []
    for start in range(0, len(cat_ids), BLOCK):
        b = _as_ints(cat_hashes[start : start + BLOCK])
        dist = _popcount(a[:, None] ^ b[None, :])
        for i, j in zip(*np.nonzero(dist <= max_distance), strict=True):
            if new_ids[i] != cat_ids[start + j]:
                pairs.append((new_ids[i], cat_ids[start + j], int(dist[i, j])))
    return pairs
